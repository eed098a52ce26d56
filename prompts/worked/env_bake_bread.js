/**
 * Bakes loaves of bread from flour it buys, two cups of flour a loaf.
 * @param {number} [loaves] how many loaves to bake
 * @returns {object} the pantry afterwards
 * @capability buy
 * @capability bake
 * @test two loaves: const pantry = bakeBread(2); assert.equal(pantry["bread"], 2)
 */
function bakeBread(loaves = 1) {
  host.call("buy", { item: "flour", count: 2 * loaves });
  let result;
  for (let i = 0; i < loaves; i++) {
    result = host.call("bake", { item: "bread", uses: [{ item: "flour", count: 2 }] });
  }
  return result.state.pantry;
}
