/**
 * A byte count as a short text in KiB or MiB, with one decimal.
 * @param {number} bytes the count
 * @returns {string} e.g. "1.5 KiB"
 * @example formatBytes(1536) => "1.5 KiB"
 * @test small: assert.equal(formatBytes(12), "12 B")
 */
function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}
