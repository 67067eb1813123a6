import { FAMILIES } from "../lib/checks/types.ts";
import { defineScript } from "../lib/cli/index.ts";

export default defineScript(import.meta, {
  name: "validate",
  area: "repo",
  summary: "every offline check of the repo (YAML, schemas, kustomize, Flux, IPAM, BGP, Talos, versions, secrets)",
  description: `
Reads talos/, kubernetes/ and the tool pins into the cluster model and runs every offline check on it. Each finding
names its file and line, what is wrong and how to fix it; BGP findings name the silent-failure cause (1-16,
lib/bgp/causes.ts) of Cilium's BGP control plane they would cause (cause 7, no pool gives a Service an address,
comes from the ipam family). Nothing in the repo is changed and no cluster is contacted. Results are cached in .home-ops/cache/: a run on an
unchanged repo (every file, the toolkit, kubectl and the options as before) answers from the last run's result;
otherwise render, schema, yaml and secrets-scan results of unchanged files are reused (--no-cache: none).

Check families: ${FAMILIES.join(", ")}.
--build also runs the real \`kubectl kustomize\` on every kustomization (concurrently).`,
  replaces: ["renovate:validate"],
  flags: {
    only: { type: "string", placeholder: "families", description: `run only these check families, comma separated (${FAMILIES.join(",")})` },
    strict: { type: "boolean", description: "warnings fail the run too (exit 1)" },
    build: { type: "boolean", description: "also build every kustomization with the real kubectl kustomize" },
    root: { type: "string", placeholder: "dir", description: "the repo to check (default: this repo)" },
    "no-cache": { type: "boolean", description: "do not reuse results of unchanged files and documents (.home-ops/cache/)" },
  },
  examples: [
    "bun scripts/validate.ts",
    "bun scripts/validate.ts --only bgp,ipam",
    "bun scripts/validate.ts --build --strict",
    "bun scripts/validate.ts --json | jq '.findings[] | select(.severity == \"error\")'",
  ],
  async run({ flags, out, root, json, exec }) {
    // loaded here, not at the top: --help and flag errors answer without the library
    const path = await import("node:path");
    const { FAMILIES, groupByFile, parseOnly, validateRepo } = await import("../lib/checks/index.ts");
    const only = parseOnly(flags.only);
    const repo = flags.root ? path.resolve(flags.root) : root;
    const started = performance.now();
    const cacheFile = flags["no-cache"] ? undefined : path.join(repo, ".home-ops/cache/validate-schema.json");
    const renderCacheFile = flags["no-cache"] ? undefined : path.join(repo, ".home-ops/cache/render.json");
    const secretsCacheFile = flags["no-cache"] ? undefined : path.join(repo, ".home-ops/cache/validate-secrets.json");
    const yamlCacheFile = flags["no-cache"] ? undefined : path.join(repo, ".home-ops/cache/validate-yaml.json");
    const resultCacheFile = flags["no-cache"] ? undefined : path.join(repo, ".home-ops/cache/validate-result.json");
    const result = await validateRepo(repo, { only, build: flags.build ? { exec } : false, cacheFile, renderCacheFile, secretsCacheFile, yamlCacheFile, resultCacheFile });
    const ms = performance.now() - started;
    const errors = result.findings.filter((f) => f.severity === "error").length;
    const warnings = result.findings.filter((f) => f.severity === "warning").length;
    const notes = result.findings.length - errors - warnings;
    const failed = errors > 0 || (flags.strict && warnings > 0);
    if (json) {
      out.result({
        ok: !failed,
        root: result.root,
        families: result.families,
        summary: { errors, warnings, notes, files: new Set(result.findings.map((f) => f.file)).size, documents: result.documents, fromCache: result.fromCache === true },
        findings: result.findings,
      });
      return failed ? 1 : 0;
    }
    const groups = groupByFile(result.findings);
    for (const [file, list] of groups) {
      out.line(out.bold(file));
      for (const f of list) {
        const mark = out.mark(f.severity === "error" ? "fail" : f.severity === "warning" ? "warn" : "info");
        out.line(`  ${String(f.line).padStart(4)}  ${mark} ${f.id}: ${f.message}`);
        out.line(`        ${out.dim(`fix: ${f.fix}`)}`);
      }
      out.line();
    }
    const checked = `${result.documents} document${result.documents === 1 ? "" : "s"} checked by ${result.families.length} check famil${result.families.length === 1 ? "y" : "ies"}, ${(ms / 1000).toFixed(2)}s`;
    const found = `${errors} error${errors === 1 ? "" : "s"}, ${warnings} warning${warnings === 1 ? "" : "s"} in ${groups.size} file${groups.size === 1 ? "" : "s"}`;
    const summary = `${errors + warnings === 0 ? "no errors or warnings" : found}${notes ? `, ${notes} not checked` : ""} (${checked})`;
    out.line(`${out.mark(failed ? "fail" : errors + warnings > 0 ? "warn" : "ok")} ${summary}`);
    if (result.fromCache) out.line(out.dim("  nothing changed since the last run: its result was reused (--no-cache checks again)"));
    return failed ? 1 : 0;
  },
});
