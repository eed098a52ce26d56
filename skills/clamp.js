/**
 * Limits a number to the range from `min` to `max`, both included.
 * @param {number} value the number to limit
 * @param {number} min the lower bound
 * @param {number} max the upper bound, not below `min`
 * @returns {number} `min` if value is below it, `max` if above, else value
 * @example clamp(15, 0, 10) => 10
 * @example clamp(-3, 0, 10) => 0
 * @example clamp(0.5, 0, 1) => 0.5
 * @test bounds are inclusive: assert.equal(clamp(10, 0, 10), 10);
 *   assert.equal(clamp(0, 0, 10), 0)
 * @test infinite bounds: assert.equal(clamp(1e300, -Infinity, Infinity), 1e300)
 * @test min above max: assert.throws(() => clamp(1, 5, 0), RangeError)
 * @test not numbers: assert.throws(() => clamp("5", 0, 10), TypeError);
 *   assert.throws(() => clamp(NaN, 0, 10), TypeError)
 */
function clamp(value, min, max) {
  if (![value, min, max].every((n) => typeof n === "number" && !Number.isNaN(n))) {
    throw new TypeError("clamp: value, min and max must be numbers (not NaN)");
  }
  if (min > max) {
    throw new RangeError(`clamp: min (${min}) is greater than max (${max})`);
  }
  return Math.min(Math.max(value, min), max);
}
