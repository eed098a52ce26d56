/**
 * Splits an array in two by a predicate: the items for which it returns a truthy value, then
 * the others, both in their original order.
 * @param {Array} xs the items (not changed)
 * @param {Function} predicate called as predicate(item, index)
 * @returns {Array[]} [matching items, other items]
 * @example partition([1, 2, 3, 4, 5], (n) => n % 2 === 0) => [[2, 4], [1, 3, 5]]
 * @example partition(["a", "", "b"], Boolean) => [["a", "b"], [""]]
 * @test empty: assert.deepStrictEqual(partition([], () => true), [[], []])
 * @test index is passed: assert.deepStrictEqual(partition(["a", "b", "c"], (_, i) => i < 1), [["a"], ["b", "c"]])
 * @test bad arguments: assert.throws(() => partition([1], "x"), TypeError);
 *   assert.throws(() => partition({}, Boolean), TypeError)
 */
function partition(xs, predicate) {
  if (!Array.isArray(xs)) {
    throw new TypeError(`partition: expected an array, got ${typeof xs}`);
  }
  if (typeof predicate !== "function") {
    throw new TypeError("partition: predicate must be a function");
  }
  const matching = [];
  const others = [];
  xs.forEach((x, i) => (predicate(x, i) ? matching : others).push(x));
  return [matching, others];
}
