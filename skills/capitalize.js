/**
 * Upper-cases the first character of a string and leaves the rest unchanged.
 * @param {string} text the string
 * @returns {string} the string with its first character in upper case
 * @example capitalize("hello world") => "Hello world"
 * @example capitalize("éclair") => "Éclair"
 * @test empty string: assert.equal(capitalize(""), "")
 * @test rest unchanged: assert.equal(capitalize("iPHONE"), "IPHONE");
 *   assert.equal(capitalize("😀 smile"), "😀 smile");
 * @test not a string: assert.throws(() => capitalize(null), TypeError)
 */
function capitalize(text) {
  if (typeof text !== "string") {
    throw new TypeError(`capitalize: expected a string, got ${typeof text}`);
  }
  if (text === "") return "";
  // The first code point, so a character outside the BMP is not split in half.
  const first = String.fromCodePoint(text.codePointAt(0));
  return first.toUpperCase() + text.slice(first.length);
}
