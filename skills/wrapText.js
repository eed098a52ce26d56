/**
 * Wraps text into lines of at most `width` characters, breaking at spaces (greedy). Existing
 * line breaks are kept, runs of spaces collapse, and a word longer than `width` gets a line
 * of its own.
 * @param {string} text the text to wrap
 * @param {number} width the longest line, in characters (at least 1)
 * @returns {string} the wrapped lines joined by "\n"
 * @example wrapText("the quick brown fox jumps", 10) => "the quick\nbrown fox\njumps"
 * @example wrapText("a b c", 80) => "a b c"
 * @test keeps line breaks: assert.equal(wrapText("one two\nthree four", 7), "one two\nthree\nfour");
 *   assert.equal(wrapText("a\n\nb", 5), "a\n\nb")
 * @test long word: assert.equal(wrapText("a extraordinarily b", 5), "a\nextraordinarily\nb")
 * @test collapses spaces: assert.equal(wrapText("  a   b  ", 10), "a b");
 *   assert.equal(wrapText("", 10), "")
 * @test bad width: assert.throws(() => wrapText("abc", 0), RangeError);
 *   assert.throws(() => wrapText(null, 10), TypeError)
 */
function wrapText(text, width) {
  if (typeof text !== "string") {
    throw new TypeError(`wrapText: expected a string, got ${typeof text}`);
  }
  if (!Number.isInteger(width) || width < 1) {
    throw new RangeError(`wrapText: width must be a positive integer, got ${width}`);
  }
  return text
    .split(/\r?\n/)
    .map((line) => wrapLine(line, width))
    .join("\n");
}

/** Greedy wrap of one line without line breaks. */
function wrapLine(line, width) {
  const lines = [];
  let current = [];
  let length = 0;
  for (const token of line.split(/\s+/)) {
    if (token === "") continue;
    const size = Array.from(token).length;
    if (current.length > 0 && length + 1 + size > width) {
      lines.push(current.join(" "));
      current = [];
      length = 0;
    }
    length += (current.length > 0 ? 1 : 0) + size;
    current.push(token);
  }
  lines.push(current.join(" "));
  return lines.join("\n");
}
