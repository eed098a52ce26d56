/**
 * Adds a number of days (negative to go back) to a "YYYY-MM-DD" date and returns the new
 * date in the same form; works in UTC, so daylight-saving changes play no part.
 * @param {string} isoDate the date, "YYYY-MM-DD"
 * @param {number} days how many days to add, an integer
 * @returns {string} the resulting date, "YYYY-MM-DD"
 * @example addDays("2024-02-28", 1) => "2024-02-29"
 * @example addDays("2024-03-01", -1) => "2024-02-29"
 * @example addDays("2023-12-31", 366) => "2024-12-31"
 * @test zero days: assert.equal(addDays("2024-05-17", 0), "2024-05-17")
 * @test bad days: assert.throws(() => addDays("2024-01-01", 1.5), RangeError);
 *   assert.throws(() => addDays("2024-01-01", "1"), TypeError)
 * @test invalid date: assert.throws(() => addDays("2023-02-29", 1), RangeError)
 * @test beyond year 9999: assert.throws(() => addDays("9999-12-31", 1), RangeError)
 */
function addDays(isoDate, days) {
  if (typeof days !== "number") {
    throw new TypeError(`addDays: days must be a number, got ${typeof days}`);
  }
  if (!Number.isInteger(days)) {
    throw new RangeError(`addDays: days must be an integer, got ${days}`);
  }
  const date = parseIsoDate(isoDate);
  date.setUTCDate(date.getUTCDate() + days);
  const year = date.getUTCFullYear(); // NaN if the date went past what Date can hold
  if (!(year >= 0 && year <= 9999)) {
    throw new RangeError(`addDays: ${isoDate} plus ${days} days is outside the years 0000-9999`);
  }
  return date.toISOString().slice(0, 10);
}
