/**
 * Parses and validates a calendar date written "YYYY-MM-DD" (ISO 8601) into a Date at
 * midnight UTC; impossible dates such as "2023-02-29" are rejected, not rolled over.
 * @param {string} text the date, e.g. "2024-02-29"
 * @returns {Date} midnight UTC at the start of that day
 * @example parseIsoDate("2024-02-29").toISOString() => "2024-02-29T00:00:00.000Z"
 * @example parseIsoDate("1999-12-31") => new Date(Date.UTC(1999, 11, 31))
 * @test impossible dates: for (const bad of ["2023-02-29", "2024-13-01", "2024-04-31", "2024-00-10", "2024-01-00"]) {
 *     assert.throws(() => parseIsoDate(bad), RangeError, bad);
 *   }
 * @test wrong format: for (const bad of ["2024-2-29", "29/02/2024", "2024-02-29T10:00Z", ""]) {
 *     assert.throws(() => parseIsoDate(bad), SyntaxError, bad);
 *   }
 * @test years before 100: assert.equal(parseIsoDate("0042-03-01").getUTCFullYear(), 42)
 * @test not a string: assert.throws(() => parseIsoDate(20240229), TypeError)
 */
function parseIsoDate(text) {
  if (typeof text !== "string") {
    throw new TypeError(`parseIsoDate: expected a "YYYY-MM-DD" string, got ${typeof text}`);
  }
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (match === null) {
    throw new SyntaxError(`parseIsoDate: expected a date like "2024-02-29", got "${text}"`);
  }
  const [year, month, day] = match.slice(1).map(Number);
  const monthLengths = [31, isLeapYear(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  if (month < 1 || month > 12 || day < 1 || day > monthLengths[month - 1]) {
    throw new RangeError(`parseIsoDate: ${text} is not a day of the calendar`);
  }
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day); // unlike Date.UTC, right for years 0-99 too
  return date;
}
