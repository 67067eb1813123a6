/**
 * lib/repo/safe-read.ts on small inputs: the UTF-8 validator against the decoder's own verdict, document counting,
 * self-reference detection, and what a path is, without opening it.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { countDocuments, firstInvalidUtf8, inspectEntry, isCyclic, lineOfByte, readRepoText } from "../../lib/repo/safe-read.ts";

const fatal = new TextDecoder("utf-8", { fatal: true });
const valid = (b: Uint8Array) => {
  try {
    fatal.decode(b);
    return true;
  } catch {
    return false;
  }
};

describe("UTF-8", () => {
  test.each([
    ["ascii", [0x61, 0x0a], -1],
    ["two bytes", [0xc3, 0xa9], -1],
    ["three bytes", [0xe2, 0x82, 0xac], -1],
    ["four bytes", [0xf0, 0x9f, 0x98, 0x80], -1],
    ["a lone continuation", [0x61, 0x80], 1],
    ["overlong slash", [0xc0, 0xaf], 0],
    ["overlong three", [0xe0, 0x80, 0xaf], 0],
    ["surrogate", [0xed, 0xa0, 0x80], 0],
    ["above U+10FFFF", [0xf4, 0x90, 0x80, 0x80], 0],
    ["truncated at the end", [0x61, 0xe2, 0x82], 1],
    ["0xff", [0xff], 0],
  ])("%s", (_n, bytes, at) => {
    const b = new Uint8Array(bytes as number[]);
    expect(firstInvalidUtf8(b)).toBe(at as number);
    expect(valid(b)).toBe(at === -1);
  });
  test("agrees with the decoder on random bytes", () => {
    let seed = 7;
    const r = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let i = 0; i < 3000; i++) {
      const b = new Uint8Array(Array.from({ length: 1 + (i % 9) }, r));
      expect(firstInvalidUtf8(b) === -1).toBe(valid(b));
    }
  });
  test("lines of byte offsets", () => {
    expect(lineOfByte(Buffer.from("a\nb\nc"), 4)).toBe(3);
    expect(lineOfByte(Buffer.from("abc"), 0)).toBe(1);
  });
});

describe("documents and cycles", () => {
  test("countDocuments counts separators, not `---` inside text", () => {
    expect(countDocuments("a: 1\n")).toBe(1);
    expect(countDocuments("---\na: 1\n---\nb: 2\n")).toBe(2);
    expect(countDocuments("a: |\n  ---x\n")).toBe(1);
    expect(countDocuments("---\n---\n---\n")).toBe(3);
  });
  test("isCyclic: a self-reference is, a shared alias is not", () => {
    const self: Record<string, unknown> = { a: 1 };
    self.me = self;
    expect(isCyclic(self)).toBe(true);
    const shared = { x: 1 };
    expect(isCyclic({ a: shared, b: [shared, shared] })).toBe(false);
    expect(isCyclic("text")).toBe(false);
  });
});

describe("what a path is, never opened when it is not a file in the repo", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "home-ops-safe-read-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(path.join(root, "dir"));
  writeFileSync(path.join(root, "dir", "a.yaml"), "a: 1\n");
  symlinkSync("a.yaml", path.join(root, "dir", "inside.yaml"));
  symlinkSync("/etc/hostname", path.join(root, "dir", "outside.yaml"));
  symlinkSync("/dev/zero", path.join(root, "dir", "zero.yaml"));
  execFileSync("mkfifo", [path.join(root, "dir", "fifo.yaml")]);

  test.each([
    ["dir", "dir"],
    ["dir/a.yaml", "file"],
    ["dir/inside.yaml", "file"],
    ["dir/none.yaml", "missing"],
    ["dir/outside.yaml", "unsafe"],
    ["dir/zero.yaml", "unsafe"],
    ["dir/fifo.yaml", "unsafe"],
    ["../etc/passwd", "unsafe"],
  ])("%s is %s", (rel, kind) => {
    expect(inspectEntry(root, rel).kind).toBe(kind as "file");
  });

  test("readRepoText reads a link inside the repo and refuses the rest with a reason", () => {
    expect(readRepoText(root, "dir/inside.yaml")).toEqual({ ok: true, text: "a: 1\n" });
    const fifo = readRepoText(root, "dir/fifo.yaml");
    expect(fifo.ok).toBe(false);
    if (!fifo.ok) expect(fifo.message).toContain("FIFO");
    const big = readRepoText(root, "dir/a.yaml", { fileBytes: 2, documents: 10 });
    expect(big.ok).toBe(false);
    const many = readRepoText(root, "dir/a.yaml", { fileBytes: 100, documents: 0 });
    expect(many.ok).toBe(false);
  });
});
