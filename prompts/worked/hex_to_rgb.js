/**
 * The red, green and blue parts of a CSS hex colour like "#ff8000".
 * @param {string} hex the colour, "#" and six hex digits
 * @returns {{r: number, g: number, b: number}} each part, 0 to 255
 * @example hexToRgb("#ff8000") => {r: 255, g: 128, b: 0}
 * @test black: assert.deepStrictEqual(hexToRgb("#000000"), {r: 0, g: 0, b: 0})
 */
function hexToRgb(hex) {
  const part = (i) => parseInt(hex.slice(i, i + 2), 16);
  return { r: part(1), g: part(3), b: part(5) };
}
