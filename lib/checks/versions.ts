import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
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
  for (const [name, s] of Object.entries(model.versions.tools))
    if (!commented(s.source.file, s.source.line))
      out.push(finding("versions/renovate-comment", "error", s.source, `${name} = "${s.value}" has no \`# renovate:\` line above it: Renovate never updates it`, `add "# renovate: datasource=... depName=..." on the line above`));
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

function renovateConfig(model: ClusterModel): Finding[] {
  const file = RENOVATE_FILES.find((f) => existsSync(path.join(model.root, f)));
  if (!file) return [finding("versions/renovate-config", "error", { file: ".renovaterc.json5", line: 0 }, "no Renovate config (.renovaterc.json5): the `# renovate:` lines are never read", "add .renovaterc.json5 with regex managers for them")];
  const text = readFileSync(path.join(model.root, file), "utf8");
  let cfg: unknown;
  try {
    cfg = (Bun as unknown as { JSON5: { parse(t: string): unknown } }).JSON5.parse(text);
  } catch (e) {
    const msg = (e as Error).message.split("\n")[0] ?? "";
    const line = json5ErrorLine(text);
    return [finding("versions/renovate-config", "error", { file, line }, `${file} does not parse: ${msg}`, "fix the JSON5 syntax")];
  }
  if (!isObj(cfg)) return [finding("versions/renovate-config", "error", { file, line: 1 }, `${file} is not an object`, "write a Renovate config object")];
  const out: Finding[] = [];
  const managers = [...(Array.isArray(cfg.customManagers) ? cfg.customManagers : []), ...(Array.isArray(cfg.regexManagers) ? cfg.regexManagers : [])].filter(isObj);
  const compiled = managers.map((m, i) => {
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
  for (const r of directives(model)) {
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
