// The `assert` available to skill tests: a small subset of node:assert with the same names.
// This file is one expression. The guest embeds it (guest/driver.c), evaluates it once while
// the start-up snapshot is made and defines its value as the global `assert`, so a test call
// parses none of it.
(() => {
  class AssertionError extends Error {
    constructor(message) { super(message); this.name = "AssertionError"; }
  }
  const show = (v) => {
    try { return typeof v === "string" ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v)); }
    catch (_) { return String(v); }
  };
  const deepEqual = (a, b, strict) => {
    if (strict ? Object.is(a, b) : a == b) return true;
    if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) {
      return typeof a === "number" && typeof b === "number" && Number.isNaN(a) && Number.isNaN(b);
    }
    if (strict && Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
    if (Array.isArray(a) !== Array.isArray(b)) return false;
    if (a instanceof Map && b instanceof Map) {
      return a.size === b.size && [...a].every(([k, v]) => b.has(k) && deepEqual(v, b.get(k), strict));
    }
    if (a instanceof Set && b instanceof Set) {
      return a.size === b.size && [...a].every((v) => b.has(v));
    }
    if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
    const ka = Object.keys(a), kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k], strict));
  };
  const fail = (message, fallback) => { throw new AssertionError(message || fallback); };
  const assert = (value, message) => { if (!value) fail(message, `expected a truthy value, got ${show(value)}`); };
  assert.ok = assert;
  assert.AssertionError = AssertionError;
  assert.fail = (message) => fail(message, "assert.fail()");
  assert.equal = (a, b, m) => { if (!(a == b || (a !== a && b !== b))) fail(m, `expected ${show(b)}, got ${show(a)}`); };
  assert.notEqual = (a, b, m) => { if (a == b) fail(m, `expected a value other than ${show(b)}`); };
  assert.strictEqual = (a, b, m) => { if (!Object.is(a, b)) fail(m, `expected ${show(b)}, got ${show(a)}`); };
  assert.notStrictEqual = (a, b, m) => { if (Object.is(a, b)) fail(m, `expected a value other than ${show(b)}`); };
  assert.deepEqual = (a, b, m) => { if (!deepEqual(a, b, false)) fail(m, `expected ${show(b)}, got ${show(a)}`); };
  assert.deepStrictEqual = (a, b, m) => { if (!deepEqual(a, b, true)) fail(m, `expected ${show(b)}, got ${show(a)}`); };
  assert.notDeepStrictEqual = (a, b, m) => { if (deepEqual(a, b, true)) fail(m, `expected a value other than ${show(b)}`); };
  const matches = (err, expected) =>
    expected === undefined ||
    (typeof expected === "function" && (err instanceof expected || (expected.prototype === undefined && expected(err) === true))) ||
    (expected instanceof RegExp && expected.test(String(err && err.message !== undefined ? err.message : err))) ||
    (typeof expected === "object" && expected !== null && Object.keys(expected).every((k) => deepEqual(err[k], expected[k], false)));
  assert.throws = (fn, expected, m) => {
    try { fn(); } catch (err) {
      if (!matches(err, expected)) fail(m, `the thrown error did not match: ${show(err && err.message)}`);
      return;
    }
    fail(typeof expected === "string" ? expected : m, "expected the function to throw");
  };
  assert.rejects = async (promiseOrFn, expected, m) => {
    try { await (typeof promiseOrFn === "function" ? promiseOrFn() : promiseOrFn); } catch (err) {
      if (!matches(err, expected)) fail(m, `the rejection did not match: ${show(err && err.message)}`);
      return;
    }
    fail(m, "expected a rejection");
  };
  assert.doesNotThrow = (fn, m) => { try { fn(); } catch (err) { fail(m, `expected no throw, got ${show(err && err.message)}`); } };
  return Object.freeze(assert);
})()
