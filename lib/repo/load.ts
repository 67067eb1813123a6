/**
 * loadRepo(root): reads talos/, kubernetes/ and .mise.toml into the ClusterModel (see model.ts).
 * Synchronous reads and Bun's native YAML parser keep it fast (every script calls it on start); see yaml.ts.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Node } from "yaml";
import { ConfigError } from "../cli/errors.ts";
import { inspectEntry, isCyclic, readRepoText } from "./safe-read.ts";
import { fastParse, firstContentLine, isContent, locate, slowParse, splitDocuments, yamlLib, type SlowParsed } from "./yaml.ts";
import { talosNodeLabels } from "./node-labels.ts";
import { schematicId } from "./schematic.ts";
import { TALHELPER_CONFIG } from "./talos-inputs.ts";
import type {
  Bgp,
  BgpAdvertisement,
  BgpClusterConfig,
  BgpPeerConfig,
  BgpPeerView,
  BgpRawObject,
  ClusterModel,
  ClusterNode,
  ExternalSecret,
  FluxKustomization,
  FluxSource,
  HelmRelease,
  LabelSelector,
  LoadRepoOptions,
  Namespace,
  Pool,
  PoolBlock,
  RepoDocument,
  RepoProblem,
  Schematic,
  SecretStore,
  Service,
  Source,
  Sourced,
  TalosPatch,
  Versions,
} from "./model.ts";
import { chartServices } from "./charts.ts";
import { helmValueSource, isFluxInstanceChart, renderRepo, unrendered, type RenderedCluster, type RenderedObject, type RenderOptions, type RenderResult } from "./render/index.ts";

/** A malformed or incomplete repo file: the message starts with `file:line:` so editors and CI can jump to it. */
export class RepoError extends ConfigError {
  readonly file: string;
  readonly line: number;
  constructor(file: string, line: number, message: string, hint?: string, cause?: unknown) {
    super(`${file}:${line}: ${message}`, hint, cause);
    this.file = file;
    this.line = line;
  }
}


type PathSeg = string | number;
type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : typeof v === "number" ? String(v) : undefined);
const strRecord = (v: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  if (isObj(v)) for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) out[k] = String(x);
  return out;
};
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const get = (v: unknown, ...p: PathSeg[]): unknown => {
  let cur: unknown = v;
  for (const seg of p) {
    if (typeof seg === "number") cur = Array.isArray(cur) ? cur[seg] : undefined;
    else cur = isObj(cur) ? cur[seg] : undefined;
    if (cur === undefined) return undefined;
  }
  return cur;
};

// ---------------------------------------------------------------------------------------------------------------
// Line lookups
// ---------------------------------------------------------------------------------------------------------------

/** Per-document data of the fast path (not part of the model's shape). */
interface DocInfo {
  lines: string[];
  start: number;
  end: number;
}
const DOC_INFO = new WeakMap<object, DocInfo>();

/**
 * 1-based line of the node at `path` inside a document (for a map entry: the line of its key). When the path does
 * not exist, the line of the deepest ancestor that does (so a finding about a missing field points at its parent).
 */
export function lineOf(d: Pick<RepoDocument, "doc" | "lineCounter" | "line" | "object">, p: readonly PathSeg[]): number {
  if (p.length === 0) return d.line;
  const info = DOC_INFO.get(d);
  if (info) {
    const r = locate(info.lines, info.start, info.end, p);
    if (r.found) return r.line + 1;
    // Not followed: either absent (then the deepest line found is the answer) or written in a style the
    // indentation locator does not follow (flow collections...): ask the full parser.
    if (get(d.object, ...p) === undefined) return Math.max(r.line + 1, d.line);
  }
  return slowLineOf(d, p);
}

function slowLineOf(d: Pick<RepoDocument, "doc" | "lineCounter" | "line">, p: readonly PathSeg[]): number {
  const Y = yamlLib();
  let node: unknown = d.doc.contents;
  let offset: number | undefined = rangeStart(node);
  for (const seg of p) {
    if (Y.isMap(node)) {
      const pair = node.items.find((it) => Y.isPair(it) && scalarKey(it.key) === String(seg));
      if (!pair) break;
      offset = rangeStart(pair.key) ?? rangeStart(pair.value) ?? offset;
      node = pair.value;
    } else if (Y.isSeq(node) && typeof seg === "number") {
      const item = node.items[seg];
      if (item === undefined) break;
      offset = rangeStart(item) ?? offset;
      node = item;
    } else break;
  }
  return offset === undefined ? d.line : d.lineCounter.linePos(offset).line;
}

function scalarKey(k: unknown): string | undefined {
  if (yamlLib().isScalar(k)) return String((k as { value: unknown }).value);
  return undefined;
}
function rangeStart(n: unknown): number | undefined {
  if (n && typeof n === "object" && "range" in n) {
    const r = (n as Node).range;
    if (r) return r[0];
  }
  return undefined;
}

/** `{file, line}` of `path` in a document. */
export function sourceOf(d: RepoDocument, p: readonly PathSeg[] = []): Source {
  return { file: d.file, line: p.length === 0 ? d.line : lineOf(d, p) };
}

// ---------------------------------------------------------------------------------------------------------------
// Reading files
// ---------------------------------------------------------------------------------------------------------------

const YAML_RE = /\.ya?ml$/;
/** Generated or secret-bearing folders never read as repo input. */
const SKIP_DIRS = new Set(["clusterconfig", "node_modules", ".git"]);

function listYaml(root: string, rel: string, out: string[], onUnsafe?: (rel: string, why: string) => void): void {
  const abs = path.join(root, rel);
  let entries: import("node:fs").Dirent[];
  try {
    entries = readdirSync(abs, { withFileTypes: true });
  } catch (e) {
    // a folder that exists but cannot be listed is reported, never taken for an empty one
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") onUnsafe?.(rel, `cannot read file: this folder cannot be listed (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}), so nothing in it is checked`);
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const childRel = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) {
      if (!SKIP_DIRS.has(e.name)) listYaml(root, childRel, out, onUnsafe);
    } else if (e.isFile() && YAML_RE.test(e.name)) out.push(childRel);
    else if (YAML_RE.test(e.name) && onUnsafe) {
      // a symlink, FIFO or device named like YAML: read only a link to a regular file inside the repo
      const k = inspectEntry(root, childRel);
      if (k.kind === "file") out.push(childRel);
      else if (k.kind === "unsafe") onUnsafe(childRel, `cannot read file: it ${k.why}`);
    }
  }
}

class Ctx {
  problems: RepoProblem[] = [];
  constructor(
    readonly root: string,
    readonly strict: boolean,
  ) {}
  problem(file: string, line: number, message: string, hint?: string): void {
    if (this.strict) throw new RepoError(file, line, message, hint);
    this.problems.push({ file, line, message });
  }
  /** A missing fact: recorded, never thrown (validate turns these into findings). */
  missing(file: string, line: number, message: string): void {
    this.problems.push({ file, line, message });
  }
}

function readText(ctx: Ctx, rel: string): string | undefined {
  // lib/repo/safe-read.ts: never a FIFO or device, never out of the repo, bounded, UTF-8 without NUL bytes
  const r = readRepoText(ctx.root, rel);
  if (r.ok) return r.text;
  ctx.problem(rel, r.line, r.message);
  return undefined;
}

function makeDoc(rel: string, index: number, line: number, object: unknown, slow: () => SlowParsed): RepoDocument {
  const md = get(object, "metadata");
  const d = {
    file: rel,
    line,
    index,
    apiVersion: str(get(object, "apiVersion")),
    kind: str(get(object, "kind")),
    // Talos multi-doc kinds (UserVolumeConfig, ExtensionServiceConfig, ...) carry their name at the top level.
    name: str(get(md, "name")) ?? (md === undefined && get(object, "kind") !== undefined ? str(get(object, "name")) : undefined),
    namespace: str(get(md, "namespace")),
    object,
  } as RepoDocument;
  // The yaml Document is built only when someone asks for it (lineOf's fallback, validate's deep checks).
  Object.defineProperty(d, "doc", {
    enumerable: false,
    get: () => {
      const { docs, lineCounter } = slow();
      return docs.find((x) => lineCounter.linePos(rangeStart(x.contents) ?? x.range[0]).line === line) ?? docs[index] ?? docs[0];
    },
  });
  Object.defineProperty(d, "lineCounter", { enumerable: false, get: () => slow().lineCounter });
  return d;
}

function parseFile(ctx: Ctx, rel: string, text: string): RepoDocument[] {
  const lines = text.includes("\r") ? text.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l)) : text.split("\n");
  const chunks = splitDocuments(lines);
  if (!chunks) return parseFileSlow(ctx, rel, text);
  let cache: SlowParsed | undefined;
  const slow = () => (cache ??= slowParse(text));
  const out: RepoDocument[] = [];
  for (const c of chunks) {
    let hasContent = false;
    for (let i = c.start; i < c.end && !hasContent; i++) hasContent = isContent(lines[i] ?? "");
    if (!hasContent) continue;
    let object: unknown;
    try {
      object = fastParse(lines.slice(c.start, c.end).join("\n"));
    } catch {
      // Bun's parser has no usable position: the full parser finds and reports the error at its line.
      return parseFileSlow(ctx, rel, text);
    }
    if (object === null || object === undefined) continue;
    if (isCyclic(object)) return parseFileSlow(ctx, rel, text);
    const line = firstContentLine(lines, c) + 1;
    const d = makeDoc(rel, c.index, line, object, slow);
    DOC_INFO.set(d, { lines, start: c.start, end: c.end });
    out.push(d);
  }
  return out;
}

function parseFileSlow(ctx: Ctx, rel: string, text: string): RepoDocument[] {
  let parsed: SlowParsed;
  try {
    parsed = slowParse(text);
  } catch (e) {
    ctx.problem(rel, 1, `YAML parse failed: ${(e as Error).message}`);
    return [];
  }
  const { docs, lineCounter } = parsed;
  const out: RepoDocument[] = [];
  docs.forEach((doc, index) => {
    const start = rangeStart(doc.contents) ?? doc.range[0];
    const line = lineCounter.linePos(start).line;
    const err = doc.errors[0];
    if (err) {
      const errLine = err.linePos?.[0]?.line ?? lineCounter.linePos(err.pos[0]).line;
      ctx.problem(rel, errLine, `invalid YAML: ${err.message.split("\n")[0]}`, "fix the YAML syntax at that line");
      return;
    }
    if (doc.contents === null) return;
    let object: unknown;
    try {
      object = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      ctx.problem(rel, line, `cannot convert YAML: ${(e as Error).message}`);
      return;
    }
    if (object === null || object === undefined) return;
    if (isCyclic(object)) {
      ctx.problem(rel, line, "cannot convert YAML: the document contains itself (an alias inside its own anchor, like `<<: *self`)");
      return;
    }
    out.push(makeDoc(rel, index, line, object, () => parsed));
  });
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Talos
// ---------------------------------------------------------------------------------------------------------------

interface Subst {
  value: unknown;
  /** for strings that were exactly `${VAR}`: the talenv source */
  envSource?: Source;
}

const VAR_RE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

function substitute(v: unknown, env: Record<string, Sourced<string>>, onMissing: (name: string) => void): unknown {
  if (typeof v === "string")
    return v.replace(VAR_RE, (_m, name: string) => {
      const e = env[name];
      if (!e) {
        onMissing(name);
        return "";
      }
      return e.value;
    });
  if (Array.isArray(v)) return v.map((x) => substitute(x, env, onMissing));
  if (isObj(v)) {
    const o: Obj = {};
    for (const [k, x] of Object.entries(v)) o[k] = substitute(x, env, onMissing);
    return o;
  }
  return v;
}

/** A talconfig scalar: its substituted value, sourced at talenv when it is only `${VAR}`, else at talconfig. */
function talFact(
  raw: unknown,
  subst: unknown,
  d: RepoDocument,
  p: PathSeg[],
  env: Record<string, Sourced<string>>,
): Sourced<string> | undefined {
  const r = get(raw, ...p);
  const s = get(subst, ...p);
  if (s === undefined || s === null) return undefined;
  const m = typeof r === "string" ? /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(r) : null;
  const e = m?.[1] ? env[m[1]] : undefined;
  return { value: String(s), source: e ? e.source : sourceOf(d, p) };
}

function familyOf(ip: string): "ipv4" | "ipv6" {
  return ip.includes(":") ? "ipv6" : "ipv4";
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers for kubernetes objects
// ---------------------------------------------------------------------------------------------------------------

function selector(v: unknown): LabelSelector | undefined {
  if (!isObj(v)) return undefined;
  const out: LabelSelector = {};
  if (isObj(v.matchLabels)) out.matchLabels = strRecord(v.matchLabels);
  if (Array.isArray(v.matchExpressions))
    out.matchExpressions = v.matchExpressions.filter(isObj).map((e) => ({
      key: str(e.key) ?? "",
      operator: str(e.operator) ?? "",
      ...(Array.isArray(e.values) ? { values: e.values.map(String) } : {}),
    }));
  return out;
}

function deepMerge(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isObj(b) && isObj(v) ? deepMerge(b, v) : v;
  }
  return out;
}

const dirOf = (file: string) => path.posix.dirname(file);

/** Repo-relative, normalised (no leading ./, no trailing /). */
function normRel(p: string): string {
  const n = path.posix.normalize(p.replace(/^\.\//, ""));
  return n === "." ? "" : n.replace(/\/$/, "");
}

function serviceFrom(
  spec: Obj,
  meta: { name: string; namespace?: string; labels: Record<string, string>; annotations: Record<string, string> },
  origin: Service["origin"],
  defaultType: string,
  source: Source,
): Service {
  const requested: string[] = [];
  const ann = meta.annotations["lbipam.cilium.io/ips"] ?? meta.annotations["io.cilium/lb-ipam-ips"];
  if (ann) for (const ip of ann.split(",")) if (ip.trim()) requested.push(ip.trim());
  const lbip = str(spec.loadBalancerIP);
  if (lbip && !requested.includes(lbip)) requested.push(lbip);
  return {
    name: meta.name,
    namespace: meta.namespace,
    origin,
    type: str(spec.type) ?? defaultType,
    labels: meta.labels,
    annotations: meta.annotations,
    loadBalancerClass: str(spec.loadBalancerClass),
    ipFamilyPolicy: str(spec.ipFamilyPolicy),
    ipFamilies: arr(spec.ipFamilies).map(String),
    externalTrafficPolicy: str(spec.externalTrafficPolicy),
    requestedIPs: requested,
    sharingKey: meta.annotations["lbipam.cilium.io/sharing-key"],
    source,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// .mise.toml (only [tools] and renovate comments are needed: a line scanner keeps line numbers)
// ---------------------------------------------------------------------------------------------------------------

const RENOVATE_RE = /#\s*renovate:\s*(.*)$/;
const VERSION_RE = /v?\d+\.\d+(?:\.\d+)?(?:[-+][0-9A-Za-z.\-+]*)?/;

function scanRenovate(file: string, text: string, out: Versions["renovate"]): void {
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = RENOVATE_RE.exec(lines[i] ?? "");
    if (!m?.[1]) continue;
    const fields: Record<string, string> = {};
    for (const kv of m[1].trim().split(/\s+/)) {
      const eq = kv.indexOf("=");
      if (eq > 0) fields[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    let version: string | undefined;
    for (let j = i + 1; j < lines.length && j <= i + 3; j++) {
      const l = lines[j] ?? "";
      if (/^\s*#/.test(l) || !l.trim()) continue;
      version = VERSION_RE.exec(l.replace(/^[^:=]*[:=]/, ""))?.[0];
      break;
    }
    out.push({ datasource: fields.datasource ?? "", depName: fields.depName ?? "", version, source: { file, line: i + 1 } });
  }
}

/**
 * The project config files mise reads (mise.jdx.dev/configuration.html), lowest precedence first: a tool pinned in
 * two of them takes the later one. `mise.local.toml` is left out: it is not committed.
 */
export const MISE_FILES = [".config/mise/config.toml", ".config/mise.toml", "mise/config.toml", ".mise/config.toml", ".mise.toml", "mise.toml"];

/** The repo's mise config files that exist, lowest precedence first. */
export function miseFiles(root: string): string[] {
  return MISE_FILES.filter((f) => existsSync(path.join(root, f)));
}

function readMiseTools(root: string, out: Versions["renovate"]): Record<string, Sourced<string>> {
  const tools: Record<string, Sourced<string>> = {};
  for (const file of miseFiles(root)) readMiseFile(root, file, tools, out);
  return tools;
}

function readMiseFile(root: string, file: string, tools: Record<string, Sourced<string>>, out: Versions["renovate"]): void {
  let text: string;
  try {
    text = readFileSync(path.join(root, file), "utf8");
  } catch {
    return;
  }
  scanRenovate(file, text, out);
  let section = "";
  text.split("\n").forEach((raw, i) => {
    const l = raw.replace(/\s+#.*$/, "").trim();
    const sec = /^\[([^\]]+)\]$/.exec(l);
    if (sec?.[1]) {
      section = sec[1].trim();
      return;
    }
    if (section !== "tools") return;
    const kv = /^("?)([^"=]+?)\1\s*=\s*(.+)$/.exec(l);
    if (!kv?.[2] || !kv[3]) return;
    const val = kv[3].trim();
    let version = /^"([^"]*)"$/.exec(val)?.[1] ?? /^'([^']*)'$/.exec(val)?.[1];
    if (version === undefined) version = /version\s*=\s*"([^"]*)"/.exec(val)?.[1];
    if (version === undefined) version = /^\[\s*"([^"]*)"/.exec(val)?.[1];
    if (version !== undefined) tools[kv[2].trim()] = { value: version, source: { file, line: i + 1 } };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// loadRepo
// ---------------------------------------------------------------------------------------------------------------


/** More aliases than this in one file is an alias bomb (the `yaml` package's maxAliasCount in slowParse, too). */
const MAX_ALIASES = 100;

/** Step "index": every YAML document under talos/ and kubernetes/, as written, with its file and line. */
export interface RepoIndex {
  root: string;
  documents: RepoDocument[];
  byFile: Map<string, RepoDocument[]>;
  texts: Map<string, string>;
  kustomizeDirs: string[];
}

function indexRepo(ctx: Ctx): RepoIndex {
  const absRoot = ctx.root;
  if (!existsSync(path.join(absRoot, "talos")) && !existsSync(path.join(absRoot, "kubernetes")))
    throw new RepoError(".", 0, `${absRoot} is not a home-ops repo (no talos/ or kubernetes/ folder)`, "pass the repo root (--root DIR)");
  const files: string[] = [];
  const unsafe = (rel: string, why: string) => ctx.problem(rel, 0, why);
  listYaml(absRoot, "talos", files, unsafe);
  listYaml(absRoot, "kubernetes", files, unsafe);
  const documents: RepoDocument[] = [];
  const kustomizeDirs: string[] = [];
  const byFile = new Map<string, RepoDocument[]>();
  const texts = new Map<string, string>();
  for (const f of files) {
    const text = readText(ctx, f);
    if (text === undefined) continue;
    texts.set(f, text);
    const docs = parseFile(ctx, f, text);
    byFile.set(f, docs);
    documents.push(...docs);
    if (f.startsWith("kubernetes/") && /(^|\/)kustomization\.ya?ml$/.test(f)) kustomizeDirs.push(dirOf(f));
  }
  return { root: absRoot, documents, byFile, texts, kustomizeDirs };
}

/**
 * Loads the repo at `root` into the ClusterModel, reading the manifests as written (no kustomize build): the
 * synchronous loader every script starts with. validate uses loadRenderedRepo (what Flux would apply).
 * Throws RepoError (a ConfigError, exit 2) with file:line for a malformed file in strict mode (default); lenient
 * mode collects those in `problems` instead. Missing facts never throw: they are listed in `problems` and filled
 * with empty values sourced at line 0.
 */
export function loadRepo(root: string, opts: LoadRepoOptions = {}): ClusterModel {
  const ctx = new Ctx(path.resolve(root), (opts.mode ?? "strict") === "strict");
  const index = indexRepo(ctx);
  return buildModel(ctx, index, literalObjects(index.documents));
}

export interface RenderedRepo {
  /** one model per cluster root (a repo with kubernetes/clusters/<a>, <b> has two) */
  models: ClusterModel[];
  render: RenderResult;
}

/**
 * Loads the repo as Flux would apply it: index -> render (real kustomize + Flux semantics, lib/repo/render) ->
 * one model per cluster. A repo without a sync root is modelled as written (and the render says so).
 */
export async function loadRenderedRepo(root: string, opts: LoadRepoOptions & RenderOptions = {}): Promise<RenderedRepo> {
  const ctx = new Ctx(path.resolve(root), (opts.mode ?? "strict") === "strict");
  const index = indexRepo(ctx);
  // kustomize expands YAML aliases without a bound: a file with more aliases than the loader allows would hang it
  // (or fewer aliases nested into an exponential expansion, which the parser has already refused)
  // and a document holding its own alias sends it into a recursion that takes half a minute to fail
  const refused = new Set(ctx.problems.filter((p) => /Excessive alias count|contains itself/.test(p.message)).map((p) => p.file));
  const bombs = [...index.texts]
    .filter(([f, t]) => refused.has(f) || (t.match(/(^|[\s,[{])\*[A-Za-z0-9_.-]+/g)?.length ?? 0) > MAX_ALIASES)
    .map(([f]) => f);
  const why = (file: string) =>
    ctx.problems.some((p) => p.file === file && /contains itself/.test(p.message))
      ? "holds a YAML alias inside its own anchor"
      : `uses more than ${MAX_ALIASES} YAML aliases`;
  const render: RenderResult = bombs.length
    ? ({ clusters: [], findings: bombs.map((file) => ({ id: "kustomize/render-skipped", severity: "info" as const, file, line: 1, message: `${file} ${why(file)}: kustomize would expand it without bound, so nothing was rendered and the repo is checked as written`, fix: "write the repeated values out (or use fewer aliases)" })), unreferenced: [], complete: false, unrendered: [], builds: 0, fromCache: false } satisfies RenderResult)
    : await renderRepo(ctx.root, index.documents, opts);
  // a finding about a place inside a document gets that place's line
  for (const f of render.findings) {
    const d = f.path ? index.byFile.get(f.file)?.find((x) => x.line === f.line) : undefined;
    if (d && f.path) f.line = lineOf(d, f.path);
  }
  if (render.clusters.length === 0) return { models: [buildModel(ctx, index, literalObjects(index.documents))], render };
  const clusterNames = render.clusters.map((c) => c.name);
  // When a Flux path did not build, what it would apply is unknown: the files no build reached are read as written
  // (after a partial render, only those under the entries it left out).
  const unreached = new Set(render.unreferenced.filter((u) => !render.complete || unrendered(render, u.file)).map((u) => u.file));
  // (read as written only when something was not reached: it costs a pass over every document)
  const fallback = unreached.size ? literalObjects(index.documents) : undefined;
  const models = render.clusters.map((c, i) => {
    const cctx = i === 0 ? ctx : Object.assign(new Ctx(ctx.root, ctx.strict), { problems: [...ctx.problems] });
    const objects = renderedObjects(c, index.byFile);
    if (fallback) for (const d of fallback.docs) if (unreached.has(d.file)) objects.docs.push(d);
    const rendered = new Set(objects.docs);
    const model = buildModel(cctx, index, { docs: objects.docs, nsOf: (d) => (rendered.has(d) && !unreached.has(d.file) ? d.namespace : fallback?.nsOf(d)) });
    model.render = { cluster: c.name, clusters: clusterNames, rootPath: c.rootPath, paths: c.paths, fromCache: render.fromCache };
    return model;
  });
  return { models, render };
}

/** The objects a model is built from: documents with the namespace they will have in the cluster. */
interface ModelObjects {
  docs: RepoDocument[];
  nsOf: (d: RepoDocument) => string | undefined;
}

/** As written: namespaces from a Flux targetNamespace over the path, else metadata, else the folder's kustomization. */
function literalObjects(documents: RepoDocument[]): ModelObjects {
  const targetByPath: [string, string][] = [];
  const kustomizeNs = new Map<string, string>();
  for (const d of documents) {
    if (d.kind === "Kustomization" && (d.apiVersion ?? "").startsWith("kustomize.toolkit.fluxcd.io/")) {
      const p = str(get(d.object, "spec", "path"));
      const t = str(get(d.object, "spec", "targetNamespace"));
      if (p !== undefined && t) targetByPath.push([normRel(p), t]);
    } else if (/(^|\/)kustomization\.ya?ml$/.test(d.file)) {
      const n = str(get(d.object, "namespace"));
      if (n) kustomizeNs.set(dirOf(d.file), n);
    }
  }
  targetByPath.sort((a, b) => b[0].length - a[0].length);
  const nsOf = (d: RepoDocument): string | undefined => {
    const dir = dirOf(d.file);
    const t = targetByPath.find(([p]) => dir === p || dir.startsWith(`${p}/`));
    if (t) return t[1]; // Flux overrides what the manifest says
    return d.namespace ?? kustomizeNs.get(dir);
  };
  return { docs: documents.filter((d) => d.file.startsWith("kubernetes/")), nsOf };
}

/** Rendered Flux Kustomizations whose source is another repository: their spec.path is not a folder here. */
const FOREIGN_SOURCE = new WeakSet<RepoDocument>();

/** Rendered: each object as a document at its origin (so lines still point at the source), namespace as built. */
function renderedObjects(c: RenderedCluster, byFile: Map<string, RepoDocument[]>): ModelObjects {
  const docs = c.objects.map((r) => renderedDocument(r, byFile));
  return { docs, nsOf: (d) => d.namespace };
}

function renderedDocument(r: RenderedObject, byFile: Map<string, RepoDocument[]>): RepoDocument {
  const lit = byFile.get(r.origin.file)?.find((d) => d.line === r.origin.line);
  const o = r.object;
  const md = get(o, "metadata");
  const d = {
    file: r.origin.file,
    line: r.origin.line,
    index: lit?.index ?? 0,
    apiVersion: str(get(o, "apiVersion")),
    kind: str(get(o, "kind")),
    name: str(get(md, "name")),
    namespace: str(get(md, "namespace")),
    object: o,
  } as RepoDocument;
  let cache: SlowParsed | undefined;
  Object.defineProperty(d, "doc", { enumerable: false, get: () => (lit ? lit.doc : (cache ??= slowParse("{}\n")).docs[0]) });
  Object.defineProperty(d, "lineCounter", { enumerable: false, get: () => (lit ? lit.lineCounter : (cache ??= slowParse("{}\n")).lineCounter) });
  const info = lit ? DOC_INFO.get(lit) : undefined;
  if (info) DOC_INFO.set(d, info);
  if (r.foreignSource) FOREIGN_SOURCE.add(d);
  if (lit) WRITTEN.set(d, lit.object);
  return d;
}

/** Rendered document -> its object as written in its file. */
const WRITTEN = new WeakMap<object, unknown>();

/**
 * A document's object as written in its file, before kustomize and Flux changed it (a rendered object's namespace
 * may be stamped by a `namespace:` transformer; this says what the file itself holds). Read from the fast parse:
 * the full YAML parser is not needed.
 */
export function writtenObject(d: RepoDocument): unknown {
  return WRITTEN.has(d) ? WRITTEN.get(d) : d.object;
}

/** Step "model": the ClusterModel from the index (talos/, tool pins) and the Kubernetes objects. */
function buildModel(ctx: Ctx, index: RepoIndex, objects: ModelObjects): ClusterModel {
  const { documents, byFile, texts, kustomizeDirs } = index;
  const absRoot = ctx.root;
  const { nsOf } = objects;
  const renovate: Versions["renovate"] = [];
  const tools = readMiseTools(absRoot, renovate);
  for (const [f, text] of texts) if (text.includes("renovate:")) scanRenovate(f, text, renovate);

  // ---- kubernetes objects
  const pools: Pool[] = [];
  const clusterConfigs: BgpClusterConfig[] = [];
  const peerConfigs: BgpPeerConfig[] = [];
  const advertisements: BgpAdvertisement[] = [];
  const nodeConfigOverrides: BgpRawObject[] = [];
  const peeringPolicies: BgpRawObject[] = [];
  const services: Service[] = [];
  const kustomizations: FluxKustomization[] = [];
  const helmDocs: RepoDocument[] = [];
  const fluxSources: FluxSource[] = [];
  const externalSecrets: ExternalSecret[] = [];
  const secretStores: SecretStore[] = [];
  const namespaces: Namespace[] = [];
  /** ConfigMaps and Secrets: what a HelmRelease valuesFrom can name */
  const valueSources: RepoDocument[] = [];

  for (const d of objects.docs) {
    if (!isObj(d.object)) continue;
    const o = d.object;
    const kind = d.kind ?? "";
    const group = (d.apiVersion ?? "").split("/")[0] ?? "";
    const name = d.name ?? "";
    const labels = strRecord(get(o, "metadata", "labels"));
    const spec = isObj(o.spec) ? o.spec : {};
    const src = sourceOf(d);
    if (group === "cilium.io") {
      const base = { name, apiVersion: d.apiVersion ?? "", namespace: d.namespace, labels, source: src };
      switch (kind) {
        case "CiliumLoadBalancerIPPool": {
          const blocks: PoolBlock[] = [];
          arr(spec.blocks).forEach((b, i) => {
            const bs = sourceOf(d, ["spec", "blocks", i]);
            if (isObj(b) && str(b.cidr)) blocks.push({ cidr: str(b.cidr) ?? "", source: bs });
            else if (isObj(b)) blocks.push({ start: str(b.start) ?? "", stop: str(b.stop) ?? "", source: bs });
          });
          const alf = str(spec.allowFirstLastIPs);
          pools.push({
            name,
            apiVersion: d.apiVersion ?? "",
            blocks,
            serviceSelector: selector(spec.serviceSelector),
            disabled: spec.disabled === true,
            allowFirstLastIPs: alf === "Yes" || alf === "No" ? alf : undefined,
            namespace: d.namespace,
            source: src,
          });
          break;
        }
        case "CiliumBGPClusterConfig":
          clusterConfigs.push({ ...base, spec: normaliseClusterConfigSpec(spec) });
          break;
        case "CiliumBGPPeerConfig":
          peerConfigs.push({ ...base, spec: normalisePeerConfigSpec(spec) });
          break;
        case "CiliumBGPAdvertisement":
          advertisements.push({ ...base, spec: normaliseAdvertisementSpec(spec) });
          break;
        case "CiliumBGPNodeConfigOverride":
          nodeConfigOverrides.push({ ...base, spec });
          break;
        case "CiliumBGPPeeringPolicy":
          peeringPolicies.push({ ...base, spec });
          break;
      }
      continue;
    }
    if (d.apiVersion === "v1") {
      if (kind === "Service") {
        services.push(
          serviceFrom(
            spec,
            { name, namespace: nsOf(d), labels, annotations: strRecord(get(o, "metadata", "annotations")) },
            "manifest",
            "ClusterIP",
            src,
          ),
        );
      } else if (kind === "Namespace") {
        namespaces.push({ name, labels, annotations: strRecord(get(o, "metadata", "annotations")), source: src });
      } else if (kind === "ConfigMap" || kind === "Secret") valueSources.push(d);
      continue;
    }
    if (group === "kustomize.toolkit.fluxcd.io" && kind === "Kustomization") {
      const sr = spec.sourceRef;
      const p = str(spec.path);
      const pb = isObj(spec.postBuild) ? spec.postBuild : undefined;
      kustomizations.push({
        name,
        namespace: d.namespace,
        apiVersion: d.apiVersion ?? "",
        path: p,
        resolvedPath: p === undefined || FOREIGN_SOURCE.has(d) ? undefined : normRel(p),
        dependsOn: arr(spec.dependsOn)
          .filter(isObj)
          .map((x) => ({ name: str(x.name) ?? "", namespace: str(x.namespace) })),
        sourceRef: isObj(sr) ? { kind: str(sr.kind) ?? "", name: str(sr.name) ?? "", namespace: str(sr.namespace) } : undefined,
        targetNamespace: str(spec.targetNamespace),
        prune: typeof spec.prune === "boolean" ? spec.prune : undefined,
        wait: typeof spec.wait === "boolean" ? spec.wait : undefined,
        interval: str(spec.interval),
        postBuild: pb
          ? {
              substitute: isObj(pb.substitute) ? strRecord(pb.substitute) : undefined,
              substituteFrom: Array.isArray(pb.substituteFrom)
                ? pb.substituteFrom.filter(isObj).map((x) => ({
                    kind: str(x.kind) ?? "",
                    name: str(x.name) ?? "",
                    optional: typeof x.optional === "boolean" ? x.optional : undefined,
                  }))
                : undefined,
            }
          : undefined,
        source: src,
      });
      continue;
    }
    if (group === "helm.toolkit.fluxcd.io" && kind === "HelmRelease") {
      helmDocs.push(d);
      continue;
    }
    if (group === "source.toolkit.fluxcd.io") {
      fluxSources.push({
        kind,
        apiVersion: d.apiVersion ?? "",
        name,
        namespace: d.namespace,
        url: str(spec.url) ?? "",
        type: str(spec.type),
        ref: isObj(spec.ref) ? spec.ref : undefined,
        source: src,
      });
      continue;
    }
    if (group === "external-secrets.io") {
      if (kind === "ExternalSecret" || kind === "ClusterExternalSecret") {
        const es = kind === "ClusterExternalSecret" ? (isObj(spec.externalSecretSpec) ? spec.externalSecretSpec : {}) : spec;
        const sref = es.secretStoreRef;
        const keys: string[] = [];
        for (const x of arr(es.data)) {
          const k = str(get(x, "remoteRef", "key"));
          if (k && !keys.includes(k)) keys.push(k);
        }
        for (const x of arr(es.dataFrom)) {
          const k = str(get(x, "extract", "key")) ?? str(get(x, "find", "name", "regexp"));
          if (k && !keys.includes(k)) keys.push(k);
        }
        externalSecrets.push({
          kind,
          apiVersion: d.apiVersion ?? "",
          name,
          namespace: kind === "ClusterExternalSecret" ? undefined : nsOf(d),
          storeRef: isObj(sref) ? { kind: str(sref.kind) ?? "SecretStore", name: str(sref.name) ?? "" } : undefined,
          targetName: str(get(es, "target", "name")) ?? name,
          remoteKeys: keys,
          source: src,
        });
      } else if (kind === "ClusterSecretStore" || kind === "SecretStore") {
        const prov = get(spec, "provider");
        secretStores.push({
          kind,
          apiVersion: d.apiVersion ?? "",
          name,
          namespace: kind === "ClusterSecretStore" ? undefined : nsOf(d),
          provider: isObj(prov) ? Object.keys(prov)[0] : undefined,
          source: src,
        });
      }
    }
  }

  // ---- HelmReleases (values merged over their valuesFrom ConfigMaps and Secrets)
  const helmReleases: HelmRelease[] = helmDocs.map((d) => helmRelease(d, valueSources, byFile, absRoot, nsOf(d), fluxSources, nsOf));
  // Services the charts create from their values (lib/repo/charts.ts, shared with the simulated cluster)
  for (const hr of helmReleases) {
    const made = chartServices(hr.chart, { name: hr.releaseName ?? hr.name, namespace: hr.targetNamespace ?? hr.namespace ?? "default", values: hr.values });
    if (made.length === 0) continue;
    const hd = helmDocs.find((d) => d.file === hr.source.file && d.line === hr.source.line);
    for (const cs of made)
      services.push(
        serviceFrom(
          { type: cs.type, loadBalancerClass: cs.loadBalancerClass, loadBalancerIP: cs.loadBalancerIP, ipFamilyPolicy: cs.ipFamilyPolicy, ipFamilies: cs.ipFamilies, externalTrafficPolicy: cs.externalTrafficPolicy },
          { name: cs.name, namespace: cs.namespace, labels: cs.labels, annotations: cs.annotations },
          "helm-values",
          cs.type,
          hd ? sourceOf(hd, ["spec", "values", ...cs.valuesPath]) : hr.source,
        ),
      );
  }

  // ---- talos
  const talos = loadTalos(ctx, byFile);
  const env = talos.env;
  const cfgDoc = talos.configDocument;
  const raw = cfgDoc.object;
  const cfg = talos.config;
  const missingSrc = (file: string): Source => ({ file, line: 0 });
  const need = (v: Sourced<string> | undefined, what: string, file = talos.configFile): Sourced<string> => {
    if (v) return v;
    ctx.missing(file, cfgDoc.line, `${what} is not set`);
    return { value: "", source: missingSrc(file) };
  };

  const clusterName = need(talFact(raw, cfg, cfgDoc, ["clusterName"], env), "clusterName");
  const endpoint = need(talFact(raw, cfg, cfgDoc, ["endpoint"], env), "endpoint");
  const domain = talFact(raw, cfg, cfgDoc, ["domain"], env);
  const talosVersion = need(talFact(raw, cfg, cfgDoc, ["talosVersion"], env), "talosVersion");
  const kubernetesVersion = need(talFact(raw, cfg, cfgDoc, ["kubernetesVersion"], env), "kubernetesVersion");

  // Schematic: per node `schematic` (talhelper), else its role's (controlPlane / worker), else talos/schematic.yaml.
  // An inline schematic's ID is the one talhelper gets from the Image Factory for it (the same sha256 offline),
  // unless talenv pins TALOS_SCHEMATIC_ID (the talos/schematic.yaml convention; talos/schematic-id checks the pin).
  const schematicFrom = (p: PathSeg[]): Schematic | undefined => {
    const s = get(cfg, ...p);
    if (!isObj(s)) return undefined;
    const extensions = arr(get(s, "customization", "systemExtensions", "officialExtensions")).map(String);
    const extraKernelArgs = arr(get(s, "customization", "extraKernelArgs")).map(String);
    return {
      id: env.TALOS_SCHEMATIC_ID?.value ?? schematicId({ extensions, extraKernelArgs }),
      extensions,
      extraKernelArgs,
      source: sourceOf(cfgDoc, p),
    };
  };
  const fileSchematic = (() => {
    const docs = byFile.get("talos/schematic.yaml");
    const d = docs?.[0];
    if (!d) return undefined;
    return {
      id: env.TALOS_SCHEMATIC_ID?.value,
      extensions: arr(get(d.object, "customization", "systemExtensions", "officialExtensions")).map(String),
      extraKernelArgs: arr(get(d.object, "customization", "extraKernelArgs")).map(String),
      source: sourceOf(d),
    } satisfies Schematic;
  })();
  const noSchematic: Schematic = { id: env.TALOS_SCHEMATIC_ID?.value, extensions: [], extraKernelArgs: [], source: missingSrc(talos.configFile) };
  const controlPlaneSchematic = schematicFrom(["controlPlane", "schematic"]);
  const workerSchematic = schematicFrom(["worker", "schematic"]);
  const defaultSchematic: Schematic = controlPlaneSchematic ?? fileSchematic ?? noSchematic;

  const allowCP = get(cfg, "allowSchedulingOnControlPlanes") === true;
  const nodes: ClusterNode[] = [];
  let vip: Sourced<string> | undefined;
  let routerV4: Sourced<string> | undefined;
  let routerV6: Sourced<string> | undefined;
  const nodeAddrs: Sourced<string>[] = [];
  arr(get(cfg, "nodes")).forEach((n, i) => {
    if (!isObj(n)) return;
    const np: PathSeg[] = ["nodes", i];
    const hostname = str(n.hostname) ?? "";
    const ipv4 = str(n.ipAddress) ?? "";
    const addresses: string[] = [];
    let ipv6: string | undefined;
    arr(n.networkInterfaces).forEach((nic, j) => {
      arr(get(nic, "addresses")).forEach((a, k) => {
        const s = String(a);
        addresses.push(s);
        nodeAddrs.push({ value: s, source: sourceOf(cfgDoc, [...np, "networkInterfaces", j, "addresses", k]) });
        const ip = s.split("/")[0] ?? s;
        if (familyOf(ip) === "ipv6" && !ipv6) ipv6 = ip;
      });
      const v = str(get(nic, "vip", "ip"));
      if (v && !vip) vip = { value: v, source: sourceOf(cfgDoc, [...np, "networkInterfaces", j, "vip", "ip"]) };
      arr(get(nic, "routes")).forEach((r, k) => {
        const gw = str(get(r, "gateway"));
        if (!gw) return;
        const s = { value: gw, source: sourceOf(cfgDoc, [...np, "networkInterfaces", j, "routes", k, "gateway"]) };
        if (familyOf(gw) === "ipv4") routerV4 ??= s;
        else routerV6 ??= s;
      });
    });
    const controlPlane = n.controlPlane === true;
    const schematic = schematicFrom([...np, "schematic"]) ?? (controlPlane ? controlPlaneSchematic : workerSchematic) ?? fileSchematic ?? noSchematic;
    const imageBase = str(n.talosImageURL) ?? str(get(cfg, "controlPlane", "talosImageURL"));
    const installerImage = imageBase
      ? `${imageBase}:${talosVersion.value}`
      : schematic.id
        ? `factory.talos.dev/installer/${schematic.id}:${talosVersion.value}`
        : `ghcr.io/siderolabs/installer:${talosVersion.value}`;
    const diskSel = n.installDiskSelector;
    nodes.push({
      hostname,
      ipv4,
      ipv6,
      controlPlane,
      role: controlPlane ? "controlplane" : "worker",
      schedulable: !controlPlane || allowCP,
      installDisk: {
        disk: str(n.installDisk),
        selector: isObj(diskSel) ? diskSel : undefined,
        source: sourceOf(cfgDoc, [...np, n.installDisk !== undefined ? "installDisk" : "installDiskSelector"]),
      },
      schematic,
      installerImage,
      addresses,
      labels: talosNodeLabels(cfg, n, talos.patches),
      source: sourceOf(cfgDoc, np),
    });
  });
  const firstNode = nodes[0];
  const installerImage: Sourced<string> = firstNode
    ? { value: firstNode.installerImage, source: talFact(raw, cfg, cfgDoc, ["nodes", 0, "talosImageURL"], env)?.source ?? firstNode.source }
    : { value: "", source: missingSrc(talos.configFile) };
  if (!vip) {
    const host = /^https?:\/\/\[?([^\]/]+?)\]?:\d+/.exec(endpoint.value)?.[1];
    vip = host ? { value: host, source: endpoint.source } : need(undefined, "the API VIP (networkInterfaces[].vip.ip)");
  }

  // Networks: validSubnets and pod/service subnets from patches, else talconfig.
  const patchFact = (p: PathSeg[]): Sourced<unknown>[] => {
    const out: Sourced<unknown>[] = [];
    for (const patch of talos.patches)
      for (const d of patch.docs) {
        const v = get(d.object, ...p);
        if (Array.isArray(v)) v.forEach((x, i) => out.push({ value: x, source: sourceOf(d, [...p, i]) }));
      }
    return out;
  };
  const asStrings = (xs: Sourced<unknown>[]) => xs.map((x) => ({ value: String(x.value), source: x.source }));
  const cfgList = (key: string) =>
    arr(get(cfg, key)).map((x, i) => ({ value: String(x), source: sourceOf(cfgDoc, [key, i]) }));
  const validSubnets = asStrings(patchFact(["machine", "kubelet", "nodeIP", "validSubnets"]));
  let nodeV4 = validSubnets.find((s) => familyOf(s.value) === "ipv4");
  let nodeV6 = validSubnets.find((s) => familyOf(s.value) === "ipv6");
  const cidrOfAddr = (fam: "ipv4" | "ipv6") => {
    const a = nodeAddrs.find((x) => familyOf(x.value) === fam && x.value.includes("/"));
    return a ? { value: networkOf(a.value), source: a.source } : undefined;
  };
  nodeV4 ??= cidrOfAddr("ipv4");
  nodeV6 ??= cidrOfAddr("ipv6");
  let podCidrs = asStrings(patchFact(["cluster", "network", "podSubnets"]));
  if (podCidrs.length === 0) podCidrs = cfgList("clusterPodNets");
  let serviceCidrs = asStrings(patchFact(["cluster", "network", "serviceSubnets"]));
  if (serviceCidrs.length === 0) serviceCidrs = cfgList("clusterSvcNets");
  if (podCidrs.length === 0) ctx.missing(talos.configFile, cfgDoc.line, "no pod subnets (cluster.network.podSubnets)");
  if (serviceCidrs.length === 0) ctx.missing(talos.configFile, cfgDoc.line, "no service subnets (cluster.network.serviceSubnets)");

  // ---- BGP convenience
  const peers: BgpPeerView[] = [];
  let localASN: Sourced<number> | undefined;
  for (const cc of clusterConfigs) {
    const d = documents.find((x) => x.file === cc.source.file && x.line === cc.source.line);
    cc.spec.bgpInstances.forEach((inst, i) => {
      if (inst.localASN !== undefined && !localASN)
        localASN = { value: inst.localASN, source: d ? sourceOf(d, ["spec", "bgpInstances", i, "localASN"]) : cc.source };
      (inst.peers ?? []).forEach((p, j) =>
        peers.push({
          clusterConfig: cc.name,
          instance: inst.name,
          name: p.name,
          localASN: inst.localASN,
          peerAddress: p.peerAddress,
          peerASN: p.peerASN,
          family: p.peerAddress ? familyOf(p.peerAddress) : undefined,
          peerConfigRef: p.peerConfigRef?.name,
          source: d ? sourceOf(d, ["spec", "bgpInstances", i, "peers", j]) : cc.source,
        }),
      );
    });
  }
  routerV4 ??= peerAddr(peers, "ipv4");
  routerV6 ??= peerAddr(peers, "ipv6");

  const cilium = helmReleases.find((h) => h.chart === "cilium");
  const ciliumDoc = cilium ? helmDocs.find((d) => d.file === cilium.source.file && d.line === cilium.source.line) : undefined;
  let controlPlaneEnabled: Sourced<boolean> | undefined;
  if (cilium && ciliumDoc) {
    const v = get(cilium.values, "bgpControlPlane", "enabled");
    if (typeof v === "boolean")
      controlPlaneEnabled = { value: v, source: sourceOf(ciliumDoc, ["spec", "values", "bgpControlPlane", "enabled"]) };
  }
  const ciliumVersion: Sourced<string> =
    cilium?.version && ciliumDoc
      ? { value: cilium.version, source: sourceOf(ciliumDoc, ["spec", "chart", "spec", "version"]) }
      : (ctx.missing("kubernetes/apps/kube-system/cilium", 0, "no Cilium HelmRelease with a chart version"),
        { value: "", source: missingSrc("kubernetes/apps/kube-system/cilium") });

  // "latest" is not a pin: the manifests say which Flux the cluster runs
  const fluxTool = Object.entries(tools).find(([k, v]) => /(^|[/:])flux2?$/.test(k) && v.value !== "latest");
  const fluxRenovate = renovate.find((r) => r.depName === "fluxcd/flux2" && r.version);
  const fluxPin = fluxFromManifests(objects.docs, documents, texts);
  // no pin anywhere: the finding points at the mise config the repo has, else at its FluxInstance
  const fluxHome = miseFiles(absRoot).at(-1) ?? objects.docs.find((d) => d.kind === "FluxInstance" || (d.kind === "HelmRelease" && isFluxInstanceChart(d)))?.file ?? ".mise.toml";
  const flux: Sourced<string> = fluxTool
    ? fluxTool[1]
    : fluxRenovate?.version
      ? { value: fluxRenovate.version, source: { file: fluxRenovate.source.file, line: fluxRenovate.source.line + 1 } }
      : (fluxPin ??
        (ctx.missing(fluxHome, 0, "no Flux version: no flux2 in the mise config's [tools], no FluxInstance distribution.version, no gotk-components.yaml"),
        { value: "", source: missingSrc(fluxHome) }));

  const bgp: Bgp = {
    clusterConfigs,
    peerConfigs,
    advertisements,
    nodeConfigOverrides,
    peeringPolicies,
    localASN,
    peers,
    controlPlaneEnabled,
  };

  const model: ClusterModel = {
    root: absRoot,
    documents,
    kustomizeDirs,
    cluster: { name: clusterName, endpoint, vip, ...(domain ? { domain } : {}) },
    versions: { talos: talosVersion, kubernetes: kubernetesVersion, cilium: ciliumVersion, flux, tools, renovate },
    nodes,
    schematic: defaultSchematic,
    installerImage,
    networks: {
      nodeV4: nodeV4 ?? need(undefined, "the node IPv4 subnet (machine.kubelet.nodeIP.validSubnets)"),
      nodeV6,
      podCidrs,
      serviceCidrs,
      vip,
      router: { ipv4: routerV4, ipv6: routerV6 },
    },
    pools,
    bgp,
    services,
    kustomizations,
    helmReleases,
    fluxSources,
    externalSecrets,
    secretStores,
    namespaces,
    talos,
    problems: ctx.problems,
  };
  LOADED_TEXTS.set(model, texts);
  return model;
}

/** The texts the index step read, per model (not part of the model's shape): the checks reuse them. */
const LOADED_TEXTS = new WeakMap<object, ReadonlyMap<string, string>>();

/** A file's text as the loader read it (a YAML file of talos/ or kubernetes/ it could read), else undefined. */
export function loadedText(model: object, rel: string): string | undefined {
  return LOADED_TEXTS.get(model)?.get(rel);
}

/**
 * The Flux the cluster runs, from its own manifests: a FluxInstance's `spec.distribution.version` (or the
 * flux-instance chart's `instance.distribution.version`), else the `# Flux Version:` header of gotk-components.yaml.
 * A range such as `2.x` is returned as written (checks that need a minor treat it as unknown).
 */
function fluxFromManifests(docs: readonly RepoDocument[], written: readonly RepoDocument[], texts: Map<string, string>): Sourced<string> | undefined {
  for (const d of docs) {
    let at: { doc: RepoDocument; path: PathSeg[] } | undefined;
    if (d.kind === "FluxInstance") at = { doc: d, path: ["spec", "distribution", "version"] };
    else if (d.kind === "HelmRelease" && isFluxInstanceChart(d)) at = helmValueSource(written, d, ["instance", "distribution", "version"]);
    const v = at ? str(get(at.doc.object, ...at.path)) : undefined;
    if (at && v) return { value: v, source: sourceOf(at.doc, at.path) };
  }
  for (const [file, text] of texts) {
    if (!/(^|\/)gotk-components\.ya?ml$/.test(file)) continue;
    const m = /^#\s*Flux Version:\s*(\S+)/m.exec(text);
    if (m?.[1]) return { value: m[1], source: { file, line: text.slice(0, m.index).split("\n").length } };
  }
  return undefined;
}

function peerAddr(peers: BgpPeerView[], fam: "ipv4" | "ipv6"): Sourced<string> | undefined {
  const p = peers.find((x) => x.family === fam && x.peerAddress);
  return p?.peerAddress ? { value: p.peerAddress, source: p.source } : undefined;
}

/** "172.29.51.11/24" -> "172.29.51.0/24" (string math only; lib/net does the real work elsewhere). */
function networkOf(addr: string): string {
  const [ip, len] = addr.split("/");
  if (!ip || !len) return addr;
  try {
    // lib/net (ipaddr.js) is loaded only when an interface address has to be turned into its network.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const net = require("../net/index.ts") as typeof import("../net/index.ts");
    return net.cidrNetwork(ip, Number(len));
  } catch {
    return addr;
  }
}

function normaliseClusterConfigSpec(spec: Obj): BgpClusterConfig["spec"] {
  return {
    ...spec,
    nodeSelector: selector(spec.nodeSelector),
    bgpInstances: arr(spec.bgpInstances)
      .filter(isObj)
      .map((i) => ({
        name: str(i.name) ?? "",
        localASN: typeof i.localASN === "number" ? i.localASN : undefined,
        localPort: typeof i.localPort === "number" ? i.localPort : undefined,
        peers: Array.isArray(i.peers)
          ? i.peers.filter(isObj).map((p) => ({
              name: str(p.name) ?? "",
              peerAddress: str(p.peerAddress),
              peerASN: typeof p.peerASN === "number" ? p.peerASN : undefined,
              peerConfigRef: isObj(p.peerConfigRef)
                ? { name: str(p.peerConfigRef.name) ?? "", kind: str(p.peerConfigRef.kind), group: str(p.peerConfigRef.group) }
                : undefined,
            }))
          : undefined,
      })),
  };
}

function normalisePeerConfigSpec(spec: Obj): BgpPeerConfig["spec"] {
  return {
    ...spec,
    families: Array.isArray(spec.families)
      ? spec.families.filter(isObj).map((f) => ({
          afi: str(f.afi) ?? "",
          safi: str(f.safi) ?? "",
          advertisements: selector(f.advertisements),
        }))
      : undefined,
  } as BgpPeerConfig["spec"];
}

function normaliseAdvertisementSpec(spec: Obj): BgpAdvertisement["spec"] {
  return {
    ...spec,
    advertisements: arr(spec.advertisements)
      .filter(isObj)
      .map((a) => ({
        ...a,
        advertisementType: str(a.advertisementType) ?? "",
        selector: selector(a.selector),
        service: isObj(a.service) ? { addresses: arr(a.service.addresses).map(String) } : undefined,
      })),
  };
}

function helmRelease(
  d: RepoDocument,
  valueSources: RepoDocument[],
  byFile: Map<string, RepoDocument[]>,
  root: string,
  namespace: string | undefined,
  fluxSources: FluxSource[],
  nsOf: (d: RepoDocument) => string | undefined = () => undefined,
): HelmRelease {
  const o = d.object as Obj;
  const spec = isObj(o.spec) ? o.spec : {};
  const chartSpec = get(spec, "chart", "spec");
  const chartRef = get(spec, "chartRef");
  const sr = isObj(chartSpec) ? get(chartSpec, "sourceRef") : chartRef;
  const dir = dirOf(d.file);
  const valuesFrom = arr(spec.valuesFrom)
    .filter(isObj)
    .map((v) => ({ kind: str(v.kind) ?? "", name: str(v.name) ?? "", valuesKey: str(v.valuesKey) }));
  let values: Obj = {};
  for (const vf of valuesFrom) {
    if (vf.kind !== "ConfigMap" && vf.kind !== "Secret") continue;
    const key = vf.valuesKey ?? "values.yaml";
    // Flux reads the object by name in the HelmRelease's namespace, wherever the repo makes it (another folder's
    // generator, a shared component); as written, without namespaces, the one of the same folder
    const same = valueSources.filter((c) => c.kind === vf.kind && c.name === vf.name);
    const cm = same.find((c) => dirOf(c.file) === dir) ?? (namespace !== undefined ? same.find((c) => nsOf(c) === namespace) : undefined);
    let text: string | undefined;
    if (vf.kind === "Secret") {
      // a SOPS-encrypted Secret's values are not known here
      if (cm && !isObj(get(cm.object, "sops"))) {
        const b64 = str(get(cm.object, "data", key));
        text = b64 !== undefined ? Buffer.from(b64, "base64").toString("utf8") : str(get(cm.object, "stringData", key));
      }
    } else text = str(get(cm?.object, "data", key));
    if (text === undefined && vf.kind === "ConfigMap") text = generatedConfigMapFile(dir, vf.name, key, byFile, root);
    if (text === undefined) continue;
    try {
      const v = fastParse(text);
      if (isObj(v)) values = deepMerge(values, v);
    } catch {
      /* a broken values file is reported by validate's yaml check */
    }
  }
  if (isObj(spec.values)) values = deepMerge(values, spec.values);
  // chartRef to an OCIRepository: the chart is the last segment of its URL, the version its ref.tag.
  let chart = str(get(chartSpec, "chart"));
  let version = str(get(chartSpec, "version"));
  if (chart === undefined && isObj(chartRef)) {
    const refNs = str(chartRef.namespace) ?? namespace;
    const src = fluxSources.find(
      (x) => x.kind === str(chartRef.kind) && x.name === str(chartRef.name) && (x.namespace ?? refNs) === refNs,
    );
    chart = src ? (src.url.split("/").pop() ?? src.name) : (str(chartRef.name) ?? "");
    version = src ? (str(get(src.ref, "tag")) ?? str(get(src.ref, "semver"))) : undefined;
  }
  return {
    name: d.name ?? "",
    namespace,
    apiVersion: d.apiVersion ?? "",
    dir,
    chart: chart ?? "",
    version,
    sourceRef: { kind: str(get(sr, "kind")) ?? "", name: str(get(sr, "name")) ?? "", namespace: str(get(sr, "namespace")) },
    releaseName: str(spec.releaseName),
    targetNamespace: str(spec.targetNamespace),
    values,
    installCrds: str(get(spec, "install", "crds")),
    valuesFrom,
    dependsOn: arr(spec.dependsOn)
      .filter(isObj)
      .map((x) => ({ name: str(x.name) ?? "", namespace: str(x.namespace) })),
    source: sourceOf(d),
    valuesSource: spec.values !== undefined ? sourceOf(d, ["spec", "values"]) : undefined,
  };
}

/** valuesFrom a ConfigMap made by kustomize's configMapGenerator in the same folder (`files: [values.yaml]`). */
function generatedConfigMapFile(
  dir: string,
  name: string,
  key: string,
  byFile: Map<string, RepoDocument[]>,
  root: string,
): string | undefined {
  const k = byFile.get(`${dir}/kustomization.yaml`)?.[0];
  for (const g of arr(get(k?.object, "configMapGenerator"))) {
    if (str(get(g, "name")) !== name) continue;
    for (const f of arr(get(g, "files"))) {
      const spec = String(f);
      const [fkey, fpath] = spec.includes("=") ? spec.split("=", 2) : [path.posix.basename(spec), spec];
      if (fkey !== key || !fpath) continue;
      try {
        return readFileSync(path.join(root, dir, fpath), "utf8");
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

function loadTalos(ctx: Ctx, byFile: Map<string, RepoDocument[]>): ClusterModel["talos"] {
  const configFile = TALHELPER_CONFIG;
  const envFile = "talos/talenv.yaml";
  const env: Record<string, Sourced<string>> = {};
  const envDoc = byFile.get(envFile)?.[0];
  if (envDoc && isObj(envDoc.object))
    for (const [k, v] of Object.entries(envDoc.object))
      if (v !== null && v !== undefined) env[k] = { value: String(v), source: sourceOf(envDoc, [k]) };
  let configDocument = byFile.get(configFile)?.[0];
  // `@./patches/x.yaml` references in talconfig, by where they apply.
  const refs = new Map<string, string[]>();
  const addRefs = (list: unknown, where: string) => {
    for (const r of arr(list)) {
      if (typeof r !== "string" || !r.startsWith("@")) continue;
      const file = normRel(path.posix.join("talos", r.slice(1)));
      refs.set(file, [...(refs.get(file) ?? []), where]);
    }
  };
  const raw = configDocument?.object;
  addRefs(get(raw, "patches"), "global");
  addRefs(get(raw, "controlPlane", "patches"), "controlPlane");
  addRefs(get(raw, "worker", "patches"), "worker");
  for (const n of arr(get(raw, "nodes"))) addRefs(get(n, "patches"), `node:${str(get(n, "hostname")) ?? "?"}`);
  const patches: TalosPatch[] = [];
  for (const [file, docs] of byFile) {
    const m = /^talos\/patches\/([^/]+)\//.exec(file);
    if (m?.[1]) patches.push({ file, scope: m[1], appliedTo: refs.get(file) ?? [], docs });
  }
  if (!configDocument) {
    ctx.missing(configFile, 0, existsSync(path.join(ctx.root, configFile)) ? "talconfig.yaml has no document" : "talconfig.yaml is missing");
    let cache: SlowParsed | undefined;
    configDocument = makeDoc(configFile, 0, 0, {}, () => (cache ??= slowParse("{}\n")));
  }
  const missingVars = new Set<string>();
  const config = substitute(configDocument.object, env, (n) => missingVars.add(n));
  for (const n of missingVars)
    ctx.problem(configFile, configDocument.line, `\${${n}} is used but not defined in ${envFile}`, `add ${n} to ${envFile}`);
  return { config: isObj(config) ? config : {}, configFile, configDocument, env, patches };
}
