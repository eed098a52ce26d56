/**
 * Turns text into a URL slug: lower-case ASCII letters and digits separated by single
 * hyphens, with accents removed, apostrophes dropped and everything else a separator.
 * @param {string} text the text, e.g. a title
 * @returns {string} the slug, "" when nothing is left
 * @example slugify("Hello, World!") => "hello-world"
 * @example slugify("Crème Brûlée: A Recipe") => "creme-brulee-a-recipe"
 * @example slugify("Don't Stop 2") => "dont-stop-2"
 * @test trims separators: assert.equal(slugify("  --Rock & Roll--  "), "rock-roll")
 * @test nothing left: assert.equal(slugify("¿?!"), "");
 *   assert.equal(slugify(""), "")
 * @test not a string: assert.throws(() => slugify(7), TypeError)
 */
function slugify(text) {
  return removeDiacritics(text)
    .toLowerCase()
    .replace(/['’]/g, "")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");
}
