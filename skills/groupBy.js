/**
 * Groups the items of an array into an object of arrays by a key: a function of the item or
 * a property name. Keys become strings (like any object key); groups keep the items' order.
 * @param {Array} xs the items
 * @param {Function|string} key a function item => key, or a property name
 * @returns {Object<string, Array>} the items of each key
 * @example groupBy([1, 2, 3, 4, 5], (n) => (n % 2 === 0 ? "even" : "odd")) => { odd: [1, 3, 5], even: [2, 4] }
 * @example groupBy([{ type: "fruit", name: "fig" }, { type: "veg", name: "leek" }, { type: "fruit", name: "kiwi" }], "type") => { fruit: [{ type: "fruit", name: "fig" }, { type: "fruit", name: "kiwi" }], veg: [{ type: "veg", name: "leek" }] }
 * @test empty: assert.deepStrictEqual(groupBy([], "x"), {})
 * @test keys become strings: assert.deepStrictEqual(groupBy([1.5, 2.5, 1.2], Math.floor), { 1: [1.5, 1.2], 2: [2.5] });
 *   assert.deepStrictEqual(Object.keys(groupBy([{}], "missing")), ["undefined"])
 * @test any key is a plain own property: const groups = groupBy([{ k: "__proto__" }], "k");
 *   assert.deepStrictEqual(Object.keys(groups), ["__proto__"]);
 *   assert.equal(Object.getPrototypeOf(groups), Object.prototype)
 * @test bad arguments: assert.throws(() => groupBy("abc", "x"), TypeError);
 *   assert.throws(() => groupBy([1], 3), TypeError)
 */
function groupBy(xs, key) {
  if (!Array.isArray(xs)) {
    throw new TypeError(`groupBy: expected an array, got ${typeof xs}`);
  }
  if (typeof key !== "function" && typeof key !== "string") {
    throw new TypeError("groupBy: key must be a function or a property name");
  }
  const keyOf = typeof key === "function" ? key : (x) => x?.[key];
  const groups = new Map();
  for (const x of xs) {
    const k = String(keyOf(x));
    if (groups.has(k)) groups.get(k).push(x);
    else groups.set(k, [x]);
  }
  // fromEntries defines own properties, so even a key like "__proto__" stays plain data.
  return Object.fromEntries(groups);
}
