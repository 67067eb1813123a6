import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { validateRepo } from "../../lib/checks/index.ts";
import { cleanup, copyRepo } from "../fixtures/broken/harness.ts";

/**
 * Malformed input never crashes validate: truncated, garbage, binary, huge, deeply nested and alias-bomb YAML all
 * end as findings (exit 1) — never an exception, never a check family stopping on unexpected input.
 */
const root = path.resolve(import.meta.dir, "../..");

/** Deterministic PRNG (mulberry32) so a failing case can be replayed. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function yamlFiles(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...yamlFiles(dir, r));
    else if (/\.ya?ml$/.test(e.name)) out.push(r);
  }
  return out;
}

const FILES = [...yamlFiles(root, "kubernetes"), ...yamlFiles(root, "talos")].sort();

function parses(text: string): boolean {
  try {
    return parseAllDocuments(text, { uniqueKeys: true }).every((d) => d.errors.length === 0);
  } catch {
    return false;
  }
}

async function run(mutate: (dir: string) => void) {
  const dir = copyRepo();
  try {
    mutate(dir);
    const r = await validateRepo(dir);
    return r;
  } finally {
    cleanup(dir);
  }
}

function expectNoCrash(r: Awaited<ReturnType<typeof validateRepo>>) {
  const internal = r.findings.filter((f) => f.id.endsWith("/internal"));
  expect(internal.map((f) => f.message)).toEqual([]);
  for (const f of r.findings) {
    expect(typeof f.file).toBe("string");
    expect(Number.isInteger(f.line)).toBe(true);
    expect(f.message.length).toBeGreaterThan(0);
  }
}

describe("fuzz: malformed YAML gives findings, never a crash", () => {
  const random = rng(20261126);
  const cases: Array<{ name: string; file: string; make: (text: string) => string }> = [];
  for (let i = 0; i < 24; i++) {
    const file = FILES[Math.floor(random() * FILES.length)]!;
    const cut = random();
    cases.push({ name: `truncated ${file} at ${(cut * 100).toFixed(0)}%`, file, make: (t) => t.slice(0, Math.max(1, Math.floor(t.length * cut))) });
  }
  for (let i = 0; i < 8; i++) {
    const file = FILES[Math.floor(random() * FILES.length)]!;
    const seed = Math.floor(random() * 1e9);
    cases.push({
      name: `garbage bytes in ${file} (seed ${seed})`,
      file,
      make: (t) => {
        const r = rng(seed);
        const chars = [...t];
        for (let k = 0; k < 12; k++) chars[Math.floor(r() * chars.length)] = String.fromCharCode(Math.floor(r() * 128));
        return chars.join("");
      },
    });
  }
  const pick = (n: number) => FILES[n % FILES.length]!;
  cases.push({ name: "binary file", file: pick(3), make: () => String.fromCharCode(...Array.from({ length: 512 }, (_, i) => (i * 37) % 256)) });
  cases.push({ name: "empty file", file: pick(5), make: () => "" });
  cases.push({ name: "only separators", file: pick(7), make: () => "---\n---\n---\n" });
  cases.push({ name: "a list instead of an object", file: pick(9), make: () => "- a\n- b\n" });
  cases.push({ name: "a bare scalar", file: pick(11), make: () => "just some text\n" });
  cases.push({ name: "JSON with a syntax error", file: pick(13), make: () => '{"apiVersion": "v1", "kind": ' });
  cases.push({ name: "unterminated quote", file: pick(15), make: (t) => t.replace(/: /, ': "') });
  cases.push({ name: "alias bomb", file: pick(17), make: () => ["a: &a [x, x, x, x, x, x, x, x, x]", ...Array.from({ length: 12 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}]`)].join("\n") + "\n" });
  cases.push({ name: "undefined alias", file: pick(19), make: () => "apiVersion: v1\nkind: ConfigMap\nmetadata: *nothing\n" });
  cases.push({ name: "deep nesting", file: pick(21), make: () => "a:\n" + Array.from({ length: 2000 }, (_, i) => `${" ".repeat((i + 1) * 2)}k${i}:`).join("\n") + " x\n" });
  cases.push({ name: "deep flow nesting", file: pick(23), make: () => "a: " + "[".repeat(5000) + "]".repeat(4999) + "\n" });
  cases.push({ name: "wrong types everywhere", file: "kubernetes/apps/kube-system/cilium/config/bgp.yaml", make: (t) => t.replace(/: [^\n]+/g, ": [1, {x: 2}]") });
  cases.push({ name: "talconfig replaced by a list", file: "talos/talconfig.yaml", make: () => "- clusterName: x\n" });
  cases.push({ name: "talconfig garbage", file: "talos/talconfig.yaml", make: (t) => t.replace(/nodes:/, "nodes: {{{") });

  for (const c of cases) {
    test(c.name, async () => {
      let mutated = "";
      const r = await run((dir) => {
        const abs = path.join(dir, c.file);
        mutated = c.make(readFileSync(abs, "utf8"));
        writeFileSync(abs, mutated);
      });
      expectNoCrash(r);
      // text that no longer parses must be reported (exit 1); text that still parses may be a valid repo
      if (!parses(mutated)) expect(r.findings.filter((f) => f.severity === "error").length).toBeGreaterThan(0);
    }, 60_000);
  }

  const configMaps = (n: number) =>
    Array.from({ length: n }, (_, i) => `---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big-${i}\n  namespace: nowhere\ndata:\n  k: "${"v".repeat(20)}"\n`).join("");

  test("a huge valid file (30k objects) is read in full", async () => {
    const r = await run((dir) => writeFileSync(path.join(dir, "kubernetes/apps/huge.yaml"), configMaps(30_000)));
    expectNoCrash(r);
    expect(r.documents).toBeGreaterThan(30_000);
  }, 180_000);

  test("a huge broken file (2k objects, then a syntax error) is reported at its line", async () => {
    const text = configMaps(2_000) + "---\nbroken: [\n";
    const r = await run((dir) => writeFileSync(path.join(dir, "kubernetes/apps/huge.yaml"), text));
    expectNoCrash(r);
    const f = r.findings.find((x) => x.file === "kubernetes/apps/huge.yaml");
    expect(f?.id).toBe("yaml/parse");
    expect(f!.line).toBeGreaterThan(text.split("\n").length - 4);
  }, 180_000);

  test("a 10 MB scalar", async () => {
    const r = await run((dir) =>
      writeFileSync(path.join(dir, "kubernetes/apps/huge.yaml"), `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: huge\n  namespace: network\ndata:\n  blob: "${"x".repeat(10_000_000)}\n`),
    );
    expectNoCrash(r);
    expect(r.findings.some((f) => f.file === "kubernetes/apps/huge.yaml")).toBe(true); // the quote is never closed
  }, 180_000);
});

describe("fuzz through the script: exit 1 or 2, never a stack trace", () => {
  async function script(rootDir: string) {
    const proc = Bun.spawn(["bun", "scripts/validate.ts", "--root", rootDir], { cwd: root, env: { ...process.env, NO_COLOR: "1" }, stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { stdout, stderr, code };
  }
  test("every YAML file truncated to half", async () => {
    const dir = copyRepo();
    try {
      for (const f of FILES) {
        const abs = path.join(dir, f);
        const t = readFileSync(abs, "utf8");
        writeFileSync(abs, t.slice(0, Math.floor(t.length / 2)));
      }
      const r = await script(dir);
      expect([1, 2]).toContain(r.code);
      expect(r.stderr).not.toMatch(/\n\s+at .*\.ts:\d+/);
      expect(r.stdout + r.stderr).not.toMatch(/FAIL [a-z]+\/internal:/);
    } finally {
      cleanup(dir);
    }
  }, 120_000);
  test("every YAML file replaced by garbage", async () => {
    const dir = copyRepo();
    try {
      const r0 = rng(7);
      for (const f of FILES) writeFileSync(path.join(dir, f), Array.from({ length: 200 }, () => String.fromCharCode(Math.floor(r0() * 95) + 32)).join(""));
      const r = await script(dir);
      expect([1, 2]).toContain(r.code);
      expect(r.stderr).not.toMatch(/\n\s+at .*\.ts:\d+/);
      expect(r.stdout + r.stderr).not.toMatch(/FAIL [a-z]+\/internal:/);
    } finally {
      cleanup(dir);
    }
  }, 120_000);
});
