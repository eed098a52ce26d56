/**
 * Statistics of a text: words, sentences, the most frequent words and a slug of the first sentence.
 * @param {string} text the text
 * @returns {{words: number, sentences: number, top: string[], longest: string, slug: string}}
 * @test counts: const s = textStats("A b. A c!"); assert.equal(s.words, 4); assert.equal(s.sentences, 2);
 * @test top words: assert.deepStrictEqual(textStats("x y x z x y").top, ["x", "y", "z"]);
 * @example textStats("Hello, World.").slug => "hello-world"
 */
function textStats(text) {
  const words = tokenize(text);
  const counts = new Map();
  for (const word of words) {
    counts.set(word, (counts.get(word) || 0) + 1);
  }
  const top = [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, 3)
    .map(([word]) => word);
  const sentences = splitSentences(text);
  let longest = "";
  for (const word of words) {
    if (word.length > longest.length) {
      longest = word;
    }
  }
  return {
    words: words.length,
    sentences: sentences.length,
    top,
    longest,
    slug: slugify(sentences[0] || ""),
  };
}

function tokenize(text) {
  return text
    .toLowerCase()
    .split(/[^a-z0-9']+/)
    .filter((word) => word.length > 0);
}

function splitSentences(text) {
  return text
    .split(/[.!?;]+/)
    .map((sentence) => sentence.trim())
    .filter((sentence) => sentence.length > 0);
}

function slugify(sentence) {
  return tokenize(sentence).join("-").slice(0, 64);
}
