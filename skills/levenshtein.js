/**
 * Edit distance between two strings: the fewest single-character insertions, deletions and
 * substitutions that turn one into the other (counted in Unicode code points).
 * @param {string} a the first string
 * @param {string} b the second string
 * @returns {number} the distance, 0 when the strings are equal
 * @example levenshtein("kitten", "sitting") => 3
 * @example levenshtein("flaw", "lawn") => 2
 * @test identical and empty: assert.equal(levenshtein("abc", "abc"), 0);
 *   assert.equal(levenshtein("", "abc"), 3);
 *   assert.equal(levenshtein("", ""), 0)
 * @test symmetric: assert.equal(levenshtein("sunday", "saturday"), 3);
 *   assert.equal(levenshtein("saturday", "sunday"), 3)
 * @test emoji count once: assert.equal(levenshtein("a😀", "a😃"), 1)
 * @test not strings: assert.throws(() => levenshtein("a", null), TypeError)
 */
function levenshtein(a, b) {
  if (typeof a !== "string" || typeof b !== "string") {
    throw new TypeError("levenshtein: both arguments must be strings");
  }
  const s = Array.from(a);
  const t = Array.from(b);
  // previous[j] is the distance between the first i-1 characters of s and the first j of t.
  let previous = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const current = [i];
    for (let j = 1; j <= t.length; j++) {
      const substitution = previous[j - 1] + (s[i - 1] === t[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, substitution);
    }
    previous = current;
  }
  return previous[t.length];
}
