/**
 * Arithmetic mean (average) of a non-empty list of numbers.
 * @param {number[]} xs the numbers
 * @returns {number} their sum divided by their count
 * @example mean([1, 2, 3, 4]) => 2.5
 * @example mean([-5]) => -5
 * @example mean([0.5, 1.5, 4]) => 2
 * @test empty list: assert.throws(() => mean([]), RangeError)
 * @test non-numbers: assert.throws(() => mean([1, "2"]), TypeError);
 *   assert.throws(() => mean("12"), TypeError);
 *   assert.throws(() => mean([1, NaN]), TypeError)
 */
function mean(xs) {
  if (!Array.isArray(xs)) {
    throw new TypeError(`mean: expected an array of numbers, got ${typeof xs}`);
  }
  if (xs.length === 0) {
    throw new RangeError("mean: the list is empty, its mean is undefined");
  }
  let sum = 0;
  for (const x of xs) {
    if (typeof x !== "number" || Number.isNaN(x)) {
      throw new TypeError(`mean: every item must be a number, got ${String(x)}`);
    }
    sum += x;
  }
  return sum / xs.length;
}
