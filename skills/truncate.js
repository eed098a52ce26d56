/**
 * Shortens text to at most `maxLength` characters, ending it with an ellipsis when it had to
 * be cut; counts Unicode code points, so an emoji is never split in half.
 * @param {string} text the text
 * @param {number} maxLength the longest allowed result, ellipsis included
 * @param {string} [ellipsis="…"] what marks the cut
 * @returns {string} the text, or its beginning followed by the ellipsis
 * @example truncate("Hello world", 20) => "Hello world"
 * @example truncate("Hello world", 8) => "Hello w…"
 * @example truncate("Hello world", 8, "...") => "Hello..."
 * @test exact fit and trailing space: assert.equal(truncate("abc", 3), "abc");
 *   assert.equal(truncate("Hello world", 7), "Hello…")
 * @test emoji: assert.equal(truncate("😀😀😀😀", 3), "😀😀…")
 * @test bad length: assert.throws(() => truncate("Hello", 2, "..."), RangeError);
 *   assert.throws(() => truncate("Hello", -1), RangeError);
 *   assert.throws(() => truncate(5, 3), TypeError)
 */
function truncate(text, maxLength, ellipsis = "…") {
  if (typeof text !== "string" || typeof ellipsis !== "string") {
    throw new TypeError("truncate: text and ellipsis must be strings");
  }
  if (!Number.isInteger(maxLength) || maxLength < 0) {
    throw new RangeError(`truncate: maxLength must be a non-negative integer, got ${maxLength}`);
  }
  const chars = Array.from(text);
  if (chars.length <= maxLength) return text;
  const room = maxLength - Array.from(ellipsis).length;
  if (room < 0) {
    throw new RangeError(`truncate: maxLength ${maxLength} leaves no room for the ellipsis "${ellipsis}"`);
  }
  return chars.slice(0, room).join("").trimEnd() + ellipsis;
}
