// Smoke test of guest/skillforge-js.wasm without the Rust host, on node's
// WASI preview 1 with the `skillforge` imports written in JavaScript.
//
//   node guest/smoke.mjs            run every case, print what each produced
//   node guest/smoke.mjs --bench    also time a trivial call
//
// Exits non-zero if any expectation fails.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WASI } from 'node:wasi';

process.removeAllListeners('warning'); // node:wasi is "experimental"

// V8's optimised wasm frames for QuickJS's interpreter loop are larger than
// wasmtime's, so give node the native stack the host would (see README).
if (!process.execArgv.some((a) => a.startsWith('--stack-size'))) {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(process.execPath, ['--stack-size=4000', ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

const here = path.dirname(fileURLToPath(import.meta.url));
const module = await WebAssembly.compile(fs.readFileSync(path.join(here, 'skillforge-js.wasm')));
const utf8 = new TextDecoder('utf-8', { fatal: true }); // the guest must emit valid UTF-8
const encoder = new TextEncoder();
const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sf-smoke-'));

/**
 * Run one call. `input` is the stdin text, or an object: its `source` goes
 * after a header line holding the other fields as JSON; `host(name, args)`
 * returns the reply object for host.call; `wasiOverrides` replaces WASI
 * functions (given a `mem()` accessor); `snapshot` is linear memory to start
 * from (see snapshotAfterInit).
 */
function run(input, { host = () => ({ ok: true, value: null }), wasiOverrides, snapshot } = {}) {
  const file = path.join(tmpDir, 'input');
  if (typeof input !== 'string') {
    const { source = '', ...header } = input;
    input = `${JSON.stringify(header)}\n${source}`;
  }
  fs.writeFileSync(file, input);
  const fd = fs.openSync(file, 'r');
  const wasi = new WASI({ version: 'preview1', args: [], env: {}, stdin: fd, returnOnExit: true });
  let instance;
  const mem = () => new Uint8Array(instance.exports.memory.buffer);
  const text = (ptr, len) => utf8.decode(mem().slice(ptr, ptr + len));
  const out = { stdout: [], stderr: [], results: [], hostCalls: [] };
  const skillforge = {
    emit(kind, ptr, len) {
      [out.stdout, out.stderr, out.results][kind].push(text(ptr, len));
    },
    host_call(namePtr, nameLen, argsPtr, argsLen) {
      const name = text(namePtr, nameLen);
      const args = JSON.parse(text(argsPtr, argsLen));
      out.hostCalls.push([name, args]);
      const reply = encoder.encode(JSON.stringify(host(name, args)));
      const ptr = instance.exports.sf_alloc(reply.length);
      mem().set(reply, ptr); // after sf_alloc: memory may have grown
      return (BigInt(ptr) << 32n) | BigInt(reply.length);
    },
  };
  const wasiImport = { ...wasi.wasiImport };
  for (const [k, f] of Object.entries(wasiOverrides ?? {})) wasiImport[k] = f(mem);
  instance = new WebAssembly.Instance(module, { wasi_snapshot_preview1: wasiImport, skillforge });
  if (snapshot) {
    const memory = instance.exports.memory;
    memory.grow((snapshot.length - memory.buffer.byteLength) / 65536);
    mem().set(snapshot);
  }
  try {
    out.exit = wasi.start(instance);
  } catch (e) {
    out.trap = String(e);
  }
  fs.closeSync(fd);
  assert.equal(out.results.length, out.trap ? out.results.length : 1, 'exactly one result');
  out.result = out.results.length ? JSON.parse(out.results[0]) : undefined;
  return out;
}

/** Call `entry(...args)` of `source`; `opts.input` adds fields to stdin. */
const call = (source, entry = 'main', args = [], opts = {}) =>
  run({ source, entry, args, ...opts.input }, opts);

let failures = 0;
/** Run a case, print what it produced, count failures. */
function check(name, fn) {
  try {
    const out = fn();
    const shown = {};
    for (const k of ['result', 'stdout', 'stderr', 'hostCalls', 'trap', 'note']) {
      if (out[k] !== undefined && !(Array.isArray(out[k]) && out[k].length === 0 && k !== 'result')) shown[k] = out[k];
    }
    console.log(`ok   ${name}\n     ${JSON.stringify(shown)}`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}\n     ${e.stack}`);
  }
}
/** Assert an error result with this name (and message). */
function isErr(out, name, message) {
  assert.equal(out.trap, undefined, `trapped: ${out.trap}`);
  assert.equal(out.result.ok, false, JSON.stringify(out.result));
  assert.equal(out.result.error.name, name);
  if (message !== undefined) assert.equal(out.result.error.message, message);
  assert.equal(typeof out.result.error.stack, 'string');
}

check('sync entry returns a value', () => {
  const out = call('function add(a, b) { return { sum: a + b, s: `${a}+${b}` }; }', 'add', [2, 3]);
  assert.deepEqual(out.result, { ok: true, value: { sum: 5, s: '2+3' } });
  return out;
});

check('let/const/class entries resolve', () => {
  const out = call('const main = (x) => [x, typeof Thing]; class Thing {}', 'main', ['a']);
  assert.deepEqual(out.result, { ok: true, value: ['a', 'function'] });
  return out;
});

check('undefined return becomes null', () => {
  const out = call('function main() {}');
  assert.deepEqual(out.result, { ok: true, value: null });
  return out;
});

check('async entry', () => {
  const out = call(`
    async function twice(x) { await null; return x * 2; }
    async function main(x) { const a = await twice(x); const b = await Promise.all([twice(a), 1]); return { a, b }; }`,
  'main', [21]);
  assert.deepEqual(out.result, { ok: true, value: { a: 42, b: [84, 1] } });
  return out;
});

check('async entry that rejects', () => {
  const out = call('async function main() { await null; throw new RangeError("late"); }');
  isErr(out, 'RangeError', 'late');
  return out;
});

check('promise never settled', () => {
  const out = call('function main() { return new Promise(() => {}); }');
  isErr(out, 'Error', 'promise never settled');
  return out;
});

check('thrown Error: name, message, stack', () => {
  const out = call('function inner() { throw new TypeError("bad thing"); }\nfunction main() { inner(); }');
  isErr(out, 'TypeError', 'bad thing');
  assert.match(out.result.error.stack, /inner \(skill\.js:1/);
  assert.match(out.result.error.stack, /main \(skill\.js:2/);
  return out;
});

check('custom error class', () => {
  const out = call('class MyError extends Error { constructor(m) { super(m); this.name = "MyError"; } }\nfunction main() { throw new MyError("mine"); }');
  isErr(out, 'MyError', 'mine');
  return out;
});

check('thrown non-Error values', () => {
  const values = ['42', '"text"', '{ a: 1 }', 'null', 'undefined', 'Symbol("s")', '{ toString() { throw 1; } }'];
  const results = values.map((v) => call(`function main() { throw ${v}; }`).result);
  assert.deepEqual(results.map((r) => [r.ok, r.error.name, r.error.message, r.error.stack]), [
    [false, 'Error', '42', ''], [false, 'Error', 'text', ''], [false, 'Error', '[object Object]', ''],
    [false, 'Error', 'null', ''], [false, 'Error', 'undefined', ''], [false, 'Error', 'Symbol(s)', ''],
    [false, 'Error', '[value that cannot be converted to a string]', '']]);
  return { result: results };
});

check('syntax error in the source', () => {
  const out = call('function main( {');
  isErr(out, 'SyntaxError');
  assert.match(out.result.error.stack, /skill\.js:1/);
  return out;
});

check('console capture', () => {
  const out = call(`function main() {
    console.log("plain", 1, 1.5, true, null, undefined, { x: [1, "b"] }, [1, 2], 10n, Symbol("s"), function foo() {}, () => 1);
    console.info("info"); console.debug("debug");
    console.warn("warn", { y: 1 });
    const cyc = {}; cyc.self = cyc; console.error("cyclic", cyc, new Error("err"));
    console.log(); console.log("\\ud800 lone", "é ü 漢字 🎉");
    return 1; }`);
  assert.deepEqual(out.stdout, [
    'plain 1 1.5 true null undefined {"x":[1,"b"]} [1,2] 10n Symbol(s) [Function: foo] [Function (anonymous)]',
    'info', 'debug', '', '\ufffd lone é ü 漢字 🎉']);
  assert.equal(out.stderr[0], 'warn {"y":1}');
  assert.match(out.stderr[1], /^cyclic \[object Object\] Error: err\n {4}at main \(skill\.js:5/);
  assert.deepEqual(out.result, { ok: true, value: 1 });
  return out;
});

check('lone surrogate in the result is escaped', () => {
  const out = call('function main() { return "a\\ud800b"; }');
  assert.deepEqual(out.result, { ok: true, value: 'a\ud800b' });
  return out;
});

const host = (name, args) => name === 'math.add'
  ? { ok: true, value: { sum: args.a + args.b } }
  : { ok: false, error: { name: 'CapabilityDenied', message: `${name} is not granted` } };

check('host.call: ok reply', () => {
  const out = call('function main(a) { return host.call("math.add", { a, b: 3 }).sum; }', 'main', [2], { host });
  assert.deepEqual(out.hostCalls, [['math.add', { a: 2, b: 3 }]]);
  assert.deepEqual(out.result, { ok: true, value: 5 });
  return out;
});

check('host.call: error reply, caught', () => {
  const out = call(`function main() {
    try { host.call("fs.read"); } catch (e) { return [e instanceof Error, e.name, e.message, typeof e.stack]; } }`,
  'main', [], { host });
  assert.deepEqual(out.hostCalls, [['fs.read', null]]);
  assert.deepEqual(out.result, { ok: true, value: [true, 'CapabilityDenied', 'fs.read is not granted', 'string'] });
  return out;
});

check('host.call: error reply, uncaught', () => {
  const out = call('function main() { host.call("net.fetch", ["x"]); }', 'main', [], { host });
  isErr(out, 'CapabilityDenied', 'net.fetch is not granted');
  return out;
});

check('host.call: many calls, large reply', () => {
  const big = 'x'.repeat(200000);
  const out = call('function main() { let n = 0; for (let i = 0; i < 200; i++) n += host.call("big", i).length; return n; }',
    'main', [], { host: () => ({ ok: true, value: big }) });
  assert.deepEqual(out.result, { ok: true, value: 200 * big.length });
  out.hostCalls = [`${out.hostCalls.length} calls`];
  return out;
});

check('host.call: non-string name', () => {
  const out = call('function main() { host.call(1, {}); }', 'main', [], { host });
  isErr(out, 'TypeError', 'host.call: the name must be a string');
  assert.deepEqual(out.hostCalls, []);
  return out;
});

const recursion = `
  let depth = 0;
  function f() { depth++; return f() + 1; }
  function caught() { try { f(); } catch (e) { return [e instanceof RangeError, e.name, e.message, depth]; } }
  function uncaught() { return f(); }`;

check('deep recursion: caught RangeError (default limit)', () => {
  const out = call(recursion, 'caught');
  assert.equal(out.trap, undefined, out.trap);
  assert.deepEqual(out.result.value.slice(0, 3), [true, 'RangeError', 'Maximum call stack size exceeded']);
  out.note = `depth reached: ${out.result.value[3]}`;
  return out;
});

check('deep recursion: uncaught RangeError', () => {
  const out = call(recursion, 'uncaught');
  isErr(out, 'RangeError', 'Maximum call stack size exceeded');
  return out;
});

check('deep recursion: max_stack_bytes is honoured and capped', () => {
  const depth = (bytes) => call(recursion, 'caught', [], { input: { max_stack_bytes: bytes } }).result.value[3];
  const d = [65536, 262144, 786432, 1 << 30, 1e300].map(depth);
  assert.ok(d[0] < d[1] && d[1] < d[2], JSON.stringify(d));
  assert.equal(d[3], d[2], 'values above the cap are capped');
  assert.equal(d[4], d[2]);
  return { result: d, note: 'depth reached at 64 KiB, 256 KiB, 768 KiB, 1 GiB, 1e300 (both capped to 768 KiB)' };
});

check('C-level recursion (parser, JSON): RangeError given engine stack, else an engine trap', () => {
  // QuickJS's parser and JSON code recurse through C frames that use little
  // shadow stack (about 8-16x more engine stack per shadow byte than JS
  // calls), so they need a generous engine stack for QuickJS's check to win;
  // otherwise the engine's own limit stops them (wasmtime: a stack-overflow
  // trap, which the host classifies). Either way nothing is corrupted.
  const nest = (expr) => call(`function main() { ${expr}; return "returned"; }`);
  const outs = {
    'eval 100000 nested parens': nest('eval("(".repeat(100000) + "1" + ")".repeat(100000))'),
    'JSON.parse 100000 nested arrays': nest('JSON.parse("[".repeat(100000) + "]".repeat(100000))'),
    'JSON.stringify 100000 nested arrays': nest('let o = []; for (let i = 0; i < 100000; i++) o = [o]; JSON.stringify(o)'),
    'RegExp 100000 nested groups': nest('new RegExp("(".repeat(100000) + ")".repeat(100000))'),
  };
  const summary = {};
  for (const [k, out] of Object.entries(outs)) {
    summary[k] = out.trap ?? out.result;
    assert.ok(out.trap ? /call stack/i.test(out.trap) : out.result.ok === false, JSON.stringify(summary[k]));
  }
  // The instance is unusable after a trap, but a fresh one works.
  assert.deepEqual(call('function main() { return 1; }').result, { ok: true, value: 1 });
  return { result: summary };
});

check('no require/process/fetch/setTimeout/import()', () => {
  const out = call(`async function main() {
    const r = [typeof require, typeof process, typeof fetch, typeof setTimeout, typeof std, typeof os];
    try { require("fs"); } catch (e) { r.push(e.name + ": " + e.message); }
    try { await import("fs"); } catch (e) { r.push(e.name + ": " + e.message); }
    return r; }`);
  assert.deepEqual(out.result.value.slice(0, 6), Array(6).fill('undefined'));
  assert.match(out.result.value[6], /^ReferenceError: /);
  assert.equal(out.result.value.length, 8);
  return out;
});

check('uncaught use of process', () => {
  const out = call('function main() { return process.env; }');
  isErr(out, 'ReferenceError', "process is not defined");
  return out;
});

check('static import is a syntax error (script mode)', () => {
  const out = call('import fs from "fs"; function main() {}');
  isErr(out, 'SyntaxError');
  return out;
});

check('entry not a function', () => {
  const out = call('var x = 5;', 'x');
  isErr(out, 'TypeError', "entry 'x' is not a function");
  return out;
});

check('entry not defined', () => {
  const out = call('var x = 5;', 'nope');
  isErr(out, 'ReferenceError', 'nope is not defined');
  return out;
});

check('malformed header JSON', () => {
  const out = run('{"entry": "main", \nfunction main() {}');
  isErr(out, 'DriverError', "the input's header line is not valid JSON");
  return out;
});

check('input without a header line', () => {
  const out = run('function main() {}');
  isErr(out, 'DriverError', 'the input needs a header line, then the source');
  return out;
});

check('input without entry', () => {
  const out = run({ source: 'function main() {}', args: [] });
  isErr(out, 'DriverError', 'the input needs "entry": a string');
  return out;
});

check('bad max_stack_bytes', () => {
  const out = call('function main() {}', 'main', [], { input: { max_stack_bytes: -1 } });
  isErr(out, 'DriverError', '"max_stack_bytes" must be a positive integer');
  return out;
});

check('non-serialisable return: BigInt', () => {
  const out = call('function main() { return { n: 10n }; }');
  isErr(out, 'TypeError');
  return out;
});

check('non-serialisable return: cycle', () => {
  const out = call('function main() { const o = {}; o.o = o; return o; }');
  isErr(out, 'TypeError');
  return out;
});

check('function / symbol return become null', () => {
  const out = call('function main() { return [() => 1, Symbol("s"), undefined]; }');
  assert.deepEqual(out.result, { ok: true, value: [null, null, null] });
  return out;
});

check('Date/performance/Math.random use the WASI clock and random_get', () => {
  const u64 = (mem, ptr, v) => new DataView(mem().buffer).setBigUint64(ptr, v, true);
  const wasiOverrides = {
    clock_time_get: (mem) => (id, _precision, ptr) => {
      u64(mem, ptr, id === 0 ? 1_700_000_000_123_456_789n : 5_000_000n); // realtime, monotonic
      return 0;
    },
    random_get: (mem) => (ptr, len) => { mem().fill(7, ptr, ptr + len); return 0; },
  };
  const src = 'function main() { return [Date.now(), new Date().toISOString(), performance.now(), Math.random(), Math.random()]; }';
  const a = call(src, 'main', [], { wasiOverrides }).result.value;
  const b = call(src, 'main', [], { wasiOverrides }).result.value;
  assert.deepEqual(a.slice(0, 3), [1700000000123, '2023-11-14T22:13:20.123Z', 0]);
  assert.deepEqual(a, b, 'same clock and random source, same values');
  assert.ok(a[3] >= 0 && a[3] < 1 && a[3] !== a[4]);
  const real = call(src).result.value;
  const real2 = call(src).result.value;
  assert.notEqual(real[3], real2[3], 'real random_get differs between runs');
  return { result: { fixed: a, real }, note: 'fixed WASI clock/random -> fixed values' };
});

/**
 * What wasmtime-wizer would snapshot: linear memory after `wizer.initialize`
 * (the only mutable global, the shadow stack pointer, is back at its initial
 * value when the function returns).
 */
function snapshotAfterInit() {
  let instance;
  // Only the clock may be read during init (QuickJS's hash seed).
  const wasi = new Proxy({}, {
    get: (_, name) => (...args) => {
      assert.equal(name, 'clock_time_get', `init called WASI ${name}`);
      new DataView(instance.exports.memory.buffer).setBigUint64(args[2], 1n, true);
      return 0;
    },
  });
  instance = new WebAssembly.Instance(module, {
    wasi_snapshot_preview1: wasi,
    skillforge: { emit: () => assert.fail('init emitted'), host_call: () => assert.fail('init called the host') },
  });
  instance.exports['wizer.initialize']();
  return new Uint8Array(instance.exports.memory.buffer).slice();
}

check('snapshot-ready: _start after wizer.initialize reuses the engine', () => {
  const snapshot = snapshotAfterInit();
  const src = `const seen = typeof globalThis.marker; globalThis.marker = 1;
    async function main(x) { await null; console.log("hi"); return [seen, x, performance.now() < 1000, Math.random()]; }`;
  const a = call(src, 'main', [7], { snapshot });
  const b = call(src, 'main', [7], { snapshot });
  assert.deepEqual(a.result.value.slice(0, 3), ['undefined', 7, true]);
  assert.deepEqual(a.stdout, ['hi']);
  assert.notEqual(a.result.value[3], b.result.value[3], 'Math.random is seeded per call, not frozen in the snapshot');
  const rec = call(recursion, 'caught', [], { snapshot }).result.value;
  assert.deepEqual(rec.slice(0, 2), [true, 'RangeError']);
  return { result: [a.result, b.result], note: `snapshot ${snapshot.length} bytes; recursion depth ${rec[3]}` };
});

if (process.argv.includes('--bench')) {
  const src = 'function main(a, b) { return a + b; }';
  for (let i = 0; i < 20; i++) call(src, 'main', [1, 2]); // warm up
  const n = 200;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) call(src, 'main', [1, 2]);
  const ms = (performance.now() - t0) / n;
  console.log(`bench: trivial call (instantiate + _start + result) ${ms.toFixed(2)} ms mean over ${n}`);
}

fs.rmSync(tmpDir, { recursive: true, force: true });
console.log(failures ? `${failures} FAILED` : 'all smoke cases passed');
process.exit(failures ? 1 : 0);
