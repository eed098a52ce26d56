// Reference solutions of eval/compositional.jsonl, in one file so later functions call
// earlier ones. Only the test `compositional_suite_is_satisfiable` reads this file: it
// proves each task's tests can be passed. No model sees it.

function tokenize(text) {
  return text.toLowerCase().match(/[a-z0-9]+/g) || [];
}

function word_counts(text) {
  const counts = {};
  for (const word of tokenize(text)) counts[word] = (counts[word] || 0) + 1;
  return counts;
}

function top_k_words(text, k) {
  const counts = word_counts(text);
  return Object.keys(counts)
    .sort((a, b) => counts[b] - counts[a] || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, k);
}

function unique_words(text) {
  return [...new Set(tokenize(text))].sort();
}

function mean(xs) {
  return xs.length === 0 ? 0 : xs.reduce((s, x) => s + x, 0) / xs.length;
}

function variance(xs) {
  const m = mean(xs);
  return mean(xs.map((x) => (x - m) * (x - m)));
}

function std_dev(xs) {
  return Math.sqrt(variance(xs));
}

function z_scores(xs) {
  const m = mean(xs);
  const s = std_dev(xs);
  return xs.map((x) => (s === 0 ? 0 : (x - m) / s));
}

function score_word(word) {
  let score = 0;
  for (const c of word.toLowerCase()) {
    if (c >= "a" && c <= "z") score += c.charCodeAt(0) - 96;
  }
  return score;
}

function rank_words(words) {
  return [...words].sort((a, b) => score_word(b) - score_word(a) || (a < b ? -1 : a > b ? 1 : 0));
}

function best_word(text) {
  const ranked = rank_words(tokenize(text));
  return ranked.length === 0 ? "" : ranked[0];
}

function jaccard_similarity(a, b) {
  const wa = unique_words(a);
  const wb = new Set(unique_words(b));
  const shared = wa.filter((w) => wb.has(w)).length;
  const union = new Set([...wa, ...wb]).size;
  return union === 0 ? 0 : shared / union;
}

function most_similar(query, docs) {
  let best = -1;
  let bestScore = -1;
  docs.forEach((doc, i) => {
    const score = jaccard_similarity(query, doc);
    if (score > bestScore) {
      best = i;
      bestScore = score;
    }
  });
  return best;
}
