/**
 * Converts text to Title Case: each word capitalised and the rest of it lower-cased, words
 * joined by single spaces (punctuation, `_`, `-` and camelCase humps separate words).
 * @param {string} text the text to convert
 * @returns {string} the text in Title Case
 * @example titleCase("the quick brown fox") => "The Quick Brown Fox"
 * @example titleCase("HELLO_WORLD-again") => "Hello World Again"
 * @example titleCase("don't stop") => "Don't Stop"
 * @test camelCase input: assert.equal(titleCase("parseHttpResponse"), "Parse Http Response")
 * @test empty: assert.equal(titleCase(""), "");
 *   assert.equal(titleCase(" ... "), "");
 * @test not a string: assert.throws(() => titleCase(undefined), TypeError)
 */
function titleCase(text) {
  return words(text)
    .map((word) => capitalize(word.toLowerCase()))
    .join(" ");
}
