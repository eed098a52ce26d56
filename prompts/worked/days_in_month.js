/**
 * How many days a month of the Gregorian calendar has.
 * @param {number} year the year, e.g. 2024
 * @param {number} month 1 for January to 12 for December
 * @returns {number} 28 to 31
 * @example daysInMonth(2024, 2) => 29
 * @test april: assert.equal(daysInMonth(2023, 4), 30)
 */
function daysInMonth(year, month) {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}
