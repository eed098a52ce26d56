/**
 * Parses CSV text whose first row is a header into one object per data row, keyed by the
 * column names; values stay strings, and a short row gets "" for its missing columns.
 * @param {string} text the CSV text, header first
 * @param {string} [delimiter=","] the field separator, one character
 * @returns {Object<string, string>[]} one object per data row
 * @example csvToObjects("name,age\nAda,36\nAlan,41") => [{ name: "Ada", age: "36" }, { name: "Alan", age: "41" }]
 * @example csvToObjects('city;note\nParis;"big; old"', ";") => [{ city: "Paris", note: "big; old" }]
 * @test header only or empty: assert.deepStrictEqual(csvToObjects("a,b\n"), []);
 *   assert.deepStrictEqual(csvToObjects(""), [])
 * @test short rows are padded: assert.deepStrictEqual(csvToObjects("a,b\n1"), [{ a: "1", b: "" }])
 * @test malformed tables: assert.throws(() => csvToObjects("a\n1,2"), /data row 1 has 2 fields/);
 *   assert.throws(() => csvToObjects("a,a\n1,2"), /column "a" appears twice/)
 */
function csvToObjects(text, delimiter = ",") {
  const [header = [], ...rows] = parseCsv(text, delimiter);
  header.forEach((name, i) => {
    if (header.indexOf(name) !== i) {
      throw new SyntaxError(`csvToObjects: column "${name}" appears twice in the header`);
    }
  });
  return rows.map((row, r) => {
    if (row.length > header.length) {
      throw new SyntaxError(
        `csvToObjects: data row ${r + 1} has ${row.length} fields but the header has ${header.length}`,
      );
    }
    return Object.fromEntries(header.map((name, c) => [name, row[c] ?? ""]));
  });
}
