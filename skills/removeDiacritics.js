/**
 * Removes accents and other diacritics from Latin letters ("Crème" becomes "Creme") and
 * spells out letters that have no accent-free form ("ß" becomes "ss", "ø" becomes "o").
 * @param {string} text the text
 * @returns {string} the text without diacritics; other scripts are left as they are
 * @example removeDiacritics("Crème brûlée") => "Creme brulee"
 * @example removeDiacritics("Łódź, Straße") => "Lodz, Strasse"
 * @example removeDiacritics("Ñandú") => "Nandu"
 * @test plain text unchanged: assert.equal(removeDiacritics("hello, world 123"), "hello, world 123");
 *   assert.equal(removeDiacritics(""), "")
 * @test other scripts kept: assert.equal(removeDiacritics("日本語 한국어"), "日本語 한국어")
 * @test not a string: assert.throws(() => removeDiacritics(undefined), TypeError)
 */
function removeDiacritics(text) {
  if (typeof text !== "string") {
    throw new TypeError(`removeDiacritics: expected a string, got ${typeof text}`);
  }
  // Letters that do not decompose into a base letter and a combining mark.
  const spelledOut = { ß: "ss", æ: "ae", Æ: "AE", œ: "oe", Œ: "OE", ø: "o", Ø: "O", ł: "l", Ł: "L", đ: "d", Đ: "D" };
  return text
    .normalize("NFD") // "é" becomes "e" + U+0301
    .replace(/[\u0300-\u036f]/g, "") // drop the combining diacritical marks
    .normalize("NFC") // recompose what is left (e.g. Hangul syllables)
    .replace(/[^\u0000-\u007f]/g, (ch) => spelledOut[ch] ?? ch);
}
