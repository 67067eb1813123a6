/**
 * The pseudo-terminal harness's screen model (tests/scripts/pty-harness.ts): a pty hands output over in chunks cut
 * anywhere, even inside an escape sequence, and the screen must read it as the terminal does.
 */
import { describe, expect, test } from "bun:test";
import { Screen } from "../scripts/pty-harness.ts";

describe("the pty screen model", () => {
  const row = "│ mini01 │ \x1b[90mReady\x1b[39m │";
  const shown = "│ mini01 │ Ready │";
  const width = Bun.stringWidth(shown);
  for (let cut = 1; cut < row.length; cut++)
    test(`a row cut into two chunks at ${cut} reads as the row it is, as wide as the terminal`, () => {
      const s = new Screen(width);
      s.feed(row.slice(0, cut));
      s.feed(`${row.slice(cut)}\n`);
      expect(s.all()).toEqual([shown]);
      expect(s.overflow).toEqual([]);
    });

  test("a row wider than the terminal is overflow", () => {
    const s = new Screen(width - 1);
    s.feed(`${row}\n`);
    expect(s.overflow.length).toBeGreaterThan(0);
  });
});
