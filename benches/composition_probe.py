#!/usr/bin/env python3
"""How often the local model's answer to a compositional stub calls the library function it
needs, for two ways of showing the library in the completion prompt:

- `list`: the functions listed in the system message by signature and description (the
  agent's completion prompt);
- `file`: their code, under a one-line JSDoc of the description, above the stub in the user
  message, as a file the stub ends (tried in commit 8a6d772 and reverted).

For each of the seven tasks of eval/compositional.jsonl that build on earlier ones, one
reply per form and temperature, straight from the local llama.cpp server (started here as
src/llm/local.rs starts it, one thread). Each reply is judged by its task function alone
(comments stripped): does it call a needed library function, does the reply repeat one
(which the agent's extraction drops), and does that function, run on node beside the
library's versions, pass the suite's hidden tests. Prints one JSON line per reply, then the
totals.

    python3 benches/composition_probe.py [--forms file,list] [--temperatures 0.2,0.7] [--model qwen2.5-coder-1.5b]
"""
import argparse, collections, glob, json, os, re, subprocess, sys, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get('SKILLFORGE_CACHE') or os.path.expanduser('~/.cache/skillforge')
SUITE = {json.loads(l)['entry_point']: json.loads(l) for l in open(os.path.join(ROOT, 'eval/compositional.jsonl'))}

# The library as the agent would hold it after the foundations: (signature, description, code).
LIB = {
    'mean': ("mean(xs: number[]) -> number", "The arithmetic mean of an array of numbers; 0 for an empty array.",
             "function mean(xs) {\n  if (xs.length === 0) return 0;\n  return xs.reduce((a, b) => a + b, 0) / xs.length;\n}"),
    'variance': ("variance(xs: number[]) -> number", "The population variance of an array of numbers.",
                 "function variance(xs) {\n  if (xs.length === 0) return 0;\n  const m = mean(xs);\n  return mean(xs.map((x) => (x - m) ** 2));\n}"),
    'std_dev': ("std_dev(xs: number[]) -> number", "The population standard deviation of an array of numbers.",
                "function std_dev(xs) {\n  return Math.sqrt(variance(xs));\n}"),
    'tokenize': ("tokenize(text: string) -> string[]", "Split a text into its lowercase words (runs of letters a-z and digits).",
                 "function tokenize(text) {\n  return text.toLowerCase().match(/[a-z0-9]+/g) || [];\n}"),
    'score_word': ("score_word(word: string) -> number", "The sum of a word's letters' positions in the alphabet.",
                   "function score_word(word) {\n  let s = 0;\n  for (const c of word.toLowerCase()) if (c >= 'a' && c <= 'z') s += c.charCodeAt(0) - 96;\n  return s;\n}"),
}
DEPS = {'mean': [], 'variance': ['mean'], 'std_dev': ['mean', 'variance'], 'tokenize': [], 'score_word': []}
TASKS = {'variance': ['mean'], 'std_dev': ['variance'], 'z_scores': ['mean', 'std_dev'],
         'word_counts': ['tokenize'], 'unique_words': ['tokenize'], 'rank_words': ['score_word'],
         'best_word': ['tokenize', 'score_word']}
HEAD = ("Complete the JavaScript function below so that it does what its comment says.\n"
        "Answer with the whole function, its comment included, in one ```javascript code block.\n"
        "No example calls, no console.log, no import, require or export.\n")


def messages(form, task, callees):
    stub = SUITE[task]['prompt'].rstrip()
    if form == 'list':
        system = HEAD + "\nThese library functions exist; call them by name where they help, never redefine them:\n" + \
            ''.join(f"- {LIB[c][0]}: {LIB[c][1]}\n" for c in callees)
        return [{'role': 'system', 'content': system}, {'role': 'user', 'content': stub}]
    system = HEAD + ("\nThe functions above the stub are library functions that already exist: call them where "
                     "they help, never repeat or redefine them. Answer with the stub's function only.\n")
    above = ''.join(f"/**\n * {LIB[c][1]}\n */\n{LIB[c][2]}\n\n" for c in callees)
    return [{'role': 'system', 'content': system}, {'role': 'user', 'content': above + stub}]


def start_server(model_name):
    source = open(os.path.join(ROOT, 'src/llm/local.rs')).read()
    program = re.search(r'const SERVER_PROGRAM: &str = r#"(.*?)"#;', source, re.S).group(1)
    python = glob.glob(os.path.join(CACHE, 'xllamacpp-venv-*/bin/python'))[0]
    model = os.path.join(CACHE, f'models/{model_name}-instruct-q4_k_m.gguf')
    server = subprocess.Popen([python, '-c', program, model, 'probe', '1', '4096'], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in server.stdout:
        if line.startswith('SKILLFORGE_LISTENING '):
            return server, line.split()[1]
    sys.exit('the local model server did not start (run scripts/setup llm)')


def ask(url, msgs, temperature):
    body = json.dumps({'model': 'probe', 'messages': msgs, 'temperature': temperature, 'max_tokens': 400}).encode()
    request = urllib.request.Request(url + '/v1/chat/completions', body, {'Content-Type': 'application/json'})
    return json.load(urllib.request.urlopen(request, timeout=900))['choices'][0]['message']['content']


def task_function(code, task):
    """The task's function declaration, by brace matching, comments stripped; None if absent."""
    code = re.sub(r'//[^\n]*', '', re.sub(r'/\*.*?\*/', '', code, flags=re.S))
    m = re.search(r'function\s+' + task + r'\s*\(', code)
    if not m or '{' not in code[m.end():]:
        return None
    depth = 0
    for j in range(code.index('{', m.end()), len(code)):
        depth += {'{': 1, '}': -1}.get(code[j], 0)
        if depth == 0:
            return code[m.start():j + 1]
    return None


def judge(task, callees, code):
    fn = task_function(code, task)
    body = re.sub(r'function\s+\w+\s*\(', '(', fn or '')
    calls = [c for c in callees if re.search(r'(?<![\w.])' + c + r'\s*\(', body)]
    repeats = [c for c in callees if re.search(r'function\s+' + c + r'\s*\(', code)]
    needed = []
    for c in callees:
        needed += [d for d in DEPS[c] + [c] if d not in needed]
    passes = False
    if fn:
        program = '\n'.join(LIB[d][2] for d in needed) + '\n' + fn + '\n' + SUITE[task]['tests']
        passes = subprocess.run(['node', '-e', program], capture_output=True, timeout=30).returncode == 0
    return calls, repeats, passes


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--forms', default='file,list')
    parser.add_argument('--temperatures', default='0.2,0.7')
    parser.add_argument('--model', default='qwen2.5-coder-0.5b',
                        help='the local model, as SKILLFORGE_LOCAL_MODEL names it')
    args = parser.parse_args()
    server, url = start_server(args.model)
    totals = collections.Counter()
    try:
        for form in args.forms.split(','):
            for temperature in map(float, args.temperatures.split(',')):
                for task, callees in TASKS.items():
                    started = time.time()
                    reply = ask(url, messages(form, task, callees), temperature)
                    code = '\n'.join(re.findall(r'```(?:javascript|js)?\n(.*?)```', reply, re.S)) or reply
                    calls, repeats, passes = judge(task, callees, code)
                    print(json.dumps({'form': form, 'temperature': temperature, 'task': task, 'calls': calls,
                                      'repeats': repeats, 'passes': passes,
                                      'seconds': round(time.time() - started), 'code': code}), flush=True)
                    key = f'{form} t={temperature}'
                    totals[(key, 'replies')] += 1
                    totals[(key, 'calls a library function')] += bool(calls)
                    totals[(key, 'repeats a library function')] += bool(repeats)
                    totals[(key, 'passes the hidden tests')] += passes
    finally:
        server.stdin.close()
        server.wait()
    for (key, what), n in sorted(totals.items()):
        print(f'{key}: {what}: {n}', file=sys.stderr)


if __name__ == '__main__':
    main()
