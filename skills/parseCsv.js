/**
 * Parses CSV text (RFC 4180) into rows of string fields: handles quoted fields with
 * delimiters, doubled quotes ("") and line breaks inside them, and \n or \r\n line ends.
 * Blank lines are skipped.
 * @param {string} text the CSV text
 * @param {string} [delimiter=","] the field separator, one character (e.g. ";" or "\t")
 * @returns {string[][]} one array of fields per row
 * @example parseCsv("name,age\nAda,36\n") => [["name", "age"], ["Ada", "36"]]
 * @example parseCsv('a,"b,c","say ""hi"""') => [["a", "b,c", 'say "hi"']]
 * @test line breaks inside quotes: assert.deepStrictEqual(parseCsv('"line 1\nline 2",x\r\ny,z'),
 *   [["line 1\nline 2", "x"], ["y", "z"]])
 * @test empty fields and blank lines: assert.deepStrictEqual(parseCsv("a,,\n\n,b"), [["a", "", ""], ["", "b"]]);
 *   assert.deepStrictEqual(parseCsv(""), []);
 *   assert.deepStrictEqual(parseCsv('""'), [[""]])
 * @test other delimiter: assert.deepStrictEqual(parseCsv("a;b\n1;2", ";"), [["a", "b"], ["1", "2"]])
 * @test unterminated quote: assert.throws(() => parseCsv('a\n"b,c'), /line 2/)
 * @test bad arguments: assert.throws(() => parseCsv(null), TypeError);
 *   assert.throws(() => parseCsv("a", ""), RangeError);
 *   assert.throws(() => parseCsv("a", '"'), RangeError)
 */
function parseCsv(text, delimiter = ",") {
  if (typeof text !== "string") {
    throw new TypeError(`parseCsv: expected a string, got ${typeof text}`);
  }
  if (typeof delimiter !== "string" || delimiter.length !== 1 || '"\r\n'.includes(delimiter)) {
    throw new RangeError("parseCsv: delimiter must be one character other than a quote or a line break");
  }
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false; // the current field had quotes, so it exists even when empty
  const endField = () => {
    row.push(field);
    field = "";
    quoted = false;
  };
  const endRow = () => {
    if (row.length > 0 || field !== "" || quoted) {
      endField();
      rows.push(row);
    }
    row = [];
  };
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '"' && field === "" && !quoted) {
      // A quoted field runs to the next lone quote; "" inside it stands for one quote.
      let from = i + 1;
      for (;;) {
        const close = text.indexOf('"', from);
        if (close === -1) {
          const line = text.slice(0, i).split("\n").length;
          throw new SyntaxError(`parseCsv: the quoted field starting on line ${line} is never closed`);
        }
        field += text.slice(from, close);
        if (text[close + 1] !== '"') {
          i = close + 1;
          break;
        }
        field += '"';
        from = close + 2;
      }
      quoted = true;
    } else if (ch === delimiter) {
      endField();
      i += 1;
    } else if (ch === "\n" || ch === "\r") {
      endRow();
      i += ch === "\r" && text[i + 1] === "\n" ? 2 : 1;
    } else {
      field += ch;
      i += 1;
    }
  }
  endRow();
  return rows;
}
