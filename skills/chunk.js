/**
 * Splits an array into consecutive chunks of `size` items; the last chunk may be shorter.
 * @param {Array} xs the items (not changed)
 * @param {number} size items per chunk, a positive integer
 * @returns {Array[]} the chunks, in order
 * @example chunk([1, 2, 3, 4, 5], 2) => [[1, 2], [3, 4], [5]]
 * @example chunk(["a", "b"], 5) => [["a", "b"]]
 * @test empty array: assert.deepStrictEqual(chunk([], 3), [])
 * @test does not mutate: const xs = [1, 2, 3];
 *   assert.deepStrictEqual(chunk(xs, 1), [[1], [2], [3]]);
 *   assert.deepStrictEqual(xs, [1, 2, 3])
 * @test bad arguments: assert.throws(() => chunk([1], 0), RangeError);
 *   assert.throws(() => chunk([1], 1.5), RangeError);
 *   assert.throws(() => chunk("abc", 1), TypeError)
 */
function chunk(xs, size) {
  if (!Array.isArray(xs)) {
    throw new TypeError(`chunk: expected an array, got ${typeof xs}`);
  }
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`chunk: size must be a positive integer, got ${size}`);
  }
  const chunks = [];
  for (let i = 0; i < xs.length; i += size) {
    chunks.push(xs.slice(i, i + size));
  }
  return chunks;
}
