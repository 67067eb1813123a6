/**
 * The render stage: what Flux would apply, in named steps (reference/flux-render.md).
 *
 *   findRoots      the sync roots: a FluxInstance's spec.sync, a gotk-sync.yaml, a Kustomization that manages
 *                  itself, or kubernetes/flux/cluster; the self-managing Kustomizations nested with a root's path
 *                  go with it (the bootstrap applies those nothing in the render applies)
 *   renderCluster  from each root, every Flux Kustomization's spec.path built with the real kustomize (Flux's
 *                  fields written into its kustomization.yaml), then postBuild substitution and commonMetadata;
 *                  the Flux Kustomizations it creates are rendered in turn, with the namespace their parent's
 *                  build gave them
 *   renderRepo     every cluster, plus the YAML under kubernetes/ that nothing applies (`unreferenced`)
 *
 * Every rendered object keeps the file and line of the document it came from. The result is cached by the content
 * of the repo's files (.home-ops/cache/render.json), so a repeated validate does not build again.
 */
import { createHash } from "node:crypto";
import { cpus } from "node:os";
import { type Dirent, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Exec } from "../../exec.ts";
import type { RepoDocument, Source } from "../model.ts";
import { fluxSourceIgnore, type GitIgnore } from "../gitignore.ts";
import { entryKey, generatedResources, KUSTOMIZATION_FILES, kustomizationEntries, patchObjects, REMOTE_RESOURCE, Workspace, type BuildResult, type BuiltObject, type FluxBuildSpec } from "./kustomize.ts";
import { isValidVarName, substituteObject, substitutionDisabled } from "./substitute.ts";
import { fastParse } from "../yaml.ts";
import { inspectEntry } from "../safe-read.ts";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : typeof v === "number" ? String(v) : undefined);
const get = (v: unknown, ...p: (string | number)[]): unknown => {
  let cur = v;
  for (const s of p) {
    cur = typeof s === "number" ? (Array.isArray(cur) ? cur[s] : undefined) : isObj(cur) ? cur[s] : undefined;
    if (cur === undefined) return undefined;
  }
  return cur;
};
const normRel = (p: string): string => {
  const n = path.posix.normalize(p.replace(/^\.\//, ""));
  return n === "." ? "" : n.replace(/\/$/, "");
};
/** A Flux Kustomization's spec.path, repo-relative. */
const pathOf = (k: RenderedObject): string => normRel(str(get(k.object, "spec", "path")) ?? "");
const FLUX_KS = (o: Obj) => o.kind === "Kustomization" && String(o.apiVersion ?? "").startsWith("kustomize.toolkit.fluxcd.io/");
const sopsEncrypted = (o: Obj) => isObj(o.sops) && get(o, "sops", "mac") !== undefined;

/** Bump when the render output's shape or semantics change (invalidates caches). */
const RENDER_VERSION = 10;

/** A file under an entry a partial render left out: what it would apply is unknown. */
export const unrendered = (render: Pick<RenderResult, "unrendered">, file: string): boolean =>
  render.unrendered.some((e) => file === e || file.startsWith(`${e}/`));

export interface RenderedObject {
  object: Obj;
  /** the document the object came from (for a generated object: its kustomization.yaml) */
  origin: Source;
  /** `namespace/name` of the Flux Kustomization that applies it; "bootstrap" for what the bootstrap applies */
  appliedBy: string;
  /** a SOPS-encrypted object (left encrypted: structure is checked, values are not) */
  encrypted: boolean;
  /** created by flux-operator from a FluxInstance's spec.sync (no document of its own) */
  synthetic?: boolean;
  /** a Flux Kustomization whose source is not this repo (its spec.path is in another repository or artifact) */
  foreignSource?: boolean;
}

export interface RenderFinding {
  id: string;
  /** where inside the origin document (the loader turns it into a line) */
  path?: (string | number)[];
  /** for a build failure: the repo-relative folder that did not build */
  dir?: string;
  severity: "error" | "warning" | "info";
  file: string;
  line: number;
  message: string;
  fix: string;
}

export interface RenderedCluster {
  /** the cluster's name: kubernetes/clusters/<name>, else the root folder's name */
  name: string;
  /** repo-relative folder of the root sync */
  rootPath: string;
  objects: RenderedObject[];
  /** repo-relative folders Flux builds for this cluster */
  paths: string[];
}

export interface RenderResult {
  clusters: RenderedCluster[];
  findings: RenderFinding[];
  /** files under kubernetes/ holding Kubernetes objects that no Flux Kustomization applies */
  unreferenced: Source[];
  /**
   * Every Flux path built. When one did not (a missing path, a kustomize error), what it would have applied is
   * unknown: `unreferenced` files are then modelled as written instead of reported.
   */
  complete: boolean;
  /**
   * Resources entries (repo-relative) a partial render left out because they do not build: what their files would
   * apply is unknown, so those files are modelled as written instead of reported as unreferenced.
   */
  unrendered: string[];
  /** kustomize builds run (0 on a warm cache) */
  builds: number;
  fromCache: boolean;
}

export interface RenderOptions {
  exec?: Exec;
  kubectl?: string;
  /** file of the render cache; none = no cache */
  cacheFile?: string;
  concurrency?: number;
  /** most Flux paths built in one kustomize run (1 = one run per path, like flux-local) */
  batchSize?: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Step 1: roots
// ---------------------------------------------------------------------------------------------------------------

export interface SyncRoot {
  /** repo-relative path of the root Kustomization */
  path: string;
  /** objects that exist before anything in git is built (flux-operator's source + Kustomization) */
  seeds: RenderedObject[];
  source: Source;
  /** a FluxInstance's spec.kustomize.patches: flux-operator applies them to the seeds (and to Flux itself) */
  patches?: unknown[];
  /**
   * Self-managing Flux Kustomizations whose path nests with this root's (selfManaging): the bootstrap applies each
   * one that nothing in this cluster's render applies, next to the root.
   */
  bootstrapped?: RenderedObject[];
}

/** A HelmRelease of flux-operator's flux-instance chart (a FluxInstance written as chart values). */
export function isFluxInstanceChart(d: RepoDocument): boolean {
  return (str(get(d.object, "spec", "chart", "spec", "chart")) ?? str(get(d.object, "spec", "chartRef", "name")) ?? "").includes("flux-instance");
}

/** A FluxInstance's spec.sync, written as a FluxInstance or as the values of the flux-instance chart. */
function fluxInstanceSyncs(docs: readonly RepoDocument[]): { sync: Obj; namespace: string; doc: RepoDocument; at: (string | number)[]; instance: Obj }[] {
  const out: { sync: Obj; namespace: string; doc: RepoDocument; at: (string | number)[]; instance: Obj }[] = [];
  for (const d of docs) {
    if (!d.file.startsWith("kubernetes/")) continue;
    if (d.kind === "FluxInstance") {
      const sync = get(d.object, "spec", "sync");
      if (isObj(sync)) out.push({ sync, namespace: d.namespace ?? "flux-system", doc: d, at: ["spec", "sync"], instance: get(d.object, "spec") as Obj });
    } else if (d.kind === "HelmRelease") {
      if (!isFluxInstanceChart(d)) continue;
      const namespace = str(get(d.object, "spec", "targetNamespace")) ?? d.namespace ?? "flux-system";
      const at = helmValueSource(docs, d, ["instance", "sync"]);
      const sync = at ? get(at.doc.object, ...at.path) : undefined;
      if (at && isObj(sync)) out.push({ sync, namespace, doc: at.doc, at: at.path, instance: get(at.doc.object, ...at.path.slice(0, -1)) as Obj });
    }
  }
  return out;
}

/**
 * Where a HelmRelease's value at `at` (a path into its values) is written, as Flux merges them (valuesFrom in order,
 * then spec.values): spec.values, else the last valuesFrom ConfigMap that a configMapGenerator makes from a repo
 * file (cluster-template's flux-instance). undefined when no written source sets it.
 */
export function helmValueSource(docs: readonly RepoDocument[], hr: RepoDocument, at: readonly string[]): { doc: RepoDocument; path: string[] } | undefined {
  if (get(hr.object, "spec", "values", ...at) !== undefined) return { doc: hr, path: ["spec", "values", ...at] };
  const valuesFrom = get(hr.object, "spec", "valuesFrom");
  for (const vf of (Array.isArray(valuesFrom) ? valuesFrom : []).toReversed()) {
    if (str(get(vf, "kind")) !== "ConfigMap") continue;
    const file = generatedFile(docs, path.posix.dirname(hr.file), str(get(vf, "name")) ?? "", str(get(vf, "valuesKey")) ?? "values.yaml");
    const vdoc = file ? docs.find((x) => x.file === file) : undefined;
    if (vdoc && get(vdoc.object, ...at) !== undefined) return { doc: vdoc, path: [...at] };
  }
  return undefined;
}

/**
 * The repo file a kustomize configMapGenerator named `name` puts under `key`: the generator of the folder `dir`
 * first, then of its parents, then any in the repo.
 */
export function generatedFile(docs: readonly RepoDocument[], dir: string, name: string, key: string): string | undefined {
  const kustomizations = docs.filter((d) => KUSTOMIZATION_FILES.includes(path.posix.basename(d.file)) && isObj(d.object));
  const rank = (d: RepoDocument) => {
    const k = path.posix.dirname(d.file);
    return k === dir ? 0 : dir.startsWith(`${k}/`) ? 1 : 2;
  };
  for (const k of [...kustomizations].sort((a, b) => rank(a) - rank(b))) {
    for (const g of Array.isArray(get(k.object, "configMapGenerator")) ? (get(k.object, "configMapGenerator") as unknown[]) : []) {
      if (str(get(g, "name")) !== name) continue;
      for (const f of Array.isArray(get(g, "files")) ? (get(g, "files") as unknown[]) : []) {
        const spec = String(f);
        const [fkey, fpath] = spec.includes("=") ? [spec.slice(0, spec.indexOf("=")), spec.slice(spec.indexOf("=") + 1)] : [path.posix.basename(spec), spec];
        if (fkey === key && fpath) return path.posix.normalize(path.posix.join(path.posix.dirname(k.file), fpath));
      }
    }
  }
  return undefined;
}

export function findRoots(docs: readonly RepoDocument[], exists: (rel: string) => boolean): SyncRoot[] {
  const roots: SyncRoot[] = [];
  for (const { sync, namespace, doc, instance } of fluxInstanceSyncs(docs)) {
    const p = str(sync.path);
    if (p === undefined || roots.some((r) => r.path === normRel(p))) continue;
    const name = str(sync.name) ?? namespace;
    const kind = str(sync.kind) ?? "GitRepository";
    const ref = str(sync.ref);
    const refSpec = kind === "OCIRepository" ? { tag: ref } : kind === "Bucket" ? undefined : { name: ref };
    const origin = { file: doc.file, line: doc.line };
    const source: Obj = {
      apiVersion: "source.toolkit.fluxcd.io/v1",
      kind,
      metadata: { name, namespace },
      spec: { url: str(sync.url) ?? "", interval: str(sync.interval) ?? "1m", ...(refSpec ? { ref: refSpec } : { bucketName: ref }) },
    };
    const ks: Obj = {
      apiVersion: "kustomize.toolkit.fluxcd.io/v1",
      kind: "Kustomization",
      metadata: { name, namespace },
      spec: { path: p, prune: true, interval: str(sync.interval) ?? "10m", sourceRef: { kind, name } },
    };
    roots.push({
      path: normRel(p),
      source: origin,
      seeds: [source, ks].map((object) => ({ object, origin, appliedBy: "flux-operator", encrypted: false, synthetic: true })),
      patches: Array.isArray(get(instance, "kustomize", "patches")) ? (get(instance, "kustomize", "patches") as unknown[]) : undefined,
    });
  }
  // flux bootstrap: <path>/flux-system/gotk-sync.yaml, applied by the bootstrap with the folder's kustomization
  for (const d of docs)
    if (/(^|\/)flux-system\/gotk-sync\.ya?ml$/.test(d.file) && d.kind === "Kustomization") {
      const dir = path.posix.dirname(d.file);
      if (!roots.some((r) => r.path === dir)) roots.push({ path: dir, seeds: [], source: { file: d.file, line: d.line } });
    }
  const own = selfManaging(docs);
  // nothing else syncs the repo: the outermost self-managing Kustomizations are the roots (the bootstrap applies
  // each; its own build then applies it again, with its postBuild)
  if (roots.length === 0)
    for (const k of own) {
      const p = pathOf(k);
      const inner = own.some((o) => pathOf(o) !== p && nested(pathOf(o), p) && pathOf(o).length < p.length);
      if (!inner && !roots.some((r) => r.path === p)) roots.push({ path: p, seeds: [k], source: k.origin });
    }
  // this repo's convention: kubernetes/flux/cluster is applied by the bootstrap and syncs the rest
  const cluster = "kubernetes/flux/cluster";
  if (roots.length === 0 && exists(cluster)) roots.push({ path: cluster, seeds: [], source: { file: cluster, line: 0 } });
  // the others belong to the first cluster whose root path theirs contains or lies in
  for (const k of own) {
    if (roots.some((r) => r.seeds.includes(k))) continue;
    const r = roots.find((x) => nested(x.path, pathOf(k)));
    if (r) (r.bootstrapped ??= []).push(k);
  }
  return roots;
}

/**
 * Flux Kustomizations written in the repo whose spec.path holds their own file: a sync Kustomization that manages
 * itself, the shape of flux bootstrap's gotk-sync.yaml (and of cluster-template's kubernetes/flux/config/cluster.yaml,
 * which its bootstrap applies with `kubectl apply -k`). Only one that syncs a GitRepository: a Kustomization of an
 * OCI artifact or a bucket (Flux's own manifests, path ./) builds something that is not this repo.
 */
function selfManaging(docs: readonly RepoDocument[]): RenderedObject[] {
  const out: RenderedObject[] = [];
  for (const d of docs) {
    if (!d.file.startsWith("kubernetes/") || !isObj(d.object) || !FLUX_KS(d.object)) continue;
    const p = str(get(d.object, "spec", "path"));
    if (p === undefined || p.includes("${")) continue;
    if ((str(get(d.object, "spec", "sourceRef", "kind")) ?? "GitRepository") !== "GitRepository") continue;
    const rel = normRel(p);
    if (rel === "" || d.file.startsWith(`${rel}/`)) out.push({ object: d.object, origin: { file: d.file, line: d.line }, appliedBy: "bootstrap", encrypted: false });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Step 2: render one cluster
// ---------------------------------------------------------------------------------------------------------------

interface Pending {
  /** the Flux Kustomization (already substituted by its parent); undefined for the bootstrap's root build */
  ks?: RenderedObject;
  path: string;
  attempts: number;
  /** which sync it descends from: 0 the root, i the i-th Kustomization the bootstrap applies next to it */
  chain: number;
  /** a Kustomization whose build holds itself: its substituteFrom may name what that build applies */
  self?: boolean;
}

class WorkspacePool {
  private free: Workspace[] = [];
  private all: Workspace[] = [];
  private waiters: ((w: Workspace) => void)[] = [];
  constructor(
    private readonly root: string,
    private readonly tops: string[],
    private readonly size: number,
    private readonly ignore?: GitIgnore,
  ) {}
  async take(): Promise<Workspace> {
    const w = this.free.pop();
    if (w) return w;
    if (this.all.length < this.size) {
      const n = new Workspace(this.root, this.tops, this.ignore);
      this.all.push(n);
      return n;
    }
    return new Promise((res) => this.waiters.push(res));
  }
  give(w: Workspace): void {
    const next = this.waiters.shift();
    if (next) next(w);
    else this.free.push(w);
  }
  dispose(): void {
    for (const w of this.all) w.dispose();
  }
}

interface ClusterCtx {
  byFile: Map<string, RepoDocument[]>;
  pool: WorkspacePool;
  /** the repo's absolute path */
  root: string;
  exec: Exec;
  kubectl: string;
  findings: RenderFinding[];
  builds: number;
  /** files whose documents a build read (origins, patches, generator inputs) */
  used: Set<string>;
  /** a Flux path was missing or did not build */
  incomplete: boolean;
  /** entries partial renders left out */
  unrendered: string[];
  /** most Flux paths one kustomize run builds */
  batchSize: number;
  /** scratch copies building at the same time */
  workspaces: number;
  /** builds of this render by their Flux build spec (shared by the clusters that use one pool; a build under way too) */
  built: Map<string, Promise<BuildResult>>;
}

function nsName(o: Obj): string {
  return `${str(get(o, "metadata", "namespace")) ?? ""}/${str(get(o, "metadata", "name")) ?? ""}`;
}

/** The literal document an output object came from: same kind and name (before prefix/suffix/namespace renames). */
function originDoc(docs: readonly RepoDocument[] | undefined, o: Obj, spec: FluxBuildSpec): RepoDocument | undefined {
  if (!docs?.length) return undefined;
  const kind = str(o.kind);
  let name = str(get(o, "metadata", "name")) ?? "";
  if (spec.namePrefix && name.startsWith(spec.namePrefix)) name = name.slice(spec.namePrefix.length);
  if (spec.nameSuffix && name.endsWith(spec.nameSuffix)) name = name.slice(0, -spec.nameSuffix.length);
  const sameKind = docs.filter((d) => d.kind === kind);
  return sameKind.find((d) => d.name === name) ?? (sameKind.length === 1 ? sameKind[0] : undefined) ?? sameKind.find((d) => name.endsWith(d.name ?? "\0")) ?? sameKind[0] ?? docs[0];
}

function buildSpecOf(p: Pending): FluxBuildSpec {
  const spec = p.ks ? (get(p.ks.object, "spec") as Obj | undefined) ?? {} : {};
  return {
    path: p.path,
    targetNamespace: str(spec.targetNamespace),
    namePrefix: str(spec.namePrefix),
    nameSuffix: str(spec.nameSuffix),
    patches: Array.isArray(spec.patches) ? spec.patches : undefined,
    images: Array.isArray(spec.images) ? spec.images : undefined,
    components: Array.isArray(spec.components) ? spec.components.map(String) : undefined,
  };
}

/** postBuild variables of a Kustomization, from the objects rendered so far; `missing` names sources not (yet) seen. */
function postBuildVars(ks: RenderedObject, objects: readonly RenderedObject[]): { vars: Record<string, string>; loaded: boolean; opaque: boolean; missing: { index: number; kind: string; name: string; optional: boolean }[] } {
  const pb = get(ks.object, "spec", "postBuild");
  const vars: Record<string, string> = {};
  let loaded = false;
  let opaque = false;
  const missing: { index: number; kind: string; name: string; optional: boolean }[] = [];
  if (!isObj(pb)) return { vars, loaded, opaque, missing };
  const ns = str(get(ks.object, "metadata", "namespace"));
  const refs = Array.isArray(pb.substituteFrom) ? pb.substituteFrom : [];
  refs.forEach((ref, index) => {
    const kind = str(get(ref, "kind")) ?? "";
    const name = str(get(ref, "name")) ?? "";
    const optional = get(ref, "optional") === true;
    const src = objects.find((r) => r.object.kind === kind && nsName(r.object) === `${ns ?? ""}/${name}`);
    if (!src) {
      missing.push({ index, kind, name, optional });
      if (!optional) opaque = true;
      return;
    }
    if (src.encrypted) {
      opaque = true;
      loaded = true;
      return;
    }
    const data = get(src.object, "data");
    const sdata = get(src.object, "stringData");
    const put = (k: string, v: unknown) => {
      vars[k] = String(v ?? "").replaceAll("\n", "");
      loaded = true;
    };
    if (isObj(data)) for (const [k, v] of Object.entries(data)) put(k, kind === "Secret" ? Buffer.from(String(v), "base64").toString("utf8") : v);
    if (isObj(sdata)) for (const [k, v] of Object.entries(sdata)) put(k, v);
    if (kind === "Secret" && !isObj(data) && !isObj(sdata)) opaque = true;
  });
  if (isObj(pb.substitute)) for (const [k, v] of Object.entries(pb.substitute)) ((vars[k] = String(v ?? "")), (loaded = true));
  return { vars, loaded, opaque, missing };
}

function fluxApply(
  built: BuiltObject,
  p: Pending,
  spec: FluxBuildSpec,
  vars: ReturnType<typeof postBuildVars>,
  ctx: ClusterCtx,
  undefinedSeen: Set<string>,
): RenderedObject {
  let object = built.object;
  const docs = built.originFile ? ctx.byFile.get(built.originFile) : undefined;
  if (built.originFile) ctx.used.add(built.originFile);
  const doc = built.generated ? docs?.[0] : originDoc(docs, object, spec);
  const origin: Source = doc ? { file: doc.file, line: doc.line } : (p.ks?.origin ?? { file: built.originFile ?? p.path, line: 0 });
  const encrypted = sopsEncrypted(object);
  const ks = p.ks;
  if (ks && vars.loaded && !encrypted && !substitutionDisabled(object)) {
    const r = substituteObject(object, vars.vars, { opaque: vars.opaque });
    object = r.value as Obj;
    for (const [name, at] of r.undefinedVars) {
      const key = `${origin.file}:${origin.line}:${name}`;
      if (undefinedSeen.has(key)) continue;
      undefinedSeen.add(key);
      ctx.findings.push({
        id: "flux/substitute-undefined",
        severity: "error",
        path: at,
        file: origin.file,
        line: origin.line,
        message: `\${${name}} is substituted by Kustomization ${str(get(ks.object, "metadata", "name"))} but defined nowhere: Flux replaces it with an empty string`,
        fix: `define ${name} in postBuild.substitute or a substituteFrom ConfigMap, give it a default (\${${name}:=value}), or escape it as $\${${name}}`,
      });
    }
  }
  const cm = ks ? get(ks.object, "spec", "commonMetadata") : undefined;
  if (isObj(cm)) {
    const md = (isObj(object.metadata) ? { ...object.metadata } : {}) as Obj;
    for (const field of ["labels", "annotations"]) {
      const add = cm[field];
      if (isObj(add)) md[field] = { ...(isObj(md[field]) ? (md[field] as Obj) : {}), ...add };
    }
    object = { ...object, metadata: md };
  }
  return { object, origin, appliedBy: ks ? nsName(ks.object) : "bootstrap", encrypted };
}

const nested = (a: string, b: string) => a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`) || a === "" || b === "";

/**
 * Builds one round of Flux Kustomizations: in as few kustomize runs as possible (one per workspace, each listing
 * paths that do not contain one another); a combined run that fails is redone path by path.
 */
async function buildRound<T extends { spec: FluxBuildSpec }>(all: T[], ctx: ClusterCtx): Promise<(T & { result: BuildResult })[]> {
  // a path another cluster of the repo built (or is building) with the same Flux fields gives the same objects
  // (substitution, which differs per cluster, comes after): built once
  const reused: Promise<T & { result: BuildResult }>[] = [];
  const items: T[] = [];
  const settle = new Map<string, (r: BuildResult) => void>();
  for (const it of all) {
    const key = JSON.stringify(it.spec);
    const hit = ctx.built.get(key);
    if (hit) reused.push(hit.then((result) => ({ ...it, result })));
    else {
      ctx.built.set(key, new Promise((res) => settle.set(key, res)));
      items.push(it);
    }
  }
  try {
    const fresh = await buildItems(items, ctx);
    for (const r of fresh) settle.get(JSON.stringify(r.spec))?.(r.result);
    return [...(await Promise.all(reused)), ...fresh];
  } finally {
    // a build that threw: whoever waits on it sees a failed build, never a promise that does not settle
    for (const res of settle.values()) res({ ok: false, message: "the build did not finish" });
  }
}

async function buildItems<T extends { spec: FluxBuildSpec }>(items: T[], ctx: ClusterCtx): Promise<(T & { result: BuildResult })[]> {
  if (items.length === 0) return [];
  const groups: T[][] = [];
  // as many groups as workspaces (or a multiple of them when a group would exceed batchSize), of even size: the
  // workspaces finish together instead of one building a last, small group alone
  const rounds = Math.ceil(Math.ceil(items.length / Math.max(1, ctx.batchSize)) / ctx.workspaces);
  const per = Math.max(1, Math.ceil(items.length / (Math.max(1, rounds) * ctx.workspaces)));
  for (const it of items) {
    const g = groups.find((x) => x.length < per && x.every((y) => !nested(y.spec.path, it.spec.path)));
    if (g) g.push(it);
    else groups.push([it]);
  }
  // spread over the workspaces: at most one group per workspace at a time
  const out = await Promise.all(
    groups.map(async (g) => {
      const w = await ctx.pool.take();
      try {
        ctx.builds++;
        const batch = g.length > 1 ? await w.buildBatch(g.map((x) => x.spec), ctx.exec, ctx.kubectl) : undefined;
        if (batch) return g.map((x, i) => ({ ...x, result: batch[i]! }));
        const one: (T & { result: BuildResult })[] = [];
        for (const x of g) {
          if (g.length > 1) ctx.builds++;
          one.push({ ...x, result: await w.build(x.spec, ctx.exec, ctx.kubectl) });
        }
        return one;
      } finally {
        ctx.pool.give(w);
      }
    }),
  );
  return out.flat();
}

/** Identity of an applied object: two documents with the same one are one object in the cluster. */
function objectKey(o: Obj): string {
  const group = String(o.apiVersion ?? "").includes("/") ? String(o.apiVersion).split("/")[0] : "";
  return `${group}/${str(o.kind) ?? ""}/${nsName(o)}`;
}

/**
 * One cluster: the root's sync, then each self-managing Kustomization of the cluster that nothing in the render
 * applies (the bootstrap applies it; outermost first, one at a time, since the next one may be applied by it).
 * Each is rendered next to the root from the first round, so what it applies (cluster-settings, the sources) is
 * there for the root's Kustomizations as in the running cluster. The builds are reused from the earlier pass.
 */
async function renderCluster(root: SyncRoot, ctx: ClusterCtx): Promise<RenderedCluster> {
  const findingsBefore = ctx.findings.length;
  const extra: RenderedObject[] = [];
  for (;;) {
    const pass = await renderFrom(root, extra, ctx);
    const next = (root.bootstrapped ?? [])
      .filter((k) => !extra.includes(k) && !pass.done.has(nsName(k.object)) && pass.fromThisRepo(k))
      .sort((a, b) => pathOf(a).length - pathOf(b).length)[0];
    if (!next) return pass.cluster;
    extra.push(next);
    ctx.findings.length = findingsBefore;
    ctx.incomplete = false;
  }
}

async function renderFrom(root: SyncRoot, extra: readonly RenderedObject[], ctx: ClusterCtx): Promise<{ cluster: RenderedCluster; done: Set<string>; fromThisRepo: (r: RenderedObject) => boolean }> {
  const objects: RenderedObject[] = [...root.seeds, ...extra];
  const paths: string[] = [];
  const queue: Pending[] = [];
  const seedKs = root.seeds.find((s) => FLUX_KS(s.object));
  // a seed the repo holds (a self-managing Kustomization) builds itself: not deferred for its substituteFrom
  queue.push(seedKs ? { ks: seedKs, path: root.path, attempts: seedKs.synthetic ? 0 : 3, chain: 0, self: !seedKs.synthetic } : { path: root.path, attempts: 0, chain: 0 });
  extra.forEach((k, i) => queue.push({ ks: k, path: pathOf(k), attempts: 3, chain: i + 1, self: true }));
  // An object two syncs apply is one object in the cluster: modelled once, as the first sync rendered it (the
  // root's before the bootstrap's other Kustomizations). So is what the bootstrap applied from the repo and the
  // Kustomization it applied applies again (a self-managing Kustomization's build gives itself, gotk-sync.yaml's
  // flux-system folder is in its path).
  const owner = new Map<string, number>();
  const fromBootstrap = new Set<string>();
  for (const s of root.seeds) owner.set(objectKey(s.object), 0);
  extra.forEach((k, i) => owner.set(objectKey(k.object), i + 1));
  for (const k of [...root.seeds, ...extra]) if (!k.synthetic) fromBootstrap.add(objectKey(k.object));
  const done = new Set<string>();
  const undefinedSeen = new Set<string>();

  const enqueue = (r: RenderedObject, chain: number) => {
    const o = r.object;
    const key = nsName(o);
    if (done.has(key)) return;
    done.add(key);
    const ns = str(get(o, "metadata", "namespace"));
    if (!ns)
      ctx.findings.push({ id: "flux/namespace-unset", severity: "error", file: r.origin.file, line: r.origin.line, message: `Flux Kustomization ${str(get(o, "metadata", "name"))} has no namespace after its parent's build: Flux does not default it and the apply fails ("namespace not specified")`, fix: "set metadata.namespace (or a namespace: in the kustomization.yaml that lists it)" });
    const p = str(get(o, "spec", "path"));
    if (!fromThisRepo(r)) {
      r.foreignSource = true; // another Git repository, an OCI artifact or a bucket: not in this repo
      return;
    }
    if (p === undefined) return;
    if (p.includes("${")) {
      ctx.findings.push({ id: "flux/path-unresolved", severity: "error", file: r.origin.file, line: r.origin.line, message: `Flux Kustomization ${str(get(o, "metadata", "name"))}: spec.path ${p} still holds a variable after its parent's substitution`, fix: "define the variable for the parent Kustomization (postBuild.substitute or substituteFrom)" });
      return;
    }
    queue.push({ ks: r, path: normRel(p), attempts: 0, chain });
  };
  for (const s of [...root.seeds, ...extra]) if (FLUX_KS(s.object)) done.add(nsName(s.object));
  // The source that is this repo: the FluxInstance's sync source, else the one the bootstrap's Kustomizations use.
  const self = new Set<string>();
  const refKey = (r: RenderedObject) => {
    const o = r.object;
    const kind = str(get(o, "spec", "sourceRef", "kind")) ?? "GitRepository";
    const ns = str(get(o, "spec", "sourceRef", "namespace")) ?? str(get(o, "metadata", "namespace")) ?? "";
    return `${kind}/${ns}/${str(get(o, "spec", "sourceRef", "name")) ?? ""}`;
  };
  if (seedKs) self.add(refKey(seedKs));
  for (const k of extra) self.add(refKey(k));
  const fromThisRepo = (r: RenderedObject): boolean => {
    if (self.size === 0 && r.appliedBy === "bootstrap") self.add(refKey(r));
    return self.has(refKey(r));
  };

  while (queue.length) {
    // Everything queued now builds concurrently; a Kustomization whose substituteFrom source is not rendered yet
    // waits for the next round (its source usually comes from a sibling).
    const round = queue.splice(0);
    const ready: { p: Pending; vars: ReturnType<typeof postBuildVars> }[] = [];
    for (const p of round) {
      const vars = p.ks ? postBuildVars(p.ks, objects) : { vars: {}, loaded: false, opaque: false, missing: [] };
      if (vars.missing.length && p.attempts < 3 && (queue.length || round.length > 1)) {
        queue.push({ ...p, attempts: p.attempts + 1 });
        continue;
      }
      ready.push({ p, vars });
    }
    if (ready.length === 0 && queue.length) {
      for (const p of queue) p.attempts = 3;
      continue;
    }
    // in the order queued (a build another cluster made comes back first): the root's objects before the others'
    const results = (await buildRound(ready.map(({ p, vars }, order) => ({ p, vars, spec: buildSpecOf(p), order })), ctx)).sort((a, b) => a.order - b.order);
    for (const { p, vars, spec: asBuilt, result: first } of results) {
      paths.push(p.path);
      if (!first.ok && first.missing) {
        ctx.incomplete = true; // flux/path-missing reports it at the Kustomization
        continue;
      }
      let result = first;
      let spec = asBuilt;
      if (!first.ok) {
        const at = p.ks?.origin ?? root.source;
        // Flux applies nothing of a path that does not build; what it would apply once the broken entries are fixed
        // is still rendered and checked, so one bad entry does not hide (or fake) findings in the rest
        const partial = await partialBuild(p.path, asBuilt, ctx);
        const rest = partial ? `; the rest of ${p.path} (without ${partial.omitted.join(", ")}) was rendered and checked as Flux would apply it once they are fixed` : "";
        ctx.findings.push({ id: "kustomize/build", severity: "error", dir: p.path, file: at.file, line: at.line, message: `building ${p.path}${p.ks ? ` (Flux Kustomization ${str(get(p.ks.object, "metadata", "name"))})` : ""} failed: ${first.message}${rest}`, fix: "fix the kustomization so it builds (`kubectl kustomize --load-restrictor LoadRestrictionsNone` on the folder shows the full error)" });
        if (!partial?.result.ok) {
          ctx.incomplete = true;
          continue;
        }
        ctx.unrendered.push(...partial.omitted);
        ({ result, spec } = partial);
      }
      if (!result.ok) continue;
      for (const url of result.remoteSkipped) {
        const at = p.ks?.origin ?? root.source;
        ctx.findings.push({ id: "kustomize/remote-resource", severity: "info", file: at.file, line: at.line, message: `${p.path} lists the remote resource ${url}: validate works offline and did not fetch it, so the objects it adds are not checked`, fix: "nothing to fix; vendor the manifest into the repo if it should be checked" });
      }
      // a self-managing Kustomization reads substituteFrom sources its own build applies (they exist once it ran)
      const own = p.self && p.ks && vars.missing.length ? postBuildVars(p.ks, [...objects, ...result.objects.map((b) => ({ object: b.object, origin: { file: "", line: 0 }, appliedBy: "", encrypted: sopsEncrypted(b.object) }))]) : vars;
      for (const built of result.objects) {
        const id = objectKey(built.object);
        const firstChain = owner.get(id);
        if (firstChain !== undefined && (firstChain !== p.chain || (p.ks && fromBootstrap.has(id)))) {
          if (built.originFile) ctx.used.add(built.originFile);
          continue;
        }
        owner.set(id, p.chain);
        if (!p.ks) fromBootstrap.add(id);
        const r = fluxApply(built, p, spec, own, ctx, undefinedSeen);
        objects.push(r);
        if (FLUX_KS(r.object)) enqueue(r, p.chain);
      }
    }
  }
  const m = /^kubernetes\/clusters\/([^/]+)/.exec(root.path);
  return { cluster: { name: m?.[1] ?? path.posix.basename(root.path), rootPath: root.path, objects, paths }, done, fromThisRepo };
}

/**
 * A Flux path that does not build, rendered without its broken resources entries: entries that do not exist, and
 * folders that do not build on their own (each tried alone, in one batch), where a folder is itself rendered without
 * its broken entries when that is enough (up to three levels down). undefined when no entry is to blame (the error
 * is in the folder's own kustomization or a file it lists) or nothing would be left.
 */
async function partialBuild(dir: string, spec: FluxBuildSpec, ctx: ClusterCtx): Promise<{ result: BuildResult; spec: FluxBuildSpec; omitted: string[] } | undefined> {
  if (spec.omit) return undefined;
  const omit = await brokenEntries(dir, ctx, 0);
  if (!omit) return undefined;
  const without: FluxBuildSpec = { ...spec, omit };
  const [again] = await buildRound([{ spec: without }], ctx);
  const omitted = Object.entries(omit).flatMap(([folder, entries]) => entries.map((e) => normRel(path.posix.join(folder, e))));
  return again ? { result: again.result, spec: without, omitted } : undefined;
}

/** The resources entries to leave out, by folder, so that `dir` builds; undefined when leaving entries out cannot help. */
async function brokenEntries(dir: string, ctx: ClusterCtx, depth: number): Promise<Record<string, string[]> | undefined> {
  const own = KUSTOMIZATION_FILES.map((f) => ctx.byFile.get(dir ? `${dir}/${f}` : f)?.[0]).find((d) => d !== undefined);
  const abs = path.join(ctx.root, dir);
  let entries: string[];
  if (own) entries = Array.isArray(get(own.object, "resources")) ? (get(own.object, "resources") as unknown[]).filter((r): r is string => typeof r === "string") : [];
  else if (KUSTOMIZATION_FILES.some((f) => existsSync(path.join(abs, f)))) return undefined; // there but not parsed: its own error
  else entries = generatedResources(abs);
  const local = entries.filter((e) => !REMOTE_RESOURCE.test(e));
  const out: Record<string, string[]> = {};
  const omit: string[] = [];
  const folders: { entry: string; at: string; spec: FluxBuildSpec }[] = [];
  for (const e of local) {
    const at = normRel(path.posix.join(dir, e));
    let isDir = false;
    try {
      isDir = statSync(path.join(ctx.root, at)).isDirectory();
    } catch {
      omit.push(e); // not there: kustomize's "no such file"
      continue;
    }
    if (isDir && !at.startsWith("..")) folders.push({ entry: e, at, spec: { path: at } });
  }
  for (const r of await buildRound(folders, ctx)) {
    if (r.result.ok) continue;
    const below = depth < 2 ? await brokenEntries(r.at, ctx, depth + 1) : undefined;
    if (below) Object.assign(out, below);
    else omit.push(r.entry);
  }
  if (omit.length >= local.length) return undefined;
  if (omit.length) out[dir] = omit;
  return Object.keys(out).length ? out : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Step 3: what nothing applies
// ---------------------------------------------------------------------------------------------------------------

/** Files a kustomization reads that are not resources: patches, generator inputs, replacements. */
function kustomizeInputs(docs: readonly RepoDocument[]): Set<string> {
  const out = new Set<string>();
  for (const d of docs) {
    if (!KUSTOMIZATION_FILES.includes(path.posix.basename(d.file)) || !isObj(d.object)) continue;
    const dir = path.posix.dirname(d.file);
    for (const e of kustomizationEntries(d.object))
      if (!["resources", "bases", "components"].includes(e.field) && !/^[a-z]+:\/\//.test(e.value)) out.add(path.posix.normalize(path.posix.join(dir, e.value)));
  }
  return out;
}

function unreferencedFiles(docs: readonly RepoDocument[], used: Set<string>): Source[] {
  const inputs = kustomizeInputs(docs);
  const out: Source[] = [];
  const seen = new Set<string>();
  for (const d of docs) {
    if (!d.file.startsWith("kubernetes/") || seen.has(d.file) || used.has(d.file) || inputs.has(d.file)) continue;
    if (d.file.includes("/bootstrap/")) continue; // the bootstrap's own input (applied before Flux), not Flux's
    if (!d.apiVersion || !d.kind || d.apiVersion.startsWith("kustomize.config.k8s.io/")) continue;
    if (KUSTOMIZATION_FILES.includes(path.posix.basename(d.file))) continue;
    seen.add(d.file);
    out.push({ file: d.file, line: d.line });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// renderRepo
// ---------------------------------------------------------------------------------------------------------------

/** Every folder under `top` (itself first, then its subfolders, sorted), with its entries; .git, node_modules,
 * .home-ops and the names in `skip` are left out. */
function* folders(root: string, top: string, skip: readonly string[] = []): Generator<{ rel: string; entries: Dirent[] }> {
  let entries: Dirent[];
  try {
    entries = readdirSync(path.join(root, top), { withFileTypes: true });
  } catch {
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  yield { rel: top, entries };
  for (const e of entries)
    if (e.isDirectory() && ![".git", "node_modules", ".home-ops", ...skip].includes(e.name)) yield* folders(root, `${top}/${e.name}`, skip);
}

/**
 * The top-level folders and files of the repo, besides `tops`, that the kustomizations under `tops` read: Flux's
 * artifact is the whole repo (minus its source-ignore rules), so a configMapGenerator may read `../../adguard/x.yaml`.
 * Followed through the kustomizations of those folders in turn. Only what is named is copied into the scratch copy
 * (a repo's tests/ or docs/ would cost every cold render); a path that leaves the repo is not (the build refuses it).
 */
export function topsRead(root: string, docs: readonly RepoDocument[], tops: readonly string[]): string[] {
  const extra = new Set<string>();
  const followed = new Set<string>();
  const visit = (dir: string, k: unknown) => {
    if (!isObj(k)) return;
    for (const e of kustomizationEntries(k)) {
      if (REMOTE_RESOURCE.test(e.value) || path.posix.isAbsolute(e.value)) continue;
      const rel = path.posix.normalize(path.posix.join(dir, e.value));
      if (rel === "." || rel === ".." || rel.startsWith("../")) continue;
      const top = rel.split("/")[0]!;
      if (tops.includes(top)) continue;
      extra.add(top);
      follow(rel);
    }
  };
  const follow = (rel: string) => {
    if (followed.has(rel)) return;
    followed.add(rel);
    for (const f of KUSTOMIZATION_FILES) {
      let text: string;
      try {
        text = readFileSync(path.join(root, rel, f), "utf8");
      } catch {
        continue;
      }
      try {
        visit(rel, fastParse(text));
      } catch {
        // kustomize reports the broken file at the build
      }
      return;
    }
  };
  for (const d of docs)
    if (KUSTOMIZATION_FILES.includes(path.posix.basename(d.file)) && tops.includes(d.file.split("/")[0]!)) visit(path.posix.dirname(d.file), d.object);
  return [...extra].filter((t) => ["dir", "file"].includes(inspectEntry(root, t).kind)).sort();
}

/** Content hash of every file a build can read (the top folders the roots live in). */
function treeHash(root: string, tops: readonly string[], extra: readonly string[] = []): string {
  const h = createHash("sha1");
  h.update(`render v${RENDER_VERSION}\0`);
  for (const t of tops)
    for (const { rel, entries } of folders(root, t, ["clusterconfig"]))
      for (const e of entries) {
        if (!e.isFile()) continue;
        const r = `${rel}/${e.name}`;
        h.update(r);
        h.update("\0");
        h.update(readFileSync(path.join(root, r)));
        h.update("\0");
      }
  for (const f of extra) {
    h.update(`${f}\0`);
    try {
      h.update(readFileSync(path.join(root, f)));
    } catch {
      h.update("-");
    }
  }
  return h.digest("hex");
}

/** Every `.sourceignore` Flux would read for the built folders: the root's and those under the top folders. */
function sourceIgnoreFiles(root: string, tops: readonly string[]): { dir: string; text: string }[] {
  const out: { dir: string; text: string }[] = [];
  const read = (dir: string) => {
    try {
      out.push({ dir, text: readFileSync(path.join(root, dir, ".sourceignore"), "utf8") });
    } catch {
      // none here
    }
  };
  read("");
  for (const t of tops) for (const { rel, entries } of folders(root, t)) if (entries.some((e) => e.name === ".sourceignore" && e.isFile())) read(rel);
  return out;
}

/**
 * The source object the root syncs from (flux-operator's seed, else the GitRepository/OCIRepository its
 * Kustomizations name): its spec.ignore decides, with the .sourceignore files, what the artifact leaves out.
 */
function rootSourceIgnore(root: SyncRoot, docs: readonly RepoDocument[]): string | undefined {
  const seed = root.seeds.find((x) => !FLUX_KS(x.object));
  if (seed) return str(get(seed.object, "spec", "ignore"));
  const file = root.source.file;
  const inRoot = docs.filter((d) => (d.file === file || d.file.startsWith(`${root.path}/`)) && isObj(d.object) && FLUX_KS(d.object as Obj));
  for (const k of inRoot) {
    const kind = str(get(k.object, "spec", "sourceRef", "kind")) ?? "GitRepository";
    const name = str(get(k.object, "spec", "sourceRef", "name"));
    const ns = str(get(k.object, "spec", "sourceRef", "namespace")) ?? k.namespace;
    const src = docs.find((d) => d.kind === kind && d.name === name && (ns === undefined || d.namespace === undefined || d.namespace === ns));
    if (src) return str(get(src.object, "spec", "ignore"));
  }
  return undefined;
}

/**
 * Renders every cluster of the repo at `root`. `docs` are the repo's documents as written (the index step): roots
 * are found in them and every rendered object is mapped back to one of them.
 */
export async function renderRepo(root: string, docs: readonly RepoDocument[], opts: RenderOptions = {}): Promise<RenderResult> {
  const abs = path.resolve(root);
  const byFile = new Map<string, RepoDocument[]>();
  for (const d of docs) byFile.set(d.file, [...(byFile.get(d.file) ?? []), d]);
  const roots = findRoots(docs, (rel) => existsSync(path.join(abs, rel)));
  const rootTops = [...new Set(["kubernetes", ...roots.map((r) => r.path.split("/")[0] ?? "kubernetes")])];
  const read = roots.length ? topsRead(abs, docs, rootTops) : [];
  const tops = [...rootTops, ...read];
  // a top-level file is hashed by name (folders() walks folders only)
  const topFiles = read.filter((t) => inspectEntry(abs, t).kind === "file");
  const hash = opts.cacheFile ? treeHash(abs, tops, [".sourceignore", ...topFiles]) : "";
  if (opts.cacheFile) {
    try {
      const cached = JSON.parse(readFileSync(opts.cacheFile, "utf8")) as { hash: string; result: RenderResult };
      if (cached.hash === hash) return { ...cached.result, builds: 0, fromCache: true };
    } catch {
      // no cache yet, or an unreadable one: render
    }
  }
  const findings: RenderFinding[] = [];
  const clusters: RenderedCluster[] = [];
  const used = new Set<string>();
  let builds = 0;
  let incomplete = false;
  const unrendered: string[] = [];
  if (roots.length) {
    const workspaces = opts.concurrency ?? Math.max(2, cpus().length);
    const exec = opts.exec ?? new Exec({});
    const kubectl = opts.kubectl ?? "kubectl";
    // one scratch copy per source-ignore set: what a source leaves out of its artifact is not there to build
    const pools = new Map<string, WorkspacePool>();
    const builtBy = new Map<string, Map<string, Promise<BuildResult>>>();
    const ignores = sourceIgnoreFiles(abs, tops);
    try {
      // the clusters render at the same time (their builds share the pool's workspaces): one cluster's chain of
      // small builds (root, then its apps, then what those apply) no longer leaves the other workspaces idle
      const renders = await Promise.allSettled(
        roots.map(async (r) => {
          const own: RenderFinding[] = [];
          if (r.patches?.length) {
            const patched = await patchObjects(r.seeds.map((x) => x.object), r.patches, exec, kubectl);
            if (patched) {
              r.seeds = r.seeds.map((x, i) => ({ ...x, object: patched.find((o) => o.kind === x.object.kind) ?? patched[i] ?? x.object }));
              // a patch may move the sync Kustomization's path: flux-operator applies the patched one
              const moved = str(get(r.seeds.find((x) => FLUX_KS(x.object))?.object, "spec", "path"));
              if (moved !== undefined && !moved.includes("${")) r.path = normRel(moved);
            }
            else own.push({ id: "kustomize/build", severity: "error", file: r.source.file, line: r.source.line, message: "the FluxInstance's kustomize.patches do not apply to the source and Kustomization flux-operator makes from spec.sync", fix: "fix the patches (`kubectl kustomize` on the sync objects with them shows the error)" });
          }
          const { ignore, text } = fluxSourceIgnore(ignores, rootSourceIgnore(r, docs));
          let pool = pools.get(text);
          if (!pool) pools.set(text, (pool = new WorkspacePool(abs, tops, workspaces, ignore)));
          let built = builtBy.get(text);
          if (!built) builtBy.set(text, (built = new Map()));
          const ctx: ClusterCtx = { byFile, pool, root: abs, exec, kubectl, findings: own, builds: 0, used, incomplete: false, unrendered: [], batchSize: opts.batchSize ?? 64, workspaces, built };
          return { cluster: await renderCluster(r, ctx), ctx };
        }),
      );
      for (const x of renders) if (x.status === "rejected") throw x.reason;
      // findings and clusters in the roots' order, whichever finished first
      for (const x of renders) {
        if (x.status !== "fulfilled") continue;
        clusters.push(x.value.cluster);
        findings.push(...x.value.ctx.findings);
        builds += x.value.ctx.builds;
        if (x.value.ctx.incomplete) incomplete = true;
        unrendered.push(...x.value.ctx.unrendered);
      }
    } finally {
      for (const p of pools.values()) p.dispose();
    }
  }
  const result: RenderResult = { clusters, findings, unreferenced: roots.length ? unreferencedFiles(docs, used) : [], complete: !incomplete, unrendered: [...new Set(unrendered)].sort(), builds, fromCache: false };
  if (opts.cacheFile) {
    mkdirSync(path.dirname(opts.cacheFile), { recursive: true });
    const tmp = `${opts.cacheFile}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ hash, result }));
    renameSync(tmp, opts.cacheFile);
  }
  return result;
}

export { isValidVarName };
