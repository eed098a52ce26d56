/**
 * Standard deviation of a list of numbers: the population form (divide by n) by default, or
 * the sample form (divide by n - 1) when `sample` is true.
 * @param {number[]} xs the numbers, at least one (two for the sample form)
 * @param {boolean} [sample=false] use the sample (Bessel-corrected) form
 * @returns {number} the standard deviation
 * @example standardDeviation([2, 4, 4, 4, 5, 5, 7, 9]) => 2
 * @example standardDeviation([1, 2, 3, 4], true) => 1.2909944487358056
 * @test constant list: assert.equal(standardDeviation([3, 3, 3]), 0);
 *   assert.equal(standardDeviation([5]), 0)
 * @test sample needs two values: assert.throws(() => standardDeviation([5], true), RangeError)
 * @test bad input: assert.throws(() => standardDeviation([]), RangeError);
 *   assert.throws(() => standardDeviation([1, "x"]), TypeError)
 */
function standardDeviation(xs, sample = false) {
  const average = mean(xs); // also checks that xs is a non-empty array of numbers
  if (sample && xs.length < 2) {
    throw new RangeError("standardDeviation: the sample form needs at least two values");
  }
  const squaredDeviations = xs.reduce((sum, x) => sum + (x - average) ** 2, 0);
  return Math.sqrt(squaredDeviations / (sample ? xs.length - 1 : xs.length));
}
