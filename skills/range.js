/**
 * Numbers from `start` up to, not including, `end`, counting by `step` (negative to count
 * down); range(n) alone gives 0 .. n-1.
 * @param {number} start the first number, or the end when it is the only argument
 * @param {number} [end] where to stop (excluded)
 * @param {number} [step=1] the difference between neighbours, not 0
 * @returns {number[]} the numbers (at most 10 million)
 * @example range(5) => [0, 1, 2, 3, 4]
 * @example range(1, 10, 3) => [1, 4, 7]
 * @example range(5, 0, -2) => [5, 3, 1]
 * @test empty ranges: assert.deepStrictEqual(range(0), []);
 *   assert.deepStrictEqual(range(3, 1), []);
 *   assert.deepStrictEqual(range(1, 3, -1), [])
 * @test fractional step: assert.deepStrictEqual(range(0, 1, 0.25), [0, 0.25, 0.5, 0.75])
 * @test bad arguments: assert.throws(() => range(0, 10, 0), RangeError);
 *   assert.throws(() => range(0, Infinity), RangeError);
 *   assert.throws(() => range(0, 1e9), RangeError);
 *   assert.throws(() => range("5"), TypeError)
 */
function range(start, end, step = 1) {
  const [from, to] = end === undefined ? [0, start] : [start, end];
  if (![from, to, step].every((n) => typeof n === "number")) {
    throw new TypeError("range: start, end and step must be numbers");
  }
  if (![from, to, step].every(Number.isFinite) || step === 0) {
    throw new RangeError("range: start, end and step must be finite, and step not 0");
  }
  const count = Math.max(0, Math.ceil((to - from) / step));
  if (count > 1e7) {
    throw new RangeError(`range: ${count} numbers is more than the limit of 10 million`);
  }
  // start + i * step, not repeated addition, so rounding errors do not accumulate.
  return Array.from({ length: count }, (_, i) => from + i * step);
}
