// scripts/validate.ts against its floor and against the shell baseline, in one run:
//  - this repo: validate (in process, warm) vs the floor (read + parse every YAML file of kubernetes/ and talos/
//    in process, with Bun.YAML — the parser the loader uses; the `yaml` package figure is shown beside it) vs the
//    old CI's shell baseline (`kubectl kustomize` on every kustomization directory, one after another); plus the
//    cold `bun scripts/validate.ts` process against that baseline.
//  - generated repos 10x and 100x larger (every app namespace copied with renamed namespaces and Kustomizations):
//    validate and the floor again, and time per document, to show growth is linear.
// Targets: validate <= 3x the floor; >= 10x faster than the shell baseline.
// Run: bun bench/validate.ts [--rounds N] [--scales 10,100] [--skip-shell]
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { validateRepo } from "../lib/checks/index.ts";
import { compare, median, ratio, runCommand, timeOnce } from "../lib/bench/index.ts";
import { loadRepo } from "../lib/repo/model.ts";

const root = path.resolve(import.meta.dir, "..");
const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const rounds = Number(arg("--rounds") ?? 9);
const scales = (arg("--scales") ?? "10,100").split(",").map(Number).filter((n) => n > 1);
const skipShell = process.argv.includes("--skip-shell");
const ms = (v: number) => `${v.toFixed(1)} ms`;

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

/** The floor: read and parse every YAML file the validator reads, nothing else. */
function floor(dir: string, parser: "bun" | "yaml"): number {
  let docs = 0;
  for (const f of [...yamlFiles(dir, "kubernetes"), ...yamlFiles(dir, "talos")]) {
    const text = readFileSync(path.join(dir, f), "utf8");
    if (parser === "yaml") docs += parseAllDocuments(text).length;
    else {
      const v = Bun.YAML.parse(text);
      docs += Array.isArray(v) ? v.length : 1;
    }
  }
  return docs;
}

/** A repo `scale` times larger: every app namespace (but kube-system and flux-system: one CNI, one Flux) copied. */
function generate(scale: number): string {
  const dir = mkdtempSync(path.join(tmpdir(), `home-ops-bench-${scale}x-`));
  for (const p of ["kubernetes", "talos", ".mise.toml", ".gitignore", ".renovaterc.json5", ".github"])
    cpSync(path.join(root, p), path.join(dir, p), { recursive: true });
  const apps = path.join(dir, "kubernetes/apps");
  const namespaces = readdirSync(apps, { withFileTypes: true }).filter((e) => e.isDirectory() && e.name !== "kube-system" && e.name !== "flux-system").map((e) => e.name);
  const model = loadRepo(root);
  const renamed = model.kustomizations.filter((k) => namespaces.some((ns) => k.source.file.startsWith(`kubernetes/apps/${ns}/`))).map((k) => k.name);
  const entries: string[] = [];
  for (let k = 1; k < scale; k++) {
    for (const ns of namespaces) {
      const copy = `${ns}-g${k}`;
      cpSync(path.join(apps, ns), path.join(apps, copy), { recursive: true });
      for (const f of yamlFiles(apps, copy)) {
        const abs = path.join(apps, f);
        let t = readFileSync(abs, "utf8");
        t = t.replaceAll(`./kubernetes/apps/${ns}/`, `./kubernetes/apps/${copy}/`);
        // copies take their LB addresses from the pools instead of requesting the originals' fixed ones
        t = t.replace(/^\s*lbipam\.cilium\.io\/ips:.*\n/gm, "");
        t = t.replace(new RegExp(`^(\\s*(?:namespace|targetNamespace): )${ns}$`, "gm"), `$1${copy}`);
        if (f.endsWith("/namespace.yaml")) t = t.replace(new RegExp(`^(\\s*name: )${ns}$`, "gm"), `$1${copy}`);
        if (f.endsWith("/ks.yaml")) for (const n of renamed) t = t.replace(new RegExp(`^(\\s*-? ?name: )${n}$`, "gm"), `$1${n}-g${k}`);
        writeFileSync(abs, t);
      }
      entries.push(`  - ./${copy}`);
    }
  }
  const kfile = path.join(apps, "kustomization.yaml");
  writeFileSync(kfile, readFileSync(kfile, "utf8").trimEnd() + "\n" + entries.join("\n") + "\n");
  return dir;
}

console.log(`validate benchmark (${rounds} rounds, medians; machine load affects all figures alike)\n`);

// ---- this repo
const model = loadRepo(root);
const docs = model.documents.length;
const base = await compare(
  {
    floor: () => floor(root, "bun"),
    floorYaml: () => floor(root, "yaml"),
    validate: () => validateRepo(root),
  },
  rounds,
);
console.log(`this repo: ${docs} documents in ${new Set(model.documents.map((d) => d.file)).size} files, ${model.kustomizeDirs.length} kustomizations`);
console.log(`  floor (read + Bun.YAML parse)        ${ms(base.floor!)}`);
console.log(`  floor (read + yaml package parse)    ${ms(base.floorYaml!)}`);
console.log(`  validate (in process, warm)          ${ms(base.validate!)}   = ${ratio(base.validate!, base.floor!)} the floor (target <= 3x), ${ratio(base.validate!, base.floorYaml!)} the yaml-package floor`);

const processRuns: number[] = [];
const cachedRuns: number[] = [];
await runCommand(["bun", "scripts/validate.ts"], root); // fills .home-ops/cache
for (let i = 0; i < Math.max(3, Math.ceil(rounds / 3)); i++) {
  processRuns.push(await timeOnce(() => runCommand(["bun", "scripts/validate.ts", "--no-cache"], root)));
  cachedRuns.push(await timeOnce(() => runCommand(["bun", "scripts/validate.ts"], root)));
}
const proc = median(processRuns);
const procCached = median(cachedRuns);
console.log(`  validate process, --no-cache         ${ms(proc)}   (process start, module and schema loading included)`);
console.log(`  validate process, schema cache warm  ${ms(procCached)}   (unchanged documents: no schema modules loaded)`);

if (!skipShell) {
  const kubectl = Bun.which("kubectl");
  if (!kubectl) console.log("  shell baseline: skipped (kubectl not on PATH)");
  else {
    const shell = await timeOnce(async () => {
      for (const d of model.kustomizeDirs) await runCommand([kubectl, "kustomize", path.join(root, d)]);
    });
    console.log(`  shell baseline (kubectl kustomize x${model.kustomizeDirs.length}, sequential)  ${ms(shell)}`);
    console.log(`  => validate is ${(shell / base.validate!).toFixed(1)}x faster in process, ${(shell / procCached).toFixed(1)}x as a process with the cache, ${(shell / proc).toFixed(1)}x without (target >= 10x)`);
  }
}

// ---- generated repos
const perDoc: Array<[number, number]> = [[1, base.validate! / docs]];
for (const scale of scales) {
  const dir = generate(scale);
  try {
    const m = loadRepo(dir, { mode: "lenient" });
    const n = m.documents.length;
    const r = await compare({ floor: () => floor(dir, "bun"), validate: () => validateRepo(dir) }, scale >= 100 ? 1 : Math.max(3, Math.ceil(rounds / 3)));
    const findings = (await validateRepo(dir)).findings.length;
    perDoc.push([scale, r.validate! / n]);
    console.log(`\n${scale}x repo: ${n} documents (${(n / docs).toFixed(1)}x), ${findings} findings`);
    console.log(`  floor ${ms(r.floor!)}, validate ${ms(r.validate!)} = ${ratio(r.validate!, r.floor!)} the floor; ${(r.validate! / n * 1000).toFixed(1)} µs per document`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
console.log(`\ngrowth: µs per document ${perDoc.map(([s, v]) => `${s}x ${(v * 1000).toFixed(1)}`).join(", ")} (flat = linear)`);
