/**
 * bun .ci/renovate-extract.ts LOG: reads the JSON log of `renovate --platform=local --dry-run=extract` (LOG_LEVEL=debug,
 * LOG_FORMAT=json) and fails when a pin is extracted twice in one file (two managers on one version line) or when a
 * `# renovate:` comment in the repo was not extracted (its version line does not fit the regex manager). Prints the
 * dependency count per manager.
 */
import { readFileSync } from "node:fs";
import path from "node:path";

interface Dep {
  depName?: string;
  currentValue?: string;
  datasource?: string;
}
interface LogLine {
  msg?: string;
  packageFiles?: Record<string, { packageFile: string; deps: Dep[] }[]>;
}

const logFile = process.argv[2];
if (!logFile) {
  console.error("usage: bun .ci/renovate-extract.ts RENOVATE_JSON_LOG");
  process.exit(2);
}
const ROOT = path.resolve(import.meta.dir, "..");
const lines = readFileSync(logFile, "utf8")
  .split("\n")
  .flatMap((l): LogLine[] => {
    try {
      return [JSON.parse(l) as LogLine];
    } catch {
      return [];
    }
  });
const extracted = lines.find((l) => l.msg === "Extracted dependencies")?.packageFiles;
if (!extracted) {
  console.error(`no "Extracted dependencies" line in ${logFile}: did renovate run with LOG_LEVEL=debug LOG_FORMAT=json?`);
  process.exit(1);
}

const problems: string[] = [];
const perManager: Record<string, number> = {};
// one version in one file read by two managers is one pin managed twice (the names may differ: the mise manager calls
// siderolabs/talos "talosctl"); two deps of one manager at one version (bun and @types/bun) are two pins
const byValue = new Map<string, { manager: string; depName: string }[]>();
for (const [manager, files] of Object.entries(extracted)) {
  for (const f of files) {
    for (const d of f.deps) {
      perManager[manager] = (perManager[manager] ?? 0) + 1;
      if (d.datasource === "kubernetes-api" || !d.currentValue) continue; // manifests' apiVersions, unversioned refs
      const key = `${f.packageFile}: ${d.currentValue.replace(/^v/, "")}`;
      byValue.set(key, [...(byValue.get(key) ?? []), { manager, depName: d.depName ?? "?" }]);
    }
  }
}
for (const [key, deps] of byValue)
  if (new Set(deps.map((d) => d.manager)).size > 1)
    problems.push(`${key} is extracted by ${deps.length} managers: ${deps.map((d) => `${d.manager} (${d.depName})`).join(", ")}`);

// every `renovate: datasource=X depName=Y` comment Renovate reads (in a file some manager looked at) became a dep
const regexDeps = new Set((extracted.regex ?? []).flatMap((f) => f.deps.map((d) => `${f.packageFile}: ${d.depName}`)));
const scanned = new Set(Object.values(extracted).flatMap((files) => files.map((f) => f.packageFile)));
const listed = Bun.spawnSync(["git", "ls-files", "-z"], { cwd: ROOT }).stdout.toString().split("\0").filter(Boolean);
const managedFile = /(^|\/)(\.mise\.toml|talos\/talconfig\.ya?ml|talos\/talenv\.ya?ml|\.ci\/run)$|(^|\/)kubernetes\/.+\.ya?ml$|(^|\/)lib\/sim\/.+\.ts$/;
// what Renovate never reads (ignorePaths: the vendored public repos under tests/fixtures, for one) is not checked
const ignoreBlock = /ignorePaths:\s*\[([^\]]*)\]/.exec(readFileSync(path.join(ROOT, ".renovaterc.json5"), "utf8"))?.[1] ?? "";
const ignored = [...ignoreBlock.matchAll(/"([^"]+)"/g)].map((m) => new Bun.Glob(m[1]!));
let comments = 0;
for (const file of listed.filter((f) => managedFile.test(f) && !ignored.some((g) => g.match(f)))) {
  for (const m of readFileSync(path.join(ROOT, file), "utf8").matchAll(/(?:#|\/\/)\s*renovate:\s*datasource=\S+\s+depName=(\S+)/g)) {
    comments++;
    if (!regexDeps.has(`${file}: ${m[1]}`))
      problems.push(`${file}: the renovate: comment for ${m[1]} was not extracted${scanned.has(file) ? " (its next line has no version the regex manager reads)" : " (no manager read the file)"}`);
  }
}

console.log(
  `renovate extract: ${Object.values(perManager).reduce((a, b) => a + b, 0)} dependencies (${Object.entries(perManager)
    .map(([m, n]) => `${m} ${n}`)
    .join(", ")}); ${comments} renovate: comments, each extracted`,
);
if (comments === 0) problems.push("no renovate: comment found in the managed files (.mise.toml, talos/, kubernetes/, .ci/run, lib/sim)");
for (const p of problems) console.log(`  ${p}`);
process.exit(problems.length ? 1 : 0);
