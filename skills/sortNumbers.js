/**
 * Sorts numbers in ascending (or descending) numeric order into a new array; unlike the
 * default `Array.prototype.sort`, 10 comes after 9.
 * @param {number[]} xs the numbers (not changed)
 * @param {boolean} [descending=false] largest first when true
 * @returns {number[]} a sorted copy
 * @example sortNumbers([10, 9, 1, 100]) => [1, 9, 10, 100]
 * @example sortNumbers([3, -1, 2], true) => [3, 2, -1]
 * @test does not mutate: const xs = [3, 1, 2];
 *   assert.deepStrictEqual(sortNumbers(xs), [1, 2, 3]);
 *   assert.deepStrictEqual(xs, [3, 1, 2])
 * @test empty and infinities: assert.deepStrictEqual(sortNumbers([]), []);
 *   assert.deepStrictEqual(sortNumbers([Infinity, -Infinity, 0]), [-Infinity, 0, Infinity])
 * @test rejects non-numbers: assert.throws(() => sortNumbers([1, "2"]), TypeError);
 *   assert.throws(() => sortNumbers([NaN]), TypeError);
 *   assert.throws(() => sortNumbers("321"), TypeError)
 */
function sortNumbers(xs, descending = false) {
  if (!Array.isArray(xs)) {
    throw new TypeError(`sortNumbers: expected an array of numbers, got ${typeof xs}`);
  }
  for (const x of xs) {
    if (typeof x !== "number" || Number.isNaN(x)) {
      throw new TypeError(`sortNumbers: every item must be a number, got ${String(x)}`);
    }
  }
  return [...xs].sort((a, b) => (descending ? b - a : a - b));
}
