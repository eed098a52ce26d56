#!/usr/bin/env python3
"""Lists the problems of a HumanEval-JS suite whose prompt examples contradict its tests.

    python3 benches/suite_examples_vs_tests.py ../shared/eval/humaneval_js_dev.jsonl

The loop takes a prompt's examples as the task's check (issue 12), so an example that
disagrees with the suite's own tests makes a right answer fail that check. For every
example `>>> f(ARGS)` followed by its value (or `f(ARGS) ➞ VALUE`, `=>`, `==`), finds the
test assertion with the same arguments and prints the pair when the values differ after
normalising Python spellings (True/None, tuples, quotes) and whitespace outside strings.
"""

import json
import re
import sys

STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def norm(text):
    text = text.strip().rstrip(";").strip()
    text = text.replace("True", "true").replace("False", "false").replace("None", "null")
    text = text.replace("'", '"').replace("(", "[").replace(")", "]")
    out, last = [], 0
    for m in STRING.finditer(text):
        out.append(re.sub(r"\s+", "", text[last : m.start()]))
        out.append(m.group(0))
        last = m.end()
    out.append(re.sub(r"\s+", "", text[last:]))
    return "".join(out)


def main(path):
    found = 0
    for line in open(path, encoding="utf-8"):
        problem = json.loads(line)
        entry = re.escape(problem["entry_point"])
        tests = {
            norm(m.group(1)): m.group(2)
            for m in re.finditer(
                r"assert\.\w+\(candidate\((.*?)\),\s*(.*?)\);\s*$", problem["tests"], re.M
            )
        }
        prompt = problem["prompt"]
        examples = re.findall(r">>>\s*%s\((.*)\)\s*\n\s*\*\s*([^>\s*].*)" % entry, prompt)
        examples += re.findall(r"%s\((.*?)\)\s*(?:==>|=>|==|➞|->)\s*(.+)" % entry, prompt)
        for args, want in examples:
            got = tests.get(norm(args))
            if got is not None and norm(got) != norm(want):
                found += 1
                print(f"{problem['task_id']} {problem['entry_point']}({args}): "
                      f"prompt says {want.strip()}, tests say {got}")
    print(f"{found} example(s) contradict the tests")


if __name__ == "__main__":
    main(sys.argv[1])
