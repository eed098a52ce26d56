/**
 * The day of the week of a "YYYY-MM-DD" date, as its English name ("Monday" to "Sunday").
 * @param {string} isoDate the date, "YYYY-MM-DD"
 * @returns {string} the name of the weekday
 * @example dayOfWeek("2024-02-29") => "Thursday"
 * @example dayOfWeek("2000-01-01") => "Saturday"
 * @test a whole week: assert.deepStrictEqual(
 *     ["2024-06-03", "2024-06-04", "2024-06-05", "2024-06-06", "2024-06-07", "2024-06-08", "2024-06-09"].map((d) => dayOfWeek(d)),
 *     ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]);
 * @test invalid date: assert.throws(() => dayOfWeek("2024-06-31"), RangeError);
 *   assert.throws(() => dayOfWeek("June 3"), SyntaxError)
 */
function dayOfWeek(isoDate) {
  const names = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
  return names[parseIsoDate(isoDate).getUTCDay()];
}
