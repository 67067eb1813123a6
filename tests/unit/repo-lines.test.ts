/**
 * Property test of the fast line locator: random documents written in several YAML styles (2/4-space indent,
 * sequences indented or not, block scalars, quoted keys, comments, flow collections, multi-document files) must give
 * the same line for every path as the `yaml` package does.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { stringify } from "yaml";
import { lineOf, loadRepo, type RepoDocument } from "../../lib/repo/index.ts";

const dir = mkdtempSync(path.join(tmpdir(), "repo-lines-"));
afterAll(() => { if (!process.env.KEEP_REPO_LINES) rmSync(dir, { recursive: true, force: true }); });

// Deterministic PRNG so a failure reproduces.
let seed = 0x2f96;
const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

const KEYS = ["a", "name", "spec", "with space", "colon:key", "x-y", "0", "true", "k8s.io/label", "- dash", "#hash"];
function value(depth: number): unknown {
  const r = rnd();
  if (depth > 3 || r < 0.3) return pick(["text", 42, true, null, "multi\nline\ntext\n", "a: b", "- x", "#c", "", "---"]);
  if (r < 0.65) {
    const o: Record<string, unknown> = {};
    const n = 1 + Math.floor(rnd() * 4);
    for (let i = 0; i < n; i++) o[pick(KEYS)] = value(depth + 1);
    return o;
  }
  return Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => value(depth + 1));
}

function* paths(v: unknown, p: (string | number)[] = []): Generator<(string | number)[]> {
  if (Array.isArray(v))
    for (let i = 0; i < v.length; i++) {
      yield [...p, i];
      yield* paths(v[i], [...p, i]);
    }
  else if (v && typeof v === "object")
    for (const [k, x] of Object.entries(v)) {
      yield [...p, k];
      yield* paths(x, [...p, k]);
    }
}

test("the locator matches the yaml package on random documents in varied styles", () => {
  mkdirSync(path.join(dir, "kubernetes"), { recursive: true });
  const n = 120;
  for (let i = 0; i < n; i++) {
    const docs = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => ({ kind: "Thing", spec: value(0) }));
    const opts = {
      indent: pick([2, 4]),
      indentSeq: rnd() < 0.5,
      collectionStyle: pick(["any", "any", "any", "flow"] as const),
      lineWidth: 0,
    };
    const body = docs
      .map((d) => (rnd() < 0.3 ? "# a comment\n" : "") + stringify(d, opts))
      .join(pick(["---\n", "---\n\n", "--- # sep\n"]));
    writeFileSync(path.join(dir, "kubernetes", `f${i}.yaml`), (rnd() < 0.3 ? "---\n" : "") + body);
  }
  const m = loadRepo(dir, { mode: "lenient" });
  expect(m.documents.length).toBeGreaterThanOrEqual(n);
  const bad: string[] = [];
  let checked = 0;
  for (const d of m.documents)
    for (const p of paths(d.object)) {
      checked++;
      const fast = lineOf(d, p);
      const slow = lineOf({ doc: d.doc, lineCounter: d.lineCounter, line: d.line, object: undefined } as Pick<RepoDocument, "doc" | "lineCounter" | "line" | "object">, p);
      if (fast !== slow) bad.push(`${d.file} ${JSON.stringify(p)}: fast ${fast}, yaml ${slow}`);
    }
  expect(bad.slice(0, 10)).toEqual([]);
  expect(checked).toBeGreaterThan(1000);
});
