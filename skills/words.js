/**
 * Splits text into words: breaks at spaces, punctuation, `_` and `-`, and inside camelCase or
 * PascalCase identifiers; keeps runs of digits and contractions such as "don't" together.
 * @param {string} text the text to split
 * @returns {string[]} the words in order, in their original case
 * @example words("Hello, world!") => ["Hello", "world"]
 * @example words("parseHTTPResponse_v2") => ["parse", "HTTP", "Response", "v", "2"]
 * @example words("don't stop-believing") => ["don't", "stop", "believing"]
 * @test empty and blank: assert.deepStrictEqual(words(""), []);
 *   assert.deepStrictEqual(words("  --_ !"), []);
 * @test accented letters: assert.deepStrictEqual(words("Crème brûlée"), ["Crème", "brûlée"])
 * @test not a string: assert.throws(() => words(42), TypeError)
 */
function words(text) {
  if (typeof text !== "string") {
    throw new TypeError(`words: expected a string, got ${typeof text}`);
  }
  // An upper-case run not followed by lower case (an acronym), a capitalised or lower-case
  // word (with contractions), a number, or letters of scripts without case.
  const pattern = /\p{Lu}+(?!\p{Ll})|\p{Lu}?\p{Ll}+(?:['’]\p{Ll}+)*|\p{N}+|[\p{L}\p{M}]+/gu;
  return text.normalize("NFC").match(pattern) ?? [];
}
