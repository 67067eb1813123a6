// validate (which renders what Flux would apply with the real kustomize) against its floor and a flux-local-style
// pipeline, on this repo and on the largest pinned public repo (tests/fixtures/repos):
//  - floor: read + Bun.YAML parse of every YAML file of kubernetes/ and talos/ (what any validator must do);
//  - warm: validate in process with its caches filled, as scripts/validate.ts runs it a second time (render cache:
//    no kustomize build runs; schema cache: unchanged documents are not checked against their schema again);
//  - cold: validate in process without a render cache (every Flux Kustomization built with kubectl kustomize);
//  - pipeline: `kubectl kustomize` of every Flux Kustomization path, one after another (what flux-local-style CI
//    does before it checks anything).
// Goals (issue 12): warm <= 3x the floor; cold >= 5x faster than the pipeline.
// Run: bun bench/validate.ts [--rounds N] [--repo DIR]... [--skip-cold]
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { compare, median, ratio, runCommand, timeOnce } from "../lib/bench/index.ts";
import { validateRepo } from "../lib/checks/index.ts";
import { loadRenderedRepo } from "../lib/repo/load.ts";

const root = path.resolve(import.meta.dir, "..");
const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf("--rounds") + 1] ?? 0) || 5;
const skipCold = args.includes("--skip-cold");
const repos = args.flatMap((a, i) => (args[i - 1] === "--repo" ? [path.resolve(a)] : []));
if (repos.length === 0) repos.push(root, largestFixture());
const ms = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(1)} ms`);

function largestFixture(): string {
  const dir = path.join(root, "tests/fixtures/repos");
  const sizes = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => ({ dir: path.join(dir, e.name), n: yamlFiles(path.join(dir, e.name), "kubernetes").length }));
  return sizes.sort((a, b) => b.n - a.n)[0]!.dir;
}

function yamlFiles(dir: string, rel: string, out: string[] = []): string[] {
  let entries;
  try {
    entries = readdirSync(path.join(dir, rel), { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const r = `${rel}/${e.name}`;
    if (e.isDirectory()) yamlFiles(dir, r, out);
    else if (/\.ya?ml$/.test(e.name)) out.push(r);
  }
  return out;
}

function floor(dir: string): number {
  let docs = 0;
  for (const f of [...yamlFiles(dir, "kubernetes"), ...yamlFiles(dir, "talos")]) {
    try {
      const v = Bun.YAML.parse(readFileSync(path.join(dir, f), "utf8"));
      docs += Array.isArray(v) ? v.length : 1;
    } catch {
      docs += 1;
    }
  }
  return docs;
}

console.log(`validate benchmark (warm: median of ${rounds}; cold and pipeline: one run each; the machine's load affects all alike)\n`);
const kubectl = Bun.which("kubectl");
for (const repo of repos) {
  const scratch = mkdtempSync(path.join(tmpdir(), "home-ops-bench-"));
  const cacheFile = path.join(scratch, "render.json");
  const schemaCache = path.join(scratch, "validate-schema.json");
  try {
    const first = await loadRenderedRepo(repo, { mode: "lenient", cacheFile });
    const paths = [...new Set(first.render.clusters.flatMap((c) => c.paths))];
    const docs = first.models[0]?.documents.length ?? 0;
    console.log(`${path.relative(root, repo) || "this repo"}: ${docs} documents, ${first.render.clusters.length} cluster(s), ${paths.length} Flux paths built`);
    const r = await compare({ floor: () => floor(repo), warm: () => validateRepo(repo, { renderCacheFile: cacheFile, cacheFile: schemaCache }) }, rounds);
    console.log(`  floor (read + Bun.YAML parse)   ${ms(r.floor!)}`);
    console.log(`  validate, render cache warm     ${ms(r.warm!)}   = ${ratio(r.warm!, r.floor!)} the floor (goal <= 3x)`);
    let cold: number | undefined;
    if (!skipCold) {
      cold = median([await timeOnce(() => validateRepo(repo))]);
      console.log(`  validate, cold (no cache)       ${ms(cold)}`);
    }
    if (kubectl) {
      // a folder without a kustomization.yaml fails here (Flux would generate one): it still costs a kustomize run
      let failed = 0;
      const pipeline = await timeOnce(async () => {
        for (const p of paths) await runCommand([kubectl, "kustomize", "--load-restrictor", "LoadRestrictionsNone", path.join(repo, p)]).catch(() => failed++);
      });
      console.log(`  pipeline (kubectl kustomize x${paths.length}, sequential)  ${ms(pipeline)}${failed ? ` (${failed} without a kustomization.yaml failed)` : ""}`);
      if (cold !== undefined) console.log(`  => cold validate is ${(pipeline / cold).toFixed(2)}x the pipeline's speed (goal >= 5x); warm ${(pipeline / r.warm!).toFixed(1)}x`);
    } else console.log("  pipeline: skipped (kubectl not on PATH)");
    console.log();
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
