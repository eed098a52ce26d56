#!/usr/bin/env node
// Lists the problems of a HumanEval-JS suite that no JavaScript function can pass.
//
//     node benches/suite_unsatisfiable.js ../shared/eval/humaneval_js_dev.jsonl
//
// A test translated from Python can assert two different results for what JavaScript
// reads as the same call: Python's `3.0` is a float and `3` an int, JavaScript's are one
// number. For each one-line assertion `assert.deepStrictEqual(candidate(ARGS), EXPECTED)`
// the arguments and the expected value are evaluated in a context of their own and compared as
// values; a call asserted with two different results is printed. Every answer fails such a
// problem, so a skill admitted for it counts as a wrong admission whatever its code.

const fs = require("node:fs");
const vm = require("node:vm");
const { isDeepStrictEqual } = require("node:util");

const ASSERTION = /^\s*assert\.deepStrictEqual\(candidate\((.*)\),\s*(.*)\);\s*$/;

// One context for every value, so that values compare by content, not by the realm
// (and so the Array prototype) they were made in.
const CONTEXT = vm.createContext({});

function value(source) {
  return vm.runInContext(`[${source}]`, CONTEXT, { timeout: 1000 });
}

function contradictions(problem) {
  const seen = [];
  const found = [];
  for (const line of problem.tests.split("\n")) {
    const m = ASSERTION.exec(line);
    if (!m) continue;
    let args;
    let expected;
    try {
      args = value(m[1]);
      [expected] = value(m[2]);
    } catch {
      continue; // not a literal call: left out
    }
    for (const earlier of seen) {
      if (isDeepStrictEqual(earlier.args, args) && !isDeepStrictEqual(earlier.expected, expected)) {
        found.push([earlier.line.trim(), line.trim()]);
      }
    }
    seen.push({ args, expected, line });
  }
  return found;
}

function main(path) {
  let count = 0;
  for (const line of fs.readFileSync(path, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const problem = JSON.parse(line);
    const found = contradictions(problem);
    if (found.length === 0) continue;
    count += 1;
    console.log(`${problem.task_id} (${problem.entry_point}): one call, two results`);
    for (const [a, b] of found) console.log(`  ${a}\n  ${b}`);
  }
  console.log(`${count} problem(s) no JavaScript function can pass`);
}

if (process.argv.length !== 3) {
  console.error("usage: node benches/suite_unsatisfiable.js SUITE.jsonl");
  process.exit(2);
}
main(process.argv[2]);
