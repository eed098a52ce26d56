/**
 * Converts text to snake_case: lower-case words joined by underscores (apostrophes are
 * dropped), e.g. for Python names or database columns.
 * @param {string} text the text to convert: words, camelCase, PascalCase or kebab-case
 * @returns {string} the snake_case form
 * @example snakeCase("helloWorld") => "hello_world"
 * @example snakeCase("Hello World!") => "hello_world"
 * @example snakeCase("HTTPServerError") => "http_server_error"
 * @test idempotent: assert.equal(snakeCase("already_snake_case"), "already_snake_case")
 * @test empty and apostrophes: assert.equal(snakeCase(""), "");
 *   assert.equal(snakeCase("Don't Panic"), "dont_panic");
 * @test not a string: assert.throws(() => snakeCase(12), TypeError)
 */
function snakeCase(text) {
  return words(text)
    .map((word) => word.replace(/['’]/g, "").toLowerCase())
    .join("_");
}
