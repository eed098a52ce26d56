#!/usr/bin/env python3
"""Does the loop's first coder request lose answers the model alone gets? The same local model
completes every problem of a HumanEval-JS suite under two system prompts, greedily
(temperature 0, so that the prompt is the only difference):

- `direct`: what `skillforge bench baseline` asks the model alone;
- `loop`: prompts/coder_complete.md as the agent renders it for a stub with examples and no
  library (the loop's first round).

Each answer is judged by the problem's own tests under node, its code taken as `bench
baseline` takes a direct answer (the fenced block declaring the entry point, else the prompt
completed with the reply). Prints one JSON line per problem, then the totals and the
problems each prompt alone passes.

    python3 benches/first_prompt_probe.py [--suite ../shared/eval/humaneval_js_dev.jsonl] \
        [--model qwen2.5-coder-0.5b] [--limit N]
"""
import argparse, json, os, re, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from composition_probe import ROOT, ask, start_server  # noqa: E402

DIRECT = "Complete the JavaScript function. Answer with the whole function in one ```javascript code block."


def loop_system():
    """prompts/coder_complete.md without its optional parts (no environment, no library, examples given)."""
    text = open(os.path.join(ROOT, 'prompts/coder_complete.md')).read()
    text = re.sub(r'\{% if .*?%\}.*?\{% endif %\}', '', text, flags=re.S)
    return text.strip()


def code_of(problem, reply):
    entry = problem['entry_point']
    declares = lambda code: f'function {entry}' in code or f'{entry} =' in code
    blocks = re.findall(r'```[a-z]*\n(.*?)(?:```|$)', reply, re.S)
    for block in blocks:
        if declares(block):
            return block
    body = blocks[0] if blocks else reply
    return body if declares(body) else problem['prompt'] + body


def passes(problem, reply):
    program = code_of(problem, reply) + '\n' + problem['tests']
    try:
        return subprocess.run(['node', '-e', program], capture_output=True, timeout=30).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--suite', default=os.path.join(ROOT, '../shared/eval/humaneval_js_dev.jsonl'))
    parser.add_argument('--model', default='qwen2.5-coder-0.5b')
    parser.add_argument('--limit', type=int)
    args = parser.parse_args()
    problems = [json.loads(line) for line in open(args.suite)][:args.limit]
    systems = {'direct': DIRECT, 'loop': loop_system()}
    server, url = start_server(args.model)
    passed = {form: set() for form in systems}
    try:
        for problem in problems:
            row = {'task_id': problem['task_id']}
            for form, system in systems.items():
                started = time.time()
                msgs = [{'role': 'system', 'content': system}, {'role': 'user', 'content': problem['prompt']}]
                ok = passes(problem, ask(url, msgs, 0.0, max_tokens=768))
                row[form] = ok
                row[form + '_seconds'] = round(time.time() - started)
                if ok:
                    passed[form].add(problem['task_id'])
            print(json.dumps(row), flush=True)
    finally:
        server.stdin.close()
        server.wait()
    for form in systems:
        only = sorted(passed[form] - set.union(*(p for f, p in passed.items() if f != form)))
        print(f'{form}: passes {len(passed[form])}/{len(problems)}; only this prompt: {only}', file=sys.stderr)


if __name__ == '__main__':
    main()
