/**
 * Parses a URL query string such as "?q=hello+world&page=2" into an object of decoded
 * strings: `+` means a space, a key without "=" gets "", and a repeated key collects its
 * values into an array.
 * @param {string} query the query string; a leading "?" is ignored
 * @returns {Object<string, string|string[]>} the parameters
 * @example parseQueryString("?q=hello+world&page=2") => { q: "hello world", page: "2" }
 * @example parseQueryString("tag=a&tag=b&flag") => { tag: ["a", "b"], flag: "" }
 * @test empty: assert.deepStrictEqual(parseQueryString(""), {});
 *   assert.deepStrictEqual(parseQueryString("?"), {})
 * @test percent-encoding: assert.deepStrictEqual(parseQueryString("name=J%C3%BCrgen&eq=a%3Db&x=1=2"),
 *   { name: "Jürgen", eq: "a=b", x: "1=2" })
 * @test bad input: assert.throws(() => parseQueryString("a=%E0%A4%A"), URIError);
 *   assert.throws(() => parseQueryString({ a: 1 }), TypeError)
 */
function parseQueryString(query) {
  if (typeof query !== "string") {
    throw new TypeError(`parseQueryString: expected a string, got ${typeof query}`);
  }
  const params = new Map();
  for (const pair of query.replace(/^\?/, "").split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const key = decodeComponent(eq === -1 ? pair : pair.slice(0, eq));
    const value = decodeComponent(eq === -1 ? "" : pair.slice(eq + 1));
    const previous = params.get(key);
    params.set(key, previous === undefined ? value : [].concat(previous, value));
  }
  return Object.fromEntries(params);
}

/** Decodes one key or value of a query string. */
function decodeComponent(text) {
  try {
    return decodeURIComponent(text.replace(/\+/g, " "));
  } catch {
    throw new URIError(`parseQueryString: malformed percent-encoding in "${text}"`);
  }
}
