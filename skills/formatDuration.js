/**
 * Formats a number of seconds as a compact duration such as "1h 30m" or "2d 4h 5s", leaving
 * out zero units; fractions of a second are rounded. parseDuration reads it back.
 * @param {number} seconds a non-negative number of seconds
 * @returns {string} the duration with units d, h, m and s; "0s" for zero
 * @example formatDuration(5400) => "1h 30m"
 * @example formatDuration(187205) => "2d 4h 5s"
 * @example formatDuration(0) => "0s"
 * @test rounds fractions: assert.equal(formatDuration(59.6), "1m");
 *   assert.equal(formatDuration(0.4), "0s")
 * @test round trip with parseDuration: for (const s of [1, 59, 60, 3599, 3600, 86399, 90061, 1000000]) {
 *     assert.equal(parseDuration(formatDuration(s)), s);
 *   }
 * @test bad input: assert.throws(() => formatDuration(-1), RangeError);
 *   assert.throws(() => formatDuration(Infinity), RangeError);
 *   assert.throws(() => formatDuration("60"), TypeError)
 */
function formatDuration(seconds) {
  if (typeof seconds !== "number") {
    throw new TypeError(`formatDuration: expected a number of seconds, got ${typeof seconds}`);
  }
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new RangeError(`formatDuration: seconds must be finite and not negative, got ${seconds}`);
  }
  let rest = Math.round(seconds);
  const parts = [];
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]]) {
    const count = Math.floor(rest / size);
    if (count > 0) parts.push(`${count}${unit}`);
    rest -= count * size;
  }
  return parts.length > 0 ? parts.join(" ") : "0s";
}
