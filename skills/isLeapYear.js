/**
 * Tells whether a year of the Gregorian calendar is a leap year (366 days): years divisible
 * by 4, except centuries that are not divisible by 400.
 * @param {number} year the year, an integer
 * @returns {boolean} true for a leap year
 * @example isLeapYear(2024) => true
 * @example isLeapYear(1900) => false
 * @example isLeapYear(2000) => true
 * @test ordinary years: assert.equal(isLeapYear(2023), false);
 *   assert.equal(isLeapYear(2100), false)
 * @test bad input: assert.throws(() => isLeapYear(2024.5), RangeError);
 *   assert.throws(() => isLeapYear("2024"), TypeError)
 */
function isLeapYear(year) {
  if (typeof year !== "number") {
    throw new TypeError(`isLeapYear: expected a year number, got ${typeof year}`);
  }
  if (!Number.isInteger(year)) {
    throw new RangeError(`isLeapYear: a year is an integer, got ${year}`);
  }
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}
