/**
 * Converts text to camelCase, e.g. for a JavaScript identifier: the first word lower case,
 * each following word capitalised, no separators (apostrophes are dropped).
 * @param {string} text the text to convert: words, snake_case, kebab-case or PascalCase
 * @returns {string} the camelCase form
 * @example camelCase("Hello world") => "helloWorld"
 * @example camelCase("foo_bar-baz 2") => "fooBarBaz2"
 * @example camelCase("XMLHttpRequest") => "xmlHttpRequest"
 * @test apostrophes: assert.equal(camelCase("don't panic"), "dontPanic")
 * @test empty: assert.equal(camelCase(""), "")
 * @test idempotent: assert.equal(camelCase("alreadyCamelCase"), "alreadyCamelCase")
 * @test not a string: assert.throws(() => camelCase(["a", "b"]), TypeError)
 */
function camelCase(text) {
  return words(text)
    .map((word) => word.replace(/['’]/g, "").toLowerCase())
    .map((word, i) => (i === 0 ? word : capitalize(word)))
    .join("");
}
