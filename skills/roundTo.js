/**
 * Rounds a number to a given number of decimal places, halves away from zero, without the
 * binary floating-point surprises of `toFixed` (1.005 rounds to 1.01). Negative `digits`
 * round to tens, hundreds and so on.
 * @param {number} value the number to round
 * @param {number} [digits=0] decimal places to keep, an integer (may be negative)
 * @returns {number} the rounded number (never -0)
 * @example roundTo(3.14159, 2) => 3.14
 * @example roundTo(1.005, 2) => 1.01
 * @example roundTo(1234.5678, -2) => 1200
 * @test halves away from zero: assert.equal(roundTo(2.5), 3);
 *   assert.equal(roundTo(-2.5), -3);
 *   assert.strictEqual(roundTo(-0.4), 0)
 * @test tiny and huge: assert.equal(roundTo(1.5e-7, 7), 2e-7);
 *   assert.equal(roundTo(1e21, 2), 1e21);
 *   assert.equal(roundTo(Infinity, 2), Infinity)
 * @test bad arguments: assert.throws(() => roundTo(1, 1.5), RangeError);
 *   assert.throws(() => roundTo("1", 2), TypeError)
 */
function roundTo(value, digits = 0) {
  if (typeof value !== "number") {
    throw new TypeError(`roundTo: value must be a number, got ${typeof value}`);
  }
  if (!Number.isInteger(digits)) {
    throw new RangeError(`roundTo: digits must be an integer, got ${digits}`);
  }
  if (!Number.isFinite(value)) return value;
  const shifted = shiftDecimalPoint(Math.abs(value), digits);
  // Past 2^53 every double is an integer: there is nothing left to round.
  if (shifted > Number.MAX_SAFE_INTEGER) return value;
  const result = Math.sign(value) * shiftDecimalPoint(Math.round(shifted), -digits);
  return result === 0 ? 0 : result;
}

/** value * 10^places, done on the decimal text so that no binary rounding error creeps in. */
function shiftDecimalPoint(value, places) {
  const [mantissa, exponent = "0"] = String(value).split("e");
  return Number(`${mantissa}e${Number(exponent) + places}`);
}
