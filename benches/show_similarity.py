#!/usr/bin/env python3
"""Where to put AgentConfig::show_similarity: the cosine similarity (the library's own
embedder, through `skillforge embed --json`) between a task's text and a skill's description,
for pairs that are unrelated and pairs where the task builds on the skill.

Unrelated: every ordered pair of distinct problems of the HumanEval-JS dev suite (problem i's
prompt against problem j's JSDoc description). Related: the compositional suite's tasks against
the earlier tasks whose entry point their prompt names (the skills they are meant to call).

Usage: benches/show_similarity.py [path/to/skillforge]   (from the project's root)
"""
import json
import re
import subprocess
import sys

BINARY = sys.argv[1] if len(sys.argv) > 1 else "target/debug/skillforge"


def description(prompt):
    """The JSDoc's prose, up to its first example: what a stored skill's description holds."""
    m = re.search(r"/\*\*(.*?)\*/", prompt, re.S)
    lines = [re.sub(r"^\s*\*\s?", "", l).strip() for l in (m.group(1) if m else prompt).splitlines()]
    prose = []
    for line in lines:
        if line.startswith(">>>") or line.lower().startswith("example") or line.startswith("@"):
            break
        prose.append(line)
    return " ".join(l for l in prose if l)


def suite(path):
    return [json.loads(line) for line in open(path)]


dev = suite("../shared/eval/humaneval_js_dev.jsonl")
comp = suite("eval/compositional.jsonl")
tasks = dev + comp
texts = [t for task in tasks for t in (task["prompt"], description(task["prompt"]))]
out = subprocess.run([BINARY, "embed", "--json", *texts], capture_output=True, text=True, check=True)
vectors = json.loads(out.stdout)["vectors"]
prompt_vec = vectors[0::2]
desc_vec = vectors[1::2]


def cos(a, b):
    return sum(x * y for x, y in zip(a, b))


n = len(dev)
unrelated = [cos(prompt_vec[i], desc_vec[j]) for i in range(n) for j in range(n) if i != j]
related = []
for k, task in enumerate(comp):
    for j, other in enumerate(comp):
        if j != k and re.search(r"\b" + re.escape(other["entry_point"]) + r"\b", task["prompt"]):
            related.append(cos(prompt_vec[n + k], desc_vec[n + j]))
print(f"{len(unrelated)} unrelated pairs, {len(related)} related pairs (all of them named by the task)")
print("threshold  unrelated shown  related shown by similarity alone")
for threshold in (0.4, 0.45, 0.5, 0.55, 0.6):
    u = sum(c >= threshold for c in unrelated) / len(unrelated)
    r = sum(c >= threshold for c in related)
    print(f"{threshold:9.2f}  {u:15.1%}  {r}/{len(related)}")
