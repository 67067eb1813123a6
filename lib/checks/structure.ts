/**
 * Input the cluster (kustomize, the Flux API) would reject, found without building anything: kustomization lists
 * that are not lists, a kustomization that lists itself, its own folder or closes a cycle through other
 * kustomizations, an empty kustomization.yaml; Flux `spec.path` leaving the repository; Flux durations that do not
 * parse. The kustomize and flux families add these to their own findings.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import type { ClusterModel, RepoDocument } from "../repo/model.ts";
import { at, isObj, type PathSeg } from "./locate.ts";
import { finding, type Finding } from "./types.ts";

const KUSTOMIZATION_FILES = ["kustomization.yaml", "kustomization.yml", "Kustomization"];
/** kustomize fields that must be lists */
const LIST_FIELDS = ["resources", "components", "patches", "patchesStrategicMerge", "patchesJson6902", "crds", "configMapGenerator", "secretGenerator", "images", "replacements", "transformers", "generators", "bases"];
const DIR_FIELDS = ["resources", "components", "bases"];

function isKustomization(d: RepoDocument): boolean {
  if (!KUSTOMIZATION_FILES.includes(path.posix.basename(d.file))) return false;
  return d.apiVersion === undefined || d.apiVersion.startsWith("kustomize.config.k8s.io/");
}

/** The normalised repo-relative target of a kustomization entry, or undefined for a remote one. */
function target(dir: string, value: string): string | undefined {
  if (/^(https?:\/\/|git@|ssh:\/\/|github\.com\/|gitlab\.com\/|oci:\/\/)|\?ref=/.test(value)) return undefined;
  return path.posix.normalize(path.posix.join(dir, value)).replace(/\/$/, "");
}

export function kustomizationStructure(model: ClusterModel): Finding[] {
  const out: Finding[] = [];
  const problemFiles = new Set((model.problems ?? []).map((p) => p.file));
  const docs = model.documents.filter(isKustomization);
  const byDir = new Map<string, RepoDocument>();
  for (const d of docs) if (!byDir.has(path.posix.dirname(d.file))) byDir.set(path.posix.dirname(d.file), d);

  // an empty kustomization.yaml (no document, or only comments) was read fine but gave nothing
  for (const dir of model.kustomizeDirs) {
    if (byDir.has(dir)) continue;
    const file = KUSTOMIZATION_FILES.map((f) => `${dir}/${f}`).find((f) => existsSync(path.join(model.root, f)));
    if (!file || problemFiles.has(file)) continue;
    out.push(finding("kustomize/empty", "error", { file, line: 1 }, "this kustomization.yaml holds no kustomization: kustomize (and Flux) fail on it", "list the folder's resources in it, or delete it"));
  }

  const edges = new Map<string, Array<{ to: string; d: RepoDocument; p: PathSeg[] }>>();
  for (const d of docs) {
    const dir = path.posix.dirname(d.file);
    if (!isObj(d.object)) {
      out.push(finding("kustomize/not-an-object", "error", at(d), "a kustomization must be a mapping of fields (resources:, patches:, ...)", "rewrite it as `resources:` and a list of entries"));
      continue;
    }
    const o = d.object;
    for (const key of LIST_FIELDS) {
      if (!(key in o) || o[key] === null) continue;
      if (!Array.isArray(o[key]))
        out.push(finding("kustomize/not-a-list", "error", at(d, [key]), `\`${key}\` must be a list, not ${typeof o[key] === "object" ? "a mapping" : `the ${typeof o[key]} ${JSON.stringify(o[key]).slice(0, 40)}`}`, `write each entry on its own line: \`${key}:\\n  - ./entry.yaml\``));
    }
    const list: Array<{ to: string; d: RepoDocument; p: PathSeg[] }> = [];
    for (const key of DIR_FIELDS) {
      const v = o[key];
      if (!Array.isArray(v)) continue;
      v.forEach((x, i) => {
        if (typeof x !== "string") return;
        const t = target(dir, x);
        if (t === undefined) return;
        const p = [key, i];
        if (t === d.file) out.push(finding("kustomize/lists-itself", "error", at(d, p), `${key} entry "${x}" is this kustomization itself: kustomize stops with a cycle`, "remove the entry"));
        else if (t === dir) out.push(finding("kustomize/lists-itself", "error", at(d, p), `${key} entry "${x}" is this kustomization's own folder: kustomize stops with a cycle`, "remove the entry; list the files of the folder instead"));
        else if (byDir.has(t)) list.push({ to: t, d, p });
        else if (KUSTOMIZATION_FILES.some((f) => t === `${path.posix.dirname(t)}/${f}`) && byDir.has(path.posix.dirname(t)))
          list.push({ to: path.posix.dirname(t), d, p });
      });
    }
    edges.set(dir, list);
  }

  // cycles between kustomizations (a -> b -> a), each reported once, at the entry that closes it
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const reported = new Set<string>();
  const visit = (n: string) => {
    state.set(n, 1);
    stack.push(n);
    for (const e of edges.get(n) ?? []) {
      if (state.get(e.to) === 1) {
        const cycle = stack.slice(stack.indexOf(e.to));
        const id = [...cycle].sort().join("\0");
        if (!reported.has(id)) {
          reported.add(id);
          out.push(finding("kustomize/cycle", "error", at(e.d, e.p), `kustomizations include each other: ${[...cycle, e.to].join(" -> ")}: kustomize stops with a cycle`, "remove one of the entries of the cycle"));
        }
      } else if (!state.has(e.to)) visit(e.to);
    }
    stack.pop();
    state.set(n, 2);
  };
  for (const n of [...edges.keys()].sort()) if (!state.has(n)) visit(n);
  return out;
}

/** Findings after which a real `kubectl kustomize` must not run on the kustomization (it would hang, loop or read outside). */
export const UNBUILDABLE = new Set(["kustomize/unsafe-entry", "kustomize/lists-itself", "kustomize/cycle", "kustomize/not-a-list", "kustomize/empty", "kustomize/not-an-object"]);

/**
 * The kustomization folders --build must skip: those with an UNBUILDABLE finding and every folder that includes one
 * of them (directly or through other kustomizations). Their findings already say what is wrong.
 */
export function unbuildableDirs(model: ClusterModel, findings: Finding[]): Set<string> {
  const bad = new Set(findings.filter((f) => UNBUILDABLE.has(f.id)).map((f) => path.posix.dirname(f.file)));
  if (bad.size === 0) return bad;
  const includes = new Map<string, string[]>();
  for (const d of model.documents.filter(isKustomization)) {
    if (!isObj(d.object)) continue;
    const dir = path.posix.dirname(d.file);
    const to: string[] = [];
    for (const key of DIR_FIELDS) {
      const v = d.object[key];
      if (Array.isArray(v)) for (const x of v) if (typeof x === "string") {
        const t = target(dir, x);
        if (t !== undefined) to.push(t, path.posix.dirname(t));
      }
    }
    includes.set(dir, to);
  }
  const reaches = (dir: string, seen: Set<string>): boolean => {
    if (bad.has(dir)) return true;
    if (seen.has(dir)) return false;
    seen.add(dir);
    return (includes.get(dir) ?? []).some((t) => reaches(t, seen));
  };
  return new Set(model.kustomizeDirs.filter((d) => reaches(d, new Set())));
}

/** Flux's duration fields (metav1.Duration, CRD pattern `^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`). */
export const FLUX_DURATION = /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/;
const DURATION_KEYS = new Set(["interval", "retryInterval", "timeout", "requeueDependency"]);
/** where Flux kinds nest more durations (HelmRelease install/upgrade/..., chart.spec); never into values */
const DURATION_PARENTS = new Set(["install", "upgrade", "rollback", "uninstall", "test", "chart", "spec"]);

function durationFields(v: unknown, p: PathSeg[], out: Array<{ p: PathSeg[]; value: unknown }>, depth: number): void {
  if (depth > 4 || !isObj(v)) return;
  for (const [k, x] of Object.entries(v)) {
    if (DURATION_KEYS.has(k) && (typeof x === "string" || typeof x === "number" || typeof x === "boolean")) out.push({ p: [...p, k], value: x });
    else if (isObj(x) && DURATION_PARENTS.has(k)) durationFields(x, [...p, k], out, depth + 1);
  }
}

export function fluxInputs(model: ClusterModel): Finding[] {
  const out: Finding[] = [];
  for (const d of model.documents) {
    if (!d.apiVersion?.includes(".toolkit.fluxcd.io/") || !isObj(d.object)) continue;
    const spec = d.object.spec;
    if (!isObj(spec)) continue;
    const what = `${d.kind ?? "object"} ${d.name ?? "?"}`;
    if (d.apiVersion.startsWith("kustomize.toolkit.fluxcd.io/") && typeof spec.path === "string" && !spec.path.includes("${")) {
      const norm = path.posix.normalize(path.posix.join(".", spec.path));
      if (norm === ".." || norm.startsWith("../"))
        out.push(finding("flux/path-outside-repo", "error", at(d, ["spec", "path"]), `${what}: spec.path ${spec.path} leaves the repository`, "give a path inside the repository, e.g. ./kubernetes/apps/<ns>/<app>/app"));
    }
    const fields: Array<{ p: PathSeg[]; value: unknown }> = [];
    durationFields(spec, ["spec"], fields, 0);
    for (const f of fields) {
      if (typeof f.value === "string" && (f.value.includes("${") || FLUX_DURATION.test(f.value))) continue;
      out.push(
        finding("flux/bad-duration", "error", at(d, f.p), `${what}: ${f.p.join(".")} ${JSON.stringify(f.value)} is not a duration: the API server rejects this object`, "write a duration like 30s, 10m or 1h (a number needs its unit)"),
      );
    }
  }
  return out;
}
