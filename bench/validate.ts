// validate (which renders what Flux would apply with the real kustomize) against its floor and a flux-local-style
// pipeline, on this repo and on the largest pinned public repo (tests/fixtures/repos):
//  - floor: read + Bun.YAML parse of every YAML file of kubernetes/ and talos/ (what any validator must do);
//  - warm: validate in process with its caches filled, as scripts/validate.ts runs it a second time on an unchanged
//    repo: the result cache answers after a stat of every file and folder a check reads (lib/checks/result-cache.ts);
//  - edited: the same without the result cache, what a run after an edit costs (render cache: no kustomize build
//    runs; schema cache: unchanged documents are not checked again; secrets and yaml caches: unchanged files are
//    stat'ed, not scanned again);
//  - stat: one stat of every file and folder the result cache covers, paths known in advance (the least a warm run
//    that notices every change costs: the secrets scan covers every committed file);
//  - cold: validate in process without a render cache (every Flux Kustomization built with kubectl kustomize);
//  - pipeline: `kubectl kustomize` of every Flux Kustomization path, one after another (what flux-local-style CI
//    does before it checks anything).
// Goals: (1) warm <= 3x the floor; (2) cold >= 5x faster than the pipeline. Each is printed as its own line with
// the ratio, the goal and whether it is met (judged on wall time), and the same ratio in CPU time (this process and
// the kubectl it ran), which the load of other programs on the machine hardly moves.
// Run: bun bench/validate.ts [--rounds N] [--repo DIR]... [--skip-cold]
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { compare, cpuNow, cpuTime, runCommand, timeOnce } from "../lib/bench/index.ts";
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

/** The files and folders the result cache's fingerprint stats, from the folder listings it keeps. */
function coveredPaths(repo: string, cacheFile: string): string[] {
  const dirs = JSON.parse(readFileSync(cacheFile, "utf8")).dirs as Record<string, [string, string[], string[]]>;
  const toolkit = path.resolve(import.meta.dir, "..");
  const out: string[] = [];
  for (const [id, [, files]] of Object.entries(dirs)) {
    const abs = id.startsWith("@toolkit/") ? path.join(toolkit, id.slice(9)) : path.join(repo, id);
    out.push(abs, ...files.map((f) => path.join(abs, f)));
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

console.log(`validate benchmark (warm: median of ${rounds}; cold and pipeline: one run each; the machine's load affects all alike)`);
// the pipeline runs one kustomize at a time, validate as many as there are cores: goal 2 depends on both
console.log(`${cpus().length} cores, load average ${loadavg()[0]!.toFixed(1)} at the start\n`);
const kubectl = Bun.which("kubectl");
for (const repo of repos) {
  const scratch = mkdtempSync(path.join(tmpdir(), "home-ops-bench-"));
  const cacheFile = path.join(scratch, "render.json");
  const schemaCache = path.join(scratch, "validate-schema.json");
  const secretsCache = path.join(scratch, "validate-secrets.json");
  const yamlCache = path.join(scratch, "validate-yaml.json");
  const resultCache = path.join(scratch, "validate-result.json");
  try {
    const first = await loadRenderedRepo(repo, { mode: "lenient", cacheFile });
    // the render hard-linked the repo's files (their ctime moved): a stat changed in the last 2 s is not trusted to
    // the result cache, so the warm case would not be warm before then
    await Bun.sleep(2100);
    const paths = [...new Set(first.render.clusters.flatMap((c) => c.paths))];
    const docs = first.models[0]?.documents.length ?? 0;
    console.log(`${path.relative(root, repo) || "this repo"}: ${docs} documents, ${first.render.clusters.length} cluster(s), ${paths.length} Flux paths built`);
    let covered: string[] | undefined;
    const cases = {
      floor: () => floor(repo),
      warm: () => validateRepo(repo, { renderCacheFile: cacheFile, cacheFile: schemaCache, secretsCacheFile: secretsCache, yamlCacheFile: yamlCache, resultCacheFile: resultCache }),
      edited: () => validateRepo(repo, { renderCacheFile: cacheFile, cacheFile: schemaCache, secretsCacheFile: secretsCache, yamlCacheFile: yamlCache }),
      // after warm: its first run wrote the listings this reads
      stat: () => (covered ??= coveredPaths(repo, resultCache)).forEach((p) => statSync(p)),
    };
    const r = await compare(cases, rounds);
    const hit = (await cases.warm()).fromCache === true;
    // CPU time (this process and the kubectl it waits for): what the load of other programs hardly changes
    // (CPU ticks are 10 ms: the short cases run often enough to be measured)
    const cpu = {
      floor: await cpuTime(cases.floor, Math.max(rounds, 50)),
      stat: await cpuTime(cases.stat, Math.max(rounds, 20)),
      warm: await cpuTime(cases.warm, Math.max(rounds, 20)),
      edited: await cpuTime(cases.edited, Math.max(rounds, 10)),
    };
    const line = (name: string, what: string, wall: number, c?: number, note = "") => console.log(`  ${name.padEnd(8)} ${what.padEnd(38)} ${ms(wall).padStart(9)} ${(c === undefined ? "?" : ms(c)).padStart(9)}${note}`);
    console.log(`  ${"".padEnd(8)} ${"".padEnd(38)} ${"wall".padStart(9)} ${"cpu".padStart(9)}`);
    line("floor", "read + Bun.YAML parse of the YAML", r.floor!, cpu.floor);
    // what a secrets scan that notices every change costs at least: the scan covers every committed file
    line("stat", `stat of ${covered!.length} files and folders *`, r.stat!, cpu.stat);
    line("warm", "validate again, nothing changed", r.warm!, cpu.warm, hit ? "" : " (the result cache did not answer: a file changed in the last 2 s?)");
    line("edited", "validate again, no result cache", r.edited!, cpu.edited);
    let cold: { wall: number; cpu?: number } | undefined;
    if (!skipCold) {
      const c0 = cpuNow();
      const wall = await timeOnce(() => validateRepo(repo));
      const c1 = cpuNow();
      cold = { wall, cpu: c0 === undefined || c1 === undefined ? undefined : c1 - c0 };
      line("cold", "validate, no cache", cold.wall, cold.cpu);
    }
    let pipeline: { wall: number; cpu?: number } | undefined;
    if (kubectl) {
      // a folder without a kustomization.yaml fails here (Flux would generate one): it still costs a kustomize run
      let failed = 0;
      const c0 = cpuNow();
      const wall = await timeOnce(async () => {
        for (const p of paths) await runCommand([kubectl, "kustomize", "--load-restrictor", "LoadRestrictionsNone", path.join(repo, p)]).catch(() => failed++);
      });
      const c1 = cpuNow();
      pipeline = { wall, cpu: c0 === undefined || c1 === undefined ? undefined : c1 - c0 };
      line("pipeline", `kubectl kustomize x${paths.length}, in sequence`, pipeline.wall, pipeline.cpu, failed ? ` (${failed} failed **)` : "");
    } else console.log("  pipeline  skipped (kubectl not on PATH)");
    const verdict = (ok: boolean) => (ok ? "met" : "NOT met");
    const x = (a?: number, b?: number) => (a === undefined || b === undefined ? "?" : `${(a / b).toFixed(2)}x`);
    const warmRatio = r.warm! / r.floor!;
    console.log(`  goal 1  warm / floor    = ${warmRatio.toFixed(2)}x wall, ${x(cpu.warm, cpu.floor)} cpu  (at most 3x)   ${verdict(warmRatio <= 3)}`);
    if (cold !== undefined && pipeline !== undefined) {
      const speedup = pipeline.wall / cold.wall;
      // the pipeline runs one kustomize at a time, validate one per core: the cpu ratio is what more cores cannot change
      console.log(`  goal 2  pipeline / cold = ${speedup.toFixed(2)}x wall, ${x(pipeline.cpu, cold.cpu)} cpu  (at least 5x)  ${verdict(speedup >= 5)}`);
    } else console.log(`  goal 2  pipeline / cold: not measured (${cold === undefined ? "--skip-cold" : "no kubectl"})`);
    console.log();
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
console.log("floor: the YAML of kubernetes/ and talos/. cpu: this process and the kubectl it ran; the");
console.log("load of other programs hardly moves it. Goal 2's wall ratio also grows with the cores: the");
console.log("pipeline runs one kustomize at a time, validate one per core.");
console.log("*  the least a warm run that notices every change costs (the secrets scan covers every committed");
console.log("   file); paths known in advance, one stat each");
console.log("** a folder without a kustomization.yaml fails in the pipeline (Flux generates one)");
