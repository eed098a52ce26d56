/**
 * Counts the items of an array by a key (a function of the item or a property name): an
 * object mapping each key, as a string, to how many items have it.
 * @param {Array} xs the items
 * @param {Function|string} key a function item => key, or a property name
 * @returns {Object<string, number>} the count of each key
 * @example countBy(["apple", "avocado", "banana"], (s) => s[0]) => { a: 2, b: 1 }
 * @example countBy([{ ok: true }, { ok: false }, { ok: true }], "ok") => { true: 2, false: 1 }
 * @test empty: assert.deepStrictEqual(countBy([], "x"), {})
 * @test word frequencies: assert.deepStrictEqual(countBy("the cat saw the hat".split(" "), (w) => w),
 *   { the: 2, cat: 1, saw: 1, hat: 1 })
 * @test bad input: assert.throws(() => countBy(null, "x"), TypeError)
 */
function countBy(xs, key) {
  const groups = groupBy(xs, key);
  return Object.fromEntries(Object.entries(groups).map(([k, items]) => [k, items.length]));
}
