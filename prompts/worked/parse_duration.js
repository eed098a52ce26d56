/**
 * The number of seconds in a duration written like "1h30m" or "45s".
 * @param {string} text hours (h), minutes (m) and seconds (s), in that order
 * @returns {number} the seconds
 * @example parseDuration("1h30m") => 5400
 * @test seconds only: assert.equal(parseDuration("45s"), 45)
 */
function parseDuration(text) {
  const units = { h: 3600, m: 60, s: 1 };
  let total = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)([hms])/g)) total += Number(n) * units[unit];
  return total;
}
