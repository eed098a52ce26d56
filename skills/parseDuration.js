/**
 * Parses a duration such as "1h30m", "2d 4h", "90s" or "1.5h" into a number of seconds.
 * Units are d, h, m and s, each used at most once, largest first.
 * @param {string} text the duration
 * @returns {number} the duration in seconds
 * @example parseDuration("1h30m") => 5400
 * @example parseDuration("2d 4h 5s") => 187205
 * @example parseDuration("1.5m") => 90
 * @test spaces and zero: assert.equal(parseDuration(" 1h  2m "), 3720);
 *   assert.equal(parseDuration("0s"), 0)
 * @test rejects bad text: for (const bad of ["", " ", "10", "1x", "1ms", "1m1h", "1h1h", "h", "-1h", "1.h"]) {
 *     assert.throws(() => parseDuration(bad), SyntaxError, bad);
 *   }
 * @test not a string: assert.throws(() => parseDuration(90), TypeError)
 */
function parseDuration(text) {
  if (typeof text !== "string") {
    throw new TypeError(`parseDuration: expected a string, got ${typeof text}`);
  }
  const units = ["d", "h", "m", "s"];
  const secondsPer = { d: 86400, h: 3600, m: 60, s: 1 };
  const part = /\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*/y; // sticky: each part starts where the last ended
  let total = 0;
  let lastUnit = -1;
  while (part.lastIndex < text.length) {
    const match = part.exec(text);
    const unit = match === null ? -1 : units.indexOf(match[2]);
    if (unit <= lastUnit) {
      throw new SyntaxError(
        `parseDuration: cannot read "${text}"; write e.g. "1h30m", "2d 4h" or "90s" (units d, h, m, s, largest first)`,
      );
    }
    total += Number(match[1]) * secondsPer[match[2]];
    lastUnit = unit;
  }
  if (lastUnit === -1) {
    throw new SyntaxError(`parseDuration: "${text}" has no duration in it; write e.g. "1h30m"`);
  }
  return total;
}
