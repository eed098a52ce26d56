/**
 * Greatest common divisor of two integers (Euclid's algorithm): the largest integer dividing
 * both; never negative, and gcd(0, 0) is 0.
 * @param {number} a an integer
 * @param {number} b an integer
 * @returns {number} the greatest common divisor
 * @example gcd(12, 18) => 6
 * @example gcd(-4, 6) => 2
 * @example gcd(17, 31) => 1
 * @test zeros: assert.equal(gcd(0, 5), 5);
 *   assert.equal(gcd(0, 0), 0)
 * @test non-integers: assert.throws(() => gcd(1.5, 3), RangeError);
 *   assert.throws(() => gcd(2 ** 60, 3), RangeError);
 *   assert.throws(() => gcd("4", 2), TypeError)
 */
function gcd(a, b) {
  for (const n of [a, b]) {
    if (typeof n !== "number") {
      throw new TypeError(`gcd: expected integers, got ${typeof n}`);
    }
    if (!Number.isSafeInteger(n)) {
      throw new RangeError(`gcd: expected safe integers, got ${n}`);
    }
  }
  let x = Math.abs(a);
  let y = Math.abs(b);
  while (y !== 0) {
    [x, y] = [y, x % y];
  }
  return x;
}
