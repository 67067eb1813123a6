import { existsSync } from "node:fs";
import { cpus } from "node:os";
import path from "node:path";
import { Exec } from "../exec.ts";
import { kustomizationEntries, kustomizeMessage } from "../repo/render/kustomize.ts";
import type { ClusterModel, RepoDocument } from "../repo/model.ts";
import { at, isObj, kustomizationIn, type PathSeg } from "./locate.ts";
import { repoOnce } from "./files.ts";
import { finding, type Finding } from "./types.ts";
import { inspectEntry } from "../repo/safe-read.ts";
import { kustomizationStructure, unbuildableDirs } from "./structure.ts";

/**
 * kustomize: every kustomization.yaml entry (resources, components, patches, generators' files) exists; with
 * `--build` the real `kubectl kustomize` runs on every kustomization, concurrently, and its errors are reported at
 * the kustomization (and entry) they come from.
 */

const KUSTOMIZATION_FILES = ["kustomization.yaml", "kustomization.yml", "Kustomization"];
const REMOTE = /^(https?:\/\/|git@|ssh:\/\/|github\.com\/|gitlab\.com\/|oci:\/\/)|\?ref=|\/\/.*\?/;

export function isKustomizationDoc(d: RepoDocument): boolean {
  const base = path.posix.basename(d.file);
  if (!KUSTOMIZATION_FILES.includes(base)) return false;
  return d.apiVersion === undefined || d.apiVersion.startsWith("kustomize.config.k8s.io/");
}

/** The entries the offline check looks up (kustomize's own build reports the others: --build, the render). */
const CHECKED_FIELDS = /^(resources|components|patches|patchesStrategicMerge|crds)$|^(configMapGenerator|secretGenerator)\./;
const entries = (o: Record<string, unknown>) => kustomizationEntries(o).filter((e) => CHECKED_FIELDS.test(e.field));

/** What an entry is, never opening it (lib/repo/safe-read.ts): a FIFO, device, link out of the repo or unreadable folder is "unsafe". */
function kind(root: string, rel: string): { k: "file" | "dir" | "none" } | { k: "unsafe"; why: string; fix: string } {
  const e = inspectEntry(root, rel);
  if (e.kind === "unsafe") return { k: "unsafe", why: e.why, fix: e.fix };
  return { k: e.kind === "missing" ? "none" : e.kind };
}

export function kustomizeCheck(model: ClusterModel): Finding[] {
  const out: Finding[] = [];
  for (const d of model.documents) {
    if (!isKustomizationDoc(d) || !isObj(d.object)) continue;
    const dir = path.posix.dirname(d.file);
    const seen = new Set<string>();
    for (const e of entries(d.object)) {
      if (REMOTE.test(e.value)) continue;
      const rel = path.posix.normalize(path.posix.join(dir, e.value));
      // the line is looked up only for a finding; an entry's kind is asked once per load (the clusters of a repo
      // and the apps listing one component share it)
      let loc: { file: string; line: number } | undefined;
      const where = () => (loc ??= at(d, e.path));
      const entry = repoOnce(model, `kustomize/kind\0${rel}`, () => kind(model.root, rel));
      if (entry.k === "unsafe") {
        out.push(finding("kustomize/unsafe-entry", "error", where(), `${e.field} entry "${e.value}" ${entry.why}`, entry.fix));
        continue;
      }
      const k = entry.k;
      if (k === "none") {
        out.push(finding("kustomize/missing-entry", "error", where(), `${e.field} entry "${e.value}" does not exist (${rel})`, "create it, fix the path, or remove the entry"));
        continue;
      }
      if (k === "dir" && e.expects === "file") {
        out.push(finding("kustomize/missing-entry", "error", where(), `${e.field} entry "${e.value}" is a directory, not a file`, "point at the file"));
        continue;
      }
      if (k === "dir" && !repoOnce(model, `kustomize/has-kustomization\0${rel}`, () => KUSTOMIZATION_FILES.some((f) => existsSync(path.join(model.root, rel, f))))) {
        out.push(finding("kustomize/missing-entry", "error", where(), `${e.field} entry "${e.value}" is a directory without a kustomization.yaml`, "add a kustomization.yaml there or list its files"));
        continue;
      }
      const key = `${e.field}:${rel}`;
      if (seen.has(key))
        out.push(finding("kustomize/duplicate-entry", "error", where(), `${e.field} lists "${e.value}" twice`, "remove the second entry (kustomize rejects duplicate resources)"));
      seen.add(key);
    }
  }
  out.push(...kustomizationStructure(model));
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// --build: the real kubectl kustomize
// ---------------------------------------------------------------------------------------------------------------

export interface BuildOptions {
  exec?: Exec;
  /** parallel builds (default: 2 per CPU; each is a short-lived kubectl process) */
  concurrency?: number;
  kubectl?: string;
}

/** Runs `fn` on every item with at most `limit` in flight, keeping input order in the result. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/** The kustomization file and line an error from `kubectl kustomize DIR` belongs to. */
export function locateBuildError(model: ClusterModel, dir: string, stderr: string): { file: string; line: number } {
  const kdoc = kustomizationIn(model, dir, isKustomizationDoc);
  const file = kdoc?.file ?? `${dir}/kustomization.yaml`;
  if (!kdoc || !isObj(kdoc.object)) return { file, line: 1 };
  // the deepest quoted name in the error that is one of this kustomization's entries
  const quoted = [...stderr.matchAll(/'([^']+)'|"([^"]+)"/g)].map((m) => m[1] ?? m[2] ?? "");
  for (const e of kustomizationEntries(kdoc.object)) {
    const abs = path.join(model.root, dir, e.value);
    if (quoted.some((q) => q === e.value || q === abs || q.endsWith(`/${e.value.replace(/^\.\//, "")}`))) return at(kdoc, e.path);
  }
  return { file, line: kdoc.line };
}

export async function buildKustomizations(model: ClusterModel, opts: BuildOptions = {}): Promise<Finding[]> {
  const exec = opts.exec ?? new Exec({});
  const kubectl = opts.kubectl ?? "kubectl";
  const limit = opts.concurrency ?? Math.max(2, cpus().length * 2);
  // never hand kubectl a kustomization that lists a FIFO, a device, a link out of the repo or itself
  const skip = unbuildableDirs(model, kustomizeCheck(model));
  const results = await mapLimit(model.kustomizeDirs.filter((d) => !skip.has(d)), limit, async (dir) => {
    // Flux builds with no load restrictor (`../` works), confined to the repo (the render stage checks that)
    const once = () => exec.run(kubectl, ["kustomize", "--load-restrictor", "LoadRestrictionsNone", path.join(model.root, dir)], { readOnly: true, allowFailure: true, timeoutMs: 60_000, purpose: `kustomize build of ${dir}` });
    let r = await once();
    // kubectl wrappers (the CI image's dispatcher) sometimes die silently under parallel starts: a failure
    // without a message is retried once before it counts
    if (r.exitCode !== 0 && !r.stderr.trim() && !r.stdout.trim()) r = await once();
    if (r.exitCode === 0) return [];
    const msg = kustomizeMessage(r.stderr || r.stdout, model.root);
    return [finding("kustomize/build", "error", locateBuildError(model, dir, r.stderr), `kubectl kustomize ${dir} failed: ${msg}`, "fix the kustomization so it builds (run `kubectl kustomize` on the folder to see the full error)")];
  });
  return results.flat();
}
