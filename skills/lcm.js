/**
 * Least common multiple of two integers: the smallest non-negative integer that both divide;
 * 0 when either is 0.
 * @param {number} a an integer
 * @param {number} b an integer
 * @returns {number} the least common multiple
 * @example lcm(4, 6) => 12
 * @example lcm(-3, 5) => 15
 * @example lcm(21, 6) => 42
 * @test zeros: assert.strictEqual(lcm(0, 5), 0);
 *   assert.strictEqual(lcm(-7, 0), 0);
 *   assert.strictEqual(lcm(0, 0), 0)
 * @test too large: assert.throws(() => lcm(2 ** 52, 3), RangeError)
 * @test bad input: assert.throws(() => lcm(2.5, 2), RangeError);
 *   assert.throws(() => lcm("4", 6), TypeError)
 */
function lcm(a, b) {
  const divisor = gcd(a, b); // also checks that a and b are safe integers
  if (divisor === 0) return 0;
  const multiple = Math.abs((a / divisor) * b);
  if (!Number.isSafeInteger(multiple)) {
    throw new RangeError(`lcm: the result for ${a} and ${b} exceeds Number.MAX_SAFE_INTEGER`);
  }
  return multiple;
}
