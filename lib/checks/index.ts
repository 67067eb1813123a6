import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { ConfigError } from "../cli/errors.ts";
import { loadRenderedRepo, loadRepo, RepoError } from "../repo/load.ts";
import { type RenderResult, unrendered } from "../repo/render/index.ts";
import type { ClusterModel } from "../repo/model.ts";
import { bgpCheck } from "./bgp.ts";
import { fluxCheck } from "./flux.ts";
import { ipamCheck } from "./ipam.ts";
import { buildKustomizations, kustomizeCheck, locateBuildError, type BuildOptions } from "./kustomize.ts";
import { FileSchemaCache, schemaCheck } from "./schema.ts";
import { secretsCheck, secretsScanCache } from "./secrets.ts";
import { isTalhelperRepo, talosCheck } from "./talos.ts";
import { FAMILIES, finding, sortFindings, type Check, type Family, type Finding } from "./types.ts";
import { versionsCheck } from "./versions.ts";
import { checkYamlFiles, yamlCheck, yamlKeysCache } from "./yaml.ts";
import { modelText, shareRepoFiles } from "./files.ts";
import { ValidateResultCache } from "./result-cache.ts";

export * from "./types.ts";

/** Every family, in the order findings are computed (yaml first: later families assume parsed files). */
export const CHECKS: Record<Family, Check> = {
  yaml: yamlCheck,
  schema: schemaCheck,
  kustomize: kustomizeCheck,
  flux: fluxCheck,
  ipam: ipamCheck,
  bgp: bgpCheck,
  talos: talosCheck,
  versions: versionsCheck,
  secrets: secretsCheck,
};

export interface ValidateOptions {
  only?: readonly Family[];
  /** also run the real `kubectl kustomize` on every kustomization (concurrently) */
  build?: boolean | BuildOptions;
  /** a model already loaded (benchmarks, other scripts) */
  model?: ClusterModel;
  /**
   * Check what Flux would apply (default): every Flux Kustomization built with the real kustomize from the sync
   * roots (lib/repo/render). false = the manifests as written (no kubectl needed).
   */
  render?: boolean;
  /** the render stage's cache (scripts/validate.ts: .home-ops/cache/render.json); none = render every time */
  renderCacheFile?: string;
  /**
   * Keep library-schema results of unchanged documents in this file across runs (scripts/validate.ts uses
   * .home-ops/cache/validate-schema.json, git-ignored); off by default so library calls stay pure.
   */
  cacheFile?: string;
  /**
   * Keep the secrets scan's per-file results in this file across runs: a file is read again only when it changed
   * (scripts/validate.ts uses .home-ops/cache/validate-secrets.json); off by default.
   */
  secretsCacheFile?: string;
  /** The same for the yaml family's duplicate-key scan (scripts/validate.ts: .home-ops/cache/validate-yaml.json). */
  yamlCacheFile?: string;
  /**
   * Keep whole results here: a run whose inputs (every file a check reads, the toolkit, kubectl, the options) are
   * unchanged answers from it without reading the repo (scripts/validate.ts: .home-ops/cache/validate-result.json;
   * lib/checks/result-cache.ts). Not used with `model` or `build`.
   */
  resultCacheFile?: string;
  /** A change this recent (ms) is not trusted to the result cache (default 2000; tests use 0). */
  resultCacheRacyMs?: number;
}

export interface ValidateResult {
  root: string;
  findings: Finding[];
  families: Family[];
  documents: number;
  /** the repo could not be loaded into a model: only raw-file checks ran */
  loadFailed: boolean;
  /** answered from the result cache: nothing the checks read changed since the run that found these */
  fromCache?: boolean;
}

export function parseOnly(text: string | undefined): Family[] | undefined {
  if (text === undefined || text.trim() === "") return undefined;
  const parts = text.split(",").map((s) => s.trim()).filter(Boolean);
  const bad = parts.filter((p) => !(FAMILIES as readonly string[]).includes(p));
  if (bad.length) throw new ConfigError(`unknown check family ${bad.map((b) => `"${b}"`).join(", ")}`, `choose from ${FAMILIES.join(", ")}`);
  return parts as Family[];
}

/** The loader's YAML problems are the yaml family's findings (found again, with ids); the rest are listed once. */
const YAML_PROBLEM = /^(invalid YAML|cannot convert YAML|YAML parse failed|cannot read file)/;

function problemFindings(model: ClusterModel, findings: Finding[]): Finding[] {
  const files = new Set(findings.map((f) => f.file));
  const out: Finding[] = [];
  const talhelper = isTalhelperRepo(model);
  for (const p of model.problems ?? []) {
    if (YAML_PROBLEM.test(p.message) || files.has(p.file)) continue;
    if (!talhelper && p.file === model.talos.configFile) continue; // a repo without talhelper lacks no talconfig facts
    // a `${VAR}` problem belongs on the line that uses the variable
    let line = p.line;
    const v = /\$\{[A-Za-z_][A-Za-z0-9_]*\}/.exec(p.message)?.[0];
    if (v) {
      const idx = (modelText(model, p.file) ?? "").split("\n").findIndex((l) => l.includes(v) && !/^\s*#/.test(l));
      if (idx >= 0) line = idx + 1;
    }
    out.push(finding("repo/incomplete", "error", { file: p.file, line }, p.message, "add the missing fact to the repo (see the message)"));
  }
  return out;
}

function safely(family: string, check: () => Finding[]): Finding[] {
  try {
    return check();
  } catch (e) {
    // A check must never crash validate: an unexpected shape becomes a finding naming the family.
    return [
      finding(`${family}/internal`, "error", { file: ".", line: 0 }, `the ${family} checks stopped on unexpected input: ${(e as Error).message?.split("\n")[0]}`, "fix the other findings first; if this stays, report it with the file that causes it"),
    ];
  }
}

export function dedupe(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const k = `${f.id}\0${f.file}\0${f.line}\0${f.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * Runs the offline checks on the repo at `root`. Throws ConfigError (exit 2) only when `root` is not a readable
 * home-ops repo; every problem inside the repo is a finding.
 */
export async function validateRepo(root: string, opts: ValidateOptions = {}): Promise<ValidateResult> {
  const abs = path.resolve(root);
  if (!existsSync(abs) || !statSync(abs).isDirectory())
    throw new ConfigError(`${root} is not a directory`, "pass the repo root with --root DIR");
  const families = [...(opts.only ?? FAMILIES)];
  if (!opts.resultCacheFile || opts.model || opts.build) return (await validateUncached(abs, families, opts)).result;
  // taken before anything is read: an edit made while this run reads the repo never lends its stat to this result
  const cache = new ValidateResultCache<ValidateResult>(opts.resultCacheFile, opts.resultCacheRacyMs);
  const key = `${families.join(",")}|render=${opts.render !== false}`;
  const fp = cache.fingerprint(abs, key);
  const hit = cache.get(key, fp);
  if (hit && hit.root === abs) return { ...hit, fromCache: true };
  const { result, built } = await validateUncached(abs, families, opts);
  // kustomize builds hard-link the repo's files (their ctime moves): the fingerprint after the run stands in
  cache.save(key, built ? cache.carry(fp, cache.fingerprint(abs, key)) : fp, result);
  return result;
}

async function validateUncached(abs: string, families: Family[], opts: ValidateOptions): Promise<{ result: ValidateResult; built: boolean }> {
  const want = new Set(families);
  let models: ClusterModel[] = opts.model ? [opts.model] : [];
  let render: RenderResult | undefined;
  let loadFailed = false;
  // opened before the repo is read (so never with a model loaded earlier): a file changed after this moment is
  // never kept with what an earlier read found
  const scanCache = opts.secretsCacheFile && !opts.model && want.has("secrets") ? secretsScanCache(opts.secretsCacheFile) : undefined;
  const keysCache = opts.yamlCacheFile && !opts.model && want.has("yaml") ? yamlKeysCache(opts.yamlCacheFile) : undefined;
  const findings: Finding[] = [];
  if (!opts.model) {
    try {
      if (opts.render === false) models = [loadRepo(abs, { mode: "lenient" })];
      else {
        const b = typeof opts.build === "object" ? opts.build : {};
        const r = await loadRenderedRepo(abs, { mode: "lenient", cacheFile: opts.renderCacheFile, exec: b.exec, kubectl: b.kubectl });
        models = r.models;
        render = r.render;
      }
    } catch (e) {
      if (e instanceof RepoError && e.file === "." && e.line === 0) throw new ConfigError(e.message.replace(/^\.:0: /, ""), e.hint);
      loadFailed = true;
      const raw = checkYamlFiles(abs);
      findings.push(...raw);
      if (raw.length === 0) {
        const file = e instanceof RepoError ? e.file : ".";
        const line = e instanceof RepoError ? e.line : 0;
        findings.push(finding("repo/load", "error", { file, line }, `the repo cannot be loaded: ${(e as Error).message?.split("\n")[0]}`, "fix this file; the other checks run once the repo loads"));
      }
    }
  }
  shareRepoFiles(models);
  const cache = opts.cacheFile && models.length ? new FileSchemaCache(opts.cacheFile) : undefined;
  const run = (family: Family, model: ClusterModel): Finding[] =>
    family === "schema" && cache
      ? schemaCheck(model, cache)
      : family === "secrets" && scanCache
        ? secretsCheck(model, scanCache)
        : family === "yaml" && keysCache
          ? yamlCheck(model, keysCache)
          : CHECKS[family](model);
  for (const model of models) {
    for (const family of families) findings.push(...safely(family, () => run(family, model)));
    findings.push(...problemFindings(model, findings));
  }
  cache?.save();
  if (models.length) {
    scanCache?.save();
    keysCache?.save();
  }
  const model = models[0];
  if (render) findings.push(...renderFindings(render, want, findings, model));
  if (model && opts.build && want.has("kustomize")) {
    const b = typeof opts.build === "object" ? opts.build : {};
    // a folder the render already could not build is reported once, by the render
    const seen = new Set(findings.filter((f) => f.id === "kustomize/build").map((f) => `${f.file}:${f.line}`));
    findings.push(...(await buildKustomizations(model, b)).filter((f) => !seen.has(`${f.file}:${f.line}`)));
  }
  const result = { root: abs, findings: sortFindings(dedupe(findings)), families, documents: model?.documents.length ?? 0, loadFailed };
  return { result, built: (render?.builds ?? 0) > 0 };
}

/** The render stage's own findings (build failures, undefined variables) and the files nothing applies. */
function renderFindings(render: RenderResult, want: Set<Family>, found: readonly Finding[], model?: ClusterModel): Finding[] {
  const out: Finding[] = [];
  // a folder that does not build because of a YAML or kustomization error already reported there: that finding
  // is the cause, the build failure adds nothing
  const causes = found.filter((f) => f.severity === "error" && /^(yaml|kustomize)\//.test(f.id)).map((f) => f.file);
  for (const f of render.findings) {
    const family = f.id.split("/")[0] as Family;
    if (!want.has(family)) continue;
    if (f.dir !== undefined && causes.some((c) => c.startsWith(`${f.dir}/`) || f.message.includes(c))) continue;
    // a folder with its own kustomization: the error is located there (at the entry it names, when it names one)
    const where = f.dir !== undefined && model && model.kustomizeDirs.includes(f.dir) ? locateBuildError(model, f.dir, f.message) : { file: f.file, line: f.line };
    out.push(finding(f.id, f.severity, where, f.message, f.fix));
  }
  const broken = new Set(found.filter((f) => f.id.startsWith("yaml/")).map((f) => f.file));
  if (want.has("flux") && render.complete)
    for (const u of render.unreferenced.filter((x) => !broken.has(x.file) && !unrendered(render, x.file)))
      out.push(finding("repo/unreferenced", "warning", u, "no Flux Kustomization applies this file: it is not part of any cluster and no check reads it", "list it in a kustomization.yaml under a Flux Kustomization's path, or delete it"));
  return out;
}

/** Findings grouped by file, in file order. */
export function groupByFile(findings: Finding[]): Map<string, Finding[]> {
  const m = new Map<string, Finding[]>();
  for (const f of sortFindings(findings)) {
    const list = m.get(f.file);
    if (list) list.push(f);
    else m.set(f.file, [f]);
  }
  return m;
}
