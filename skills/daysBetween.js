/**
 * Number of days from one "YYYY-MM-DD" date to another: positive when `to` is later,
 * negative when it is earlier, 0 for the same day.
 * @param {string} from the start date, "YYYY-MM-DD"
 * @param {string} to the end date, "YYYY-MM-DD"
 * @returns {number} whole days from `from` to `to`
 * @example daysBetween("2024-01-01", "2024-03-01") => 60
 * @example daysBetween("2024-03-01", "2023-03-01") => -366
 * @test same day: assert.strictEqual(daysBetween("2024-05-17", "2024-05-17"), 0)
 * @test inverse of addDays: for (const n of [-1000, -1, 1, 59, 365, 10000]) {
 *     assert.equal(daysBetween("2000-02-29", addDays("2000-02-29", n)), n);
 *   }
 * @test invalid date: assert.throws(() => daysBetween("2024-02-30", "2024-03-01"), RangeError)
 */
function daysBetween(from, to) {
  const millisecondsPerDay = 24 * 60 * 60 * 1000;
  // Both dates are midnight UTC, so the difference is an exact multiple of a day.
  return (parseIsoDate(to).getTime() - parseIsoDate(from).getTime()) / millisecondsPerDay;
}
