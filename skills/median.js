/**
 * Median of a non-empty list of numbers: the middle value once sorted, or the mean of the
 * two middle values when the count is even.
 * @param {number[]} xs the numbers, in any order (not changed)
 * @returns {number} the median
 * @example median([3, 1, 2]) => 2
 * @example median([4, 1, 3, 2]) => 2.5
 * @example median([7]) => 7
 * @test does not mutate: const xs = [5, 1, 4];
 *   assert.equal(median(xs), 4);
 *   assert.deepStrictEqual(xs, [5, 1, 4])
 * @test numeric not lexicographic: assert.equal(median([10, 9, 100]), 10)
 * @test bad input: assert.throws(() => median([]), RangeError);
 *   assert.throws(() => median([1, "2"]), TypeError)
 */
function median(xs) {
  const sorted = sortNumbers(xs);
  if (sorted.length === 0) {
    throw new RangeError("median: the list is empty, its median is undefined");
  }
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
