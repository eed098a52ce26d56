/**
 * Removes duplicates from an array, keeping the first item for each key. The key is the item
 * itself by default, or given by a function or a property name; keys compare like Set
 * members (objects by identity, NaN equal to NaN).
 * @param {Array} xs the items (not changed)
 * @param {Function|string} [key] a function item => key, or a property name
 * @returns {Array} the first item of each key, in the original order
 * @example uniqueBy([3, 1, 3, 2, 1]) => [3, 1, 2]
 * @example uniqueBy([{ id: 1, v: "a" }, { id: 1, v: "b" }, { id: 2, v: "c" }], "id") => [{ id: 1, v: "a" }, { id: 2, v: "c" }]
 * @example uniqueBy(["apple", "Avocado", "banana"], (s) => s[0].toLowerCase()) => ["apple", "banana"]
 * @test empty: assert.deepStrictEqual(uniqueBy([]), [])
 * @test NaN and zeros: assert.deepStrictEqual(uniqueBy([NaN, NaN, 0, -0]), [NaN, 0])
 * @test bad arguments: assert.throws(() => uniqueBy([1], 42), TypeError);
 *   assert.throws(() => uniqueBy(null), TypeError)
 */
function uniqueBy(xs, key = (x) => x) {
  if (!Array.isArray(xs)) {
    throw new TypeError(`uniqueBy: expected an array, got ${typeof xs}`);
  }
  if (typeof key !== "function" && typeof key !== "string") {
    throw new TypeError("uniqueBy: key must be a function or a property name");
  }
  const keyOf = typeof key === "function" ? key : (x) => x?.[key];
  const seen = new Set();
  return xs.filter((x) => {
    const k = keyOf(x);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
