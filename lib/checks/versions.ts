import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { MISE_FILES } from "../repo/load.ts";
import type { ClusterModel, Source } from "../repo/model.ts";
import { lineAt } from "./files.ts";
import { isObj } from "./locate.ts";
import { finding, type Finding } from "./types.ts";

/**
 * versions: the tools in .mise.toml match the cluster (talosctl = Talos, kubectl within one minor of Kubernetes,
 * flux CLI = the Flux the manifests target, cilium-cli able to drive the Cilium chart), every pinned version has a
 * `# renovate:` line, and .renovaterc.json5 parses and has a manager that actually reads each of those lines
 * (what `task renovate:validate` was for).
 */

type V = [number, number, number];
function parse(v: string | undefined): V | undefined {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec((v ?? "").trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}
const fmt = (v: V) => `${v[0]}.${v[1]}.${v[2]}`;

function tool(model: ClusterModel, ...names: RegExp[]): { name: string; value: string; source: Source } | undefined {
  for (const [name, s] of Object.entries(model.versions.tools)) if (names.some((re) => re.test(name))) return { name, ...s };
  return undefined;
}

/** Lowest Cilium minor each cilium-cli line supports (cilium-cli README "Compatible Cilium Versions"). */
function ciliumCliSupports(cli: V, cilium: V): string | undefined {
  if (cli[0] === 0 && cli[1] <= 14) return cilium[1] >= 11 && cilium[1] <= 13 ? undefined : "Cilium 1.11 - 1.13";
  if (cli[0] === 0 && cli[1] === 15) return cilium[1] >= 14 ? undefined : "Cilium 1.14 and newer";
  return cilium[0] > 1 || cilium[1] >= 15 ? undefined : "Cilium 1.15 and newer";
}

function toolFindings(model: ClusterModel): Finding[] {
  const out: Finding[] = [];
  const talos = parse(model.versions.talos.value);
  const k8s = parse(model.versions.kubernetes.value);
  const talosctl = tool(model, /(^|[:/])talosctl$/, /siderolabs\/talos$/);
  if (talos && talosctl) {
    const t = parse(talosctl.value);
    if (t && fmt(t) !== fmt(talos))
      out.push(finding("versions/talosctl", "error", talosctl.source, `talosctl ${talosctl.value} does not match talosVersion ${model.versions.talos.value}`, `pin talosctl = "${fmt(talos)}" (a talosctl newer or older than the nodes warns and may misbehave)`));
  }
  const kubectl = tool(model, /(^|[:/])kubectl$/, /kubernetes\/kubectl$/);
  if (k8s && kubectl) {
    const c = parse(kubectl.value);
    if (c && (c[0] !== k8s[0] || Math.abs(c[1] - k8s[1]) > 1))
      out.push(finding("versions/kubectl", "error", kubectl.source, `kubectl ${kubectl.value} is more than one minor away from kubernetesVersion ${model.versions.kubernetes.value}`, `pin kubectl to ${k8s[0]}.${k8s[1]}.x (kubectl supports one minor of skew)`));
  }
  const flux = tool(model, /(^|[:/])flux2?$/);
  if (flux) {
    const f = parse(flux.value);
    for (const r of model.versions.renovate) {
      if (r.depName !== "fluxcd/flux2" || !r.version || (r.source.file === flux.source.file)) continue;
      const m = parse(r.version);
      if (f && m && fmt(f) !== fmt(m))
        out.push(finding("versions/flux", "error", { file: r.source.file, line: r.source.line + 1 }, `Flux ${r.version} in the manifests but flux CLI ${flux.value} in ${flux.source.file}`, "use one Flux version for the CLI and the manifests"));
    }
  }
  const cli = tool(model, /(^|[:/])cilium-cli$/, /(^|[:/])cilium$/);
  const chart = parse(model.versions.cilium.value);
  if (cli && chart) {
    const c = parse(cli.value);
    const bad = c ? ciliumCliSupports(c, chart) : undefined;
    if (bad)
      out.push(finding("versions/cilium-cli", "error", cli.source, `cilium-cli ${cli.value} supports ${bad}, not the Cilium chart ${model.versions.cilium.value}`, "pin a cilium-cli release whose compatibility covers the chart"));
  }
  return out;
}

/** Pins that must carry a renovate comment: every .mise.toml tool and every *_VERSION of talenv.yaml. */
function renovateComments(model: ClusterModel): Finding[] {
  const out: Finding[] = [];
  // a directive belongs to the first line after it that is neither blank nor a comment
  const targets = new Set<string>();
  const texts = new Map<string, string[]>();
  for (const r of directives(model)) {
    let lines = texts.get(r.source.file);
    if (!lines) {
      lines = (existsSync(path.join(model.root, r.source.file)) ? readFileSync(path.join(model.root, r.source.file), "utf8") : "").split("\n");
      texts.set(r.source.file, lines);
    }
    for (let i = r.source.line; i < lines.length; i++) {
      const t = lines[i]!.trim();
      if (t === "" || t.startsWith("#")) continue;
      targets.add(`${r.source.file}:${i + 1}`);
      break;
    }
  }
  const commented = (file: string, line: number) => targets.has(`${file}:${line}`);
  const setup = renovateSetup(model);
  for (const [name, s] of Object.entries(model.versions.tools)) {
    if (s.value === "latest" || commented(s.source.file, s.source.line)) continue; // "latest" is not a pin
    // Renovate's built-in mise manager reads the mise config's [tools] itself unless the config turns it off
    if (MISE_FILES.includes(s.source.file) && setup?.builtIn.get("mise") === true) continue;
    out.push(finding("versions/renovate-comment", "error", s.source, `${name} = "${s.value}" has no \`# renovate:\` line above it and Renovate's mise manager is off: Renovate never updates it`, `add "# renovate: datasource=... depName=..." on the line above`));
  }
  for (const [name, s] of Object.entries(model.talos.env))
    if (/VERSION$/.test(name) && !commented(s.source.file, s.source.line))
      out.push(finding("versions/renovate-comment", "error", s.source, `${name}: ${s.value} has no \`# renovate:\` line above it: Renovate never updates it`, `add "# renovate: datasource=docker depName=..." on the line above`));
  return out;
}

// ---- .renovaterc.json5 ---------------------------------------------------------------------------------------

const RENOVATE_FILES = [".renovaterc.json5", ".renovaterc.json", "renovate.json5", "renovate.json", ".github/renovate.json5"];

function toRegex(p: string): RegExp | undefined {
  try {
    const m = /^\/(.*)\/([a-z]*)$/.exec(p);
    return m ? new RegExp(m[1]!, m[2]) : new RegExp(p);
  } catch {
    return undefined;
  }
}

function fileMatcher(p: string, legacy: boolean): (rel: string) => boolean {
  if (legacy || /^\/.*\/[a-z]*$/.test(p)) {
    const re = toRegex(p);
    return (rel) => re?.test(rel) ?? false;
  }
  const g = new Bun.Glob(p);
  return (rel) => g.match(rel);
}

/** Renovate's `{{{...}}}`-free regexes are RE2; JS differs only in what home-ops never uses. */
function matchStringRegex(s: string): RegExp | undefined {
  try {
    return new RegExp(s.replace(/\(\?P</g, "(?<"), "gm");
  } catch {
    return undefined;
  }
}

/**
 * The line a JSON5 syntax error is on. Bun's JSON5 errors carry no usable position, so: the first k lines whose
 * parse fails with something other than "end of input" end at the offending token (binary search).
 */
export function json5ErrorLine(text: string): number {
  const json5 = (Bun as unknown as { JSON5: { parse(t: string): unknown } }).JSON5;
  const lines = text.split("\n");
  const failsInside = (k: number) => {
    try {
      json5.parse(lines.slice(0, k).join("\n"));
      return false;
    } catch (e) {
      return !/end of input/i.test((e as Error).message);
    }
  };
  let lo = 1;
  let hi = lines.length;
  if (!failsInside(hi)) return hi;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (failsInside(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** `ignorePaths` that config:recommended (via :ignoreModulesAndTests) adds. */
const RECOMMENDED_IGNORE = ["**/node_modules/**", "**/bower_components/**", "**/vendor/**", "**/examples/**", "**/__tests__/**", "**/test/**", "**/tests/**", "**/__fixtures__/**"];
const RECOMMENDED = new Set(["config:recommended", "config:base", "config:best-practices", ":ignoreModulesAndTests"]);
/** Built-in managers whose files the checks reason about (all are on unless `enabledManagers` or `<manager>.enabled` says otherwise). */
const BUILT_IN = ["mise", "flux", "helm-values", "kubernetes", "regex"];

interface RenovateSetup {
  file: string;
  text: string;
  cfg: Record<string, unknown>;
  /** customManagers of the config and of the presets it extends that are files in this repo */
  managers: Record<string, unknown>[];
  /** presets that live elsewhere (another repo): their managers are unknown offline */
  remote: string[];
  ignored: (rel: string) => boolean;
  /** built-in manager -> enabled */
  builtIn: Map<string, boolean>;
}

type Parsed = { cfg: Record<string, unknown> } | { error: string; line: number };

function parseJson5(text: string): Parsed {
  try {
    const cfg = (Bun as unknown as { JSON5: { parse(t: string): unknown } }).JSON5.parse(text);
    return isObj(cfg) ? { cfg } : { error: "is not an object", line: 1 };
  } catch (e) {
    return { error: `does not parse: ${(e as Error).message.split("\n")[0] ?? ""}`, line: json5ErrorLine(text) };
  }
}

const setups = new WeakMap<object, { setup?: RenovateSetup; problem?: Finding }>();

/** The repo's Renovate config with the presets it extends that can be read offline (files of this repo). */
function loadRenovate(model: ClusterModel): { setup?: RenovateSetup; problem?: Finding } {
  const hit = setups.get(model);
  if (hit) return hit;
  const file = RENOVATE_FILES.find((f) => existsSync(path.join(model.root, f)));
  let result: { setup?: RenovateSetup; problem?: Finding };
  if (!file) result = { problem: finding("versions/renovate-config", "error", { file: ".renovaterc.json5", line: 0 }, "no Renovate config (.renovaterc.json5): the `# renovate:` lines are never read", "add .renovaterc.json5 with regex managers for them") };
  else {
    const text = readFileSync(path.join(model.root, file), "utf8");
    const parsed = parseJson5(text);
    if ("error" in parsed) result = { problem: finding("versions/renovate-config", "error", { file, line: parsed.line }, `${file} ${parsed.error}`, "fix the JSON5 syntax") };
    else {
      const managers: Record<string, unknown>[] = [];
      const remote: string[] = [];
      const ignore = new Set<string>();
      const builtIn = new Map(BUILT_IN.map((m) => [m, true]));
      const visit = (cfg: Record<string, unknown>, depth: number) => {
        for (const m of [...(Array.isArray(cfg.customManagers) ? cfg.customManagers : []), ...(Array.isArray(cfg.regexManagers) ? cfg.regexManagers : [])]) if (isObj(m)) managers.push(m);
        for (const p of Array.isArray(cfg.ignorePaths) ? cfg.ignorePaths : []) ignore.add(String(p));
        if (Array.isArray(cfg.enabledManagers)) for (const m of BUILT_IN) builtIn.set(m, cfg.enabledManagers.includes(m));
        for (const m of BUILT_IN) if (isObj(cfg[m]) && (cfg[m] as Record<string, unknown>).enabled === false) builtIn.set(m, false);
        for (const e of Array.isArray(cfg.extends) ? cfg.extends.map(String) : []) {
          if (RECOMMENDED.has(e)) for (const p of RECOMMENDED_IGNORE) ignore.add(p);
          if (!e.includes(">")) continue; // a built-in preset (config:*, :semanticCommits, docker:*, ...)
          const local = /^(?:local|github|gitlab|gitea|bitbucket)>[^/#]+\/[^/#]+\/\/([^#]+?)(?:#.*)?$/.exec(e)?.[1];
          const found = local ? [local, `${local}.json5`, `${local}.json`].find((f) => existsSync(path.join(model.root, f))) : undefined;
          const sub = found && depth < 4 ? parseJson5(readFileSync(path.join(model.root, found), "utf8")) : undefined;
          if (sub && "cfg" in sub) visit(sub.cfg, depth + 1);
          else remote.push(e);
        }
      };
      visit(parsed.cfg, 0);
      const globs = [...ignore].map((p) => new Bun.Glob(p));
      result = { setup: { file, text, cfg: parsed.cfg, managers, remote, builtIn, ignored: (rel) => globs.some((g) => g.match(rel)) } };
    }
  }
  setups.set(model, result);
  return result;
}

function renovateSetup(model: ClusterModel): RenovateSetup | undefined {
  return loadRenovate(model).setup;
}

function renovateConfig(model: ClusterModel): Finding[] {
  const { setup, problem } = loadRenovate(model);
  if (!setup) return problem ? [problem] : [];
  const { file, text } = setup;
  const out: Finding[] = [];
  const compiled = setup.managers.map((m, i) => {
    const files = [
      ...(Array.isArray(m.managerFilePatterns) ? m.managerFilePatterns.map((p) => fileMatcher(String(p), false)) : []),
      ...(Array.isArray(m.fileMatch) ? m.fileMatch.map((p) => fileMatcher(String(p), true)) : []),
    ];
    const res = (Array.isArray(m.matchStrings) ? m.matchStrings : []).map((s) => {
      const re = matchStringRegex(String(s));
      if (!re) {
        const idx = text.indexOf(JSON.stringify(String(s)).slice(1, 20));
        out.push(finding("versions/renovate-config", "error", { file, line: idx >= 0 ? lineAt(text, idx) : 1 }, `customManagers[${i}] has a matchStrings regex that does not compile`, "fix the regex"));
      }
      return re;
    });
    return { files, res: res.filter((r): r is RegExp => r !== undefined) };
  });
  // every `# renovate:` comment must be read by a manager whose file pattern and regex cover it
  const texts = new Map<string, string>();
  const active = directives(model).filter((r) => !setup.ignored(r.source.file));
  if (setup.remote.length) {
    // a preset from another repository may hold the managers that read these lines: say so once, judge nothing
    if (active.length)
      out.push(finding("versions/renovate-presets-remote", "info", { file, line: lineAt(text, Math.max(0, text.indexOf("extends"))) }, `${file} extends presets from other repositories (${setup.remote.slice(0, 2).join(", ")}${setup.remote.length > 2 ? ", ..." : ""}): whether they read the ${active.length} \`# renovate:\` lines was not checked`, "nothing to fix"));
    return out;
  }
  const miseOn = setup.builtIn.get("mise") === true;
  for (const r of active) {
    const t = texts.get(r.source.file) ?? (existsSync(path.join(model.root, r.source.file)) ? readFileSync(path.join(model.root, r.source.file), "utf8") : "");
    texts.set(r.source.file, t);
    const covered = compiled.some((m) =>
      m.files.some((f) => f(r.source.file)) &&
      m.res.some((re) => {
        re.lastIndex = 0;
        for (const x of t.matchAll(re)) {
          const start = lineAt(t, x.index ?? 0);
          const end = lineAt(t, (x.index ?? 0) + x[0].length);
          if (start <= r.source.line && r.source.line <= end) return true;
        }
        return false;
      }),
    );
    if (!covered)
      out.push(finding("versions/renovate-unmanaged", "error", r.source, `no Renovate custom manager in ${file} reads this \`# renovate:\` line (${r.depName || "no depName"})`, `add ${r.source.file} to a regex manager's managerFilePatterns, or make its matchStrings match this line`));
    else if (miseOn && MISE_FILES.includes(r.source.file))
      out.push(finding("versions/renovate-managed-twice", "warning", { file: r.source.file, line: r.source.line + 1 }, `this pin is updated twice: by a custom manager through its \`# renovate:\` line and by Renovate's built-in mise manager (two PRs for one bump)`, `turn one off: \`mise: { enabled: false }\` in ${file}, or leave ${r.source.file} out of the custom manager's managerFilePatterns`));
  }
  return out;
}

/** `# renovate:` directives; prose that merely mentions "# renovate:" (no datasource, no depName) is not one. */
function directives(model: ClusterModel) {
  return model.versions.renovate.filter((r) => r.datasource !== "" || r.depName !== "");
}

export function versionsCheck(model: ClusterModel): Finding[] {
  return [...toolFindings(model), ...renovateComments(model), ...renovateConfig(model)];
}
