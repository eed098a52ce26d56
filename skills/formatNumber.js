/**
 * Formats a number with a fixed number of decimals and thousands separators, such as
 * "1,234,567.89"; halves round away from zero, and the result does not depend on a locale.
 * @param {number} value a finite number below 1e21 in magnitude
 * @param {number} [decimals=0] digits after the decimal point, 0 to 20
 * @param {string} [thousandsSeparator=","] put between groups of three digits
 * @param {string} [decimalSeparator="."] put before the decimals
 * @returns {string} the formatted number
 * @example formatNumber(1234567.891, 2) => "1,234,567.89"
 * @example formatNumber(-1234.5) => "-1,235"
 * @example formatNumber(1234.5, 2, ".", ",") => "1.234,50"
 * @test small numbers: assert.equal(formatNumber(0), "0");
 *   assert.equal(formatNumber(999.999, 2), "1,000.00");
 *   assert.equal(formatNumber(-0.001, 2), "0.00")
 * @test rounds the decimal value: assert.equal(formatNumber(1.005, 2), "1.01")
 * @test no separator: assert.equal(formatNumber(1234567, 0, ""), "1234567")
 * @test out of range: assert.throws(() => formatNumber(1e21), RangeError);
 *   assert.throws(() => formatNumber(NaN), RangeError);
 *   assert.throws(() => formatNumber(1, 21), RangeError);
 *   assert.throws(() => formatNumber("1"), TypeError)
 */
function formatNumber(value, decimals = 0, thousandsSeparator = ",", decimalSeparator = ".") {
  if (typeof value !== "number") {
    throw new TypeError(`formatNumber: value must be a number, got ${typeof value}`);
  }
  if (!Number.isFinite(value) || Math.abs(value) >= 1e21) {
    throw new RangeError(`formatNumber: value must be finite and below 1e21 in magnitude, got ${value}`);
  }
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 20) {
    throw new RangeError(`formatNumber: decimals must be an integer from 0 to 20, got ${decimals}`);
  }
  const rounded = roundTo(value, decimals);
  const [whole, fraction] = Math.abs(rounded).toFixed(decimals).split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+$)/g, () => thousandsSeparator);
  const sign = rounded < 0 ? "-" : "";
  return sign + grouped + (fraction === undefined ? "" : decimalSeparator + fraction);
}
