/**
 * Waters every garden bed that looks dry and says how many it watered.
 * @returns {number} the beds watered
 * @capability look
 * @capability water
 * @test waters the dry beds: assert.ok(waterDryBeds() >= 0)
 */
function waterDryBeds() {
  const beds = host.call("look", {}).state.beds;
  let watered = 0;
  for (const bed of beds) {
    if (bed.moisture < 0.3) {
      host.call("water", { bed: bed.id, litres: 2 });
      watered += 1;
    }
  }
  return watered;
}
