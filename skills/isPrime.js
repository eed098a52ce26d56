/**
 * Tells whether a number is prime: an integer greater than 1 that only 1 and itself divide.
 * Non-integers and numbers below 2 are not prime.
 * @param {number} n the number to test (at most Number.MAX_SAFE_INTEGER)
 * @returns {boolean} true for a prime
 * @example isPrime(97) => true
 * @example isPrime(91) => false
 * @test small numbers: assert.deepStrictEqual([0, 1, 2, 3, 4, 5, 9, 25].map((n) => isPrime(n)),
 *   [false, false, true, true, false, true, false, false])
 * @test not integers or negative: assert.equal(isPrime(7.5), false);
 *   assert.equal(isPrime(-7), false)
 * @test large prime: assert.equal(isPrime(2147483647), true)
 * @test bad input: assert.throws(() => isPrime("7"), TypeError);
 *   assert.throws(() => isPrime(2 ** 60), RangeError)
 */
function isPrime(n) {
  if (typeof n !== "number") {
    throw new TypeError(`isPrime: expected a number, got ${typeof n}`);
  }
  if (Number.isInteger(n) && !Number.isSafeInteger(n)) {
    throw new RangeError(`isPrime: ${n} is beyond Number.MAX_SAFE_INTEGER and cannot be tested exactly`);
  }
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0 || n % 3 === 0) return n === 2 || n === 3;
  // Every prime above 3 is 6k - 1 or 6k + 1.
  for (let d = 5; d * d <= n; d += 6) {
    if (n % d === 0 || n % (d + 2) === 0) return false;
  }
  return true;
}
