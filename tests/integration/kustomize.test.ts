/**
 * Every directory with a kustomization.yaml builds with the real `kubectl kustomize` (offline), and every YAML
 * manifest under kubernetes/ is part of some build (a file no kustomization lists never reaches the cluster).
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { loadRepo } from "../../lib/repo/model.ts";

const ROOT = path.resolve(import.meta.dir, "../..");
const KUBECTL = [process.env.HOMEOPS_KUBECTL, Bun.which("kubectl")].find((p): p is string => !!p && existsSync(p));
const CI = process.env.CI === "true";
if (!KUBECTL && !CI) console.warn("tests/integration/kustomize: skipped, kubectl is not installed (it is on the CI image)");
const model = loadRepo(ROOT);

async function build(dir: string): Promise<{ dir: string; code: number; stdout: string; stderr: string }> {
  const p = Bun.spawn([KUBECTL!, "kustomize", path.join(ROOT, dir)], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { dir, code, stdout, stderr: stderr || (p.signalCode ? `killed by ${p.signalCode}` : `exit ${code}`) };
}

/** The image's kubectl is a dispatcher wrapper that fails without a message when dozens start at once: 4 at a time. */
async function buildAll(dirs: string[], limit = 4): Promise<Awaited<ReturnType<typeof build>>[]> {
  const out: Awaited<ReturnType<typeof build>>[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < dirs.length) {
        const d = dirs[next++]!;
        out.push(await build(d));
      }
    }),
  );
  return out;
}

describe.skipIf(!KUBECTL && !CI)("kubectl kustomize", () => {
  test("kubectl is available (CI must not skip these builds)", () => {
    expect(KUBECTL ?? "kubectl not found in HOMEOPS_KUBECTL or on PATH").toMatch(/kubectl$/);
  });

  test("the model lists every kustomization directory", () => {
    const found: string[] = [];
    const walk = (rel: string) => {
      for (const e of readdirSync(path.join(ROOT, rel), { withFileTypes: true })) {
        if (e.isDirectory()) walk(`${rel}/${e.name}`);
        else if (e.name === "kustomization.yaml") found.push(rel);
      }
    };
    walk("kubernetes");
    expect([...model.kustomizeDirs].sort()).toEqual(found.sort());
    expect(found.length).toBeGreaterThan(20);
  });

  test("every kustomization builds, and together they include every manifest", async () => {
    const results = await buildAll(model.kustomizeDirs);
    expect(results.filter((r) => r.code !== 0).map((r) => `${r.dir}: ${r.stderr.trim()}`)).toEqual([]);

    // Which documents reached some build output: match kind + name (+ namespace when written).
    const built = new Set<string>();
    for (const r of results)
      for (const o of r.stdout.split(/^---$/m).map((t) => Bun.YAML.parse(t) as Record<string, any> | null))
        if (o?.kind) built.add(`${o.kind}/${o.metadata?.name}`);
    const missing = model.documents
      .filter((d) => d.file.startsWith("kubernetes/") && !/(^|\/)kustomization\.yaml$/.test(d.file) && d.kind)
      .filter((d) => !built.has(`${d.kind}/${d.name}`))
      .map((d) => `${d.file}:${d.line} ${d.kind}/${d.name}`);
    expect(missing).toEqual([]);
  }, 180_000);

  test("a broken kustomization fails the build with kustomize's message (the test can fail)", async () => {
    const dir = path.join(Bun.env.TMPDIR ?? "/tmp", `kustomize-broken-${process.pid}`);
    await Bun.write(path.join(dir, "kustomization.yaml"), "resources:\n  - ./missing.yaml\n");
    const p = Bun.spawn([KUBECTL!, "kustomize", dir], { stdout: "pipe", stderr: "pipe" });
    const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
    expect(code).not.toBe(0);
    expect(stderr).toContain("missing.yaml");
    await Bun.$`rm -rf ${dir}`.quiet();
  });
});
