import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { type ChartCrd, chartCrdCoverage, chartCrds, chartCrdsInCrdsDir, knownChartCrds } from "../repo/charts.ts";
import { checkCustomResource, type CrdProblem } from "../repo/crd-schema.ts";
import { bootstrapHelmfileCharts } from "../repo/helmfile.ts";
import type { ClusterModel, HelmRelease, RepoDocument } from "../repo/model.ts";
import { at, dotted, get, isObj, zodFindings, type PathSeg } from "./locate.ts";
import { CILIUM_SCHEMAS } from "./schemas/cilium.ts";
import { longhornDefaultSettings, longhornSettingObject } from "./schemas/longhorn.ts";
import { machineConfigPatch, talconfig, TALOS_DOC_SCHEMAS, TALOS_OTHER_KINDS } from "./schemas/talos.ts";
import { finding, type Finding } from "./types.ts";

/**
 * schema: every object validated against the schema of its kind.
 * - Built-in kinds and the Flux, cert-manager, External Secrets, prometheus-operator (and CiliumNetworkPolicy) kinds:
 *   the maintained `kubernetes-models` packages (schemas generated from upstream OpenAPI/CRDs). Their validators do
 *   not reject unknown fields (CRDs prune them silently), so unknown fields are found by recording which properties
 *   the validator reads: a key it never looks at, in an object whose other keys it does read, is not in the schema.
 *   A CustomResourceDefinition's openAPIV3Schemas are judged by the declared JSONSchemaProps fields instead, at
 *   every depth (the validators never read `description` or the `x-kubernetes-*` extensions).
 * - Cilium BGP + LB-IPAM kinds, Longhorn settings, talconfig and Talos patches: zod schemas (schemas/*.ts), strict.
 * - The kinds a chart of the repo installs (its HelmReleases, lib/repo/charts.ts): the CRD schema that chart
 *   installs, judged as the API server judges it (lib/repo/crd-schema.ts) — the schemas the simulated cluster serves.
 *   A kind a chart of the repo could install but, with its values, does not (and no CRD in the repo or bootstrap
 *   helmfile brings) is a finding; a chart version the table does not cover is one info line, and the problems found
 *   against the CRDs of the version it does cover are warnings.
 * - API versions: a Flux kind must use a version that the Flux release the repo pins still serves.
 */

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params?: Record<string, unknown>;
}
type ModelClass = { prototype: { validate(this: unknown): void } };

/** apiVersion group -> package holding its models. Built-in groups live in kubernetes-models itself. */
const GROUP_PACKAGES: Array<[RegExp, string]> = [
  [/\.toolkit\.fluxcd\.io$/, "@kubernetes-models/flux-cd"],
  [/(^|\.)cert-manager\.io$/, "@kubernetes-models/cert-manager"],
  [/(^|\.)external-secrets\.io$/, "@kubernetes-models/external-secrets"],
  [/^monitoring\.coreos\.com$/, "@kubernetes-models/prometheus-operator"],
  [/^cilium\.io$/, "@kubernetes-models/cilium"],
];
const BUILTIN_GROUP = /^(v1|[a-z]+|[a-z.]+\.k8s\.io)$/;

const classCache = new Map<string, ModelClass | null>();

/** The kubernetes-models module of apiVersion+kind ("kubernetes-models/apps/v1/Deployment"), or undefined. */
function modelModule(apiVersion: string, kind: string): string | undefined {
  if (!/^[A-Za-z0-9]+$/.test(kind) || !/^[a-z0-9.-]+(\/[a-z0-9]+)?$/.test(apiVersion)) return undefined;
  const slash = apiVersion.indexOf("/");
  const group = slash < 0 ? "" : apiVersion.slice(0, slash);
  const pkg = GROUP_PACKAGES.find(([re]) => re.test(group))?.[1] ?? (group === "" || BUILTIN_GROUP.test(group) ? "kubernetes-models" : undefined);
  if (!pkg || (group === "cilium.io" && kind in CILIUM_SCHEMAS)) return undefined;
  return `${pkg}/${apiVersion}/${kind}`;
}

/** The kubernetes-models class for apiVersion+kind, loaded on first use (each kind's module only). */
export function modelClass(apiVersion: string, kind: string): ModelClass | undefined {
  const key = `${apiVersion}/${kind}`;
  const hit = classCache.get(key);
  if (hit !== undefined) return hit ?? undefined;
  let cls: ModelClass | null = null;
  const module = modelModule(apiVersion, kind);
  if (module) {
    try {
      // the packages are ESM with import-only "exports": resolve the file first, then load it synchronously
      const mod = require(Bun.resolveSync(module, import.meta.dir)) as Record<string, unknown>;
      const c = mod[kind] as ModelClass | undefined;
      if (c && typeof c === "function") cls = c;
    } catch {
      cls = null;
    }
  }
  classCache.set(key, cls);
  return cls ?? undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Unknown fields: which properties does the validator read?
// ---------------------------------------------------------------------------------------------------------------

interface Recorded {
  path: PathSeg[];
  own: string[];
  read: Set<string>;
  enumerated: boolean;
}

function instrument(v: unknown, path: PathSeg[], recs: Recorded[]): unknown {
  if (Array.isArray(v)) return v.map((x, i) => instrument(x, [...path, i], recs));
  if (!isObj(v)) return v;
  const target: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) target[k] = instrument(x, [...path, k], recs);
  const rec: Recorded = { path, own: Object.keys(target), read: new Set(), enumerated: false };
  recs.push(rec);
  return new Proxy(target, {
    get(t, k) {
      if (typeof k === "string") rec.read.add(k);
      return Reflect.get(t, k);
    },
    has(t, k) {
      if (typeof k === "string") rec.read.add(k);
      return Reflect.has(t, k);
    },
    getOwnPropertyDescriptor(t, k) {
      if (typeof k === "string" && !rec.enumerated) rec.read.add(k);
      return Reflect.getOwnPropertyDescriptor(t, k);
    },
    ownKeys(t) {
      rec.enumerated = true; // a map (labels, annotations, additionalProperties): every key is allowed
      return Reflect.ownKeys(t);
    },
  });
}

/** The key structure of a value (values ignored): documents of one shape have the same unknown fields. */
function shape(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(shape).join(",")}]`;
  if (isObj(v)) return `{${Object.keys(v).map((k) => `${JSON.stringify(k)}:${shape(v[k])}`).join(",")}}`;
  return "";
}

const unknownByShape = new WeakMap<ModelClass, Map<string, PathSeg[][]>>();

function runValidate(cls: ModelClass, data: unknown): AjvError[] {
  try {
    cls.prototype.validate.call(data);
    return [];
  } catch (e) {
    const errs = (e as { errors?: AjvError[] }).errors;
    if (!Array.isArray(errs)) throw e;
    return errs;
  }
}

/** Validates with a kubernetes-models class; returns schema errors and the paths of fields the schema lacks. */
export function validateWithModel(cls: ModelClass, obj: unknown): { errors: AjvError[]; unknown: PathSeg[][] } {
  // Recording reads costs ~6x a plain validation; repos repeat shapes (every ConfigMap, every app's HelmRelease
  // skeleton), so the unknown fields of a shape are computed once.
  let cache = unknownByShape.get(cls);
  if (!cache) unknownByShape.set(cls, (cache = new Map()));
  const key = shape(obj);
  const known = cache.get(key);
  if (known) return { errors: runValidate(cls, obj), unknown: known };
  const recs: Recorded[] = [];
  const errors = runValidate(cls, instrument(obj, [], recs));
  const unknown: PathSeg[][] = [];
  for (const r of recs) {
    // nothing read: a free-form object (Helm values, preserve-unknown-fields) — not ours to judge
    if (r.enumerated || r.read.size === 0) continue;
    for (const k of r.own) if (!r.read.has(k)) unknown.push([...r.path, k]);
  }
  cache.set(key, unknown);
  return { errors, unknown };
}

function pointerToPath(obj: unknown, pointer: string): PathSeg[] {
  if (!pointer) return [];
  const out: PathSeg[] = [];
  let cur: unknown = obj;
  for (const raw of pointer.slice(1).split("/")) {
    const seg = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(cur) && /^\d+$/.test(seg)) {
      out.push(Number(seg));
      cur = cur[Number(seg)];
    } else {
      out.push(seg);
      cur = isObj(cur) ? cur[seg] : undefined;
    }
  }
  return out;
}

/** A library-schema result before it has a line: cacheable across runs, located with `at()` when reported. */
export interface PathFinding {
  id: string;
  path: PathSeg[];
  message: string;
  fix: string;
}

const declarations = new Map<string, Set<string>>();

/**
 * The fields a kubernetes-models module's type declaration lists (its interface, top level). The compiled validators
 * never read a field named `description` nor the `x-kubernetes-*` ones (the schema generator drops them), so reads
 * alone would call them unknown; the declaration is the documented list.
 */
function declaredFields(module: string | undefined): Set<string> {
  if (!module) return new Set();
  let fields = declarations.get(module);
  if (fields === undefined) {
    fields = new Set();
    try {
      const text = readFileSync(Bun.resolveSync(module, import.meta.dir).replace(/\.js$/, ".d.ts"), "utf8");
      const body = /^export interface \w+[^\n]*\{\n([\s\S]*?)^\}/m.exec(text)?.[1] ?? "";
      for (const m of body.matchAll(/^ {4}"?([^"?:\s]+)"?\??:/gm)) fields.add(m[1]!);
    } catch {
      // no declaration: nothing is declared
    }
    declarations.set(module, fields);
  }
  return fields;
}

// ---------------------------------------------------------------------------------------------------------------
// A CustomResourceDefinition's schemas: JSONSchemaProps at every depth
// ---------------------------------------------------------------------------------------------------------------

const CRD_TYPES = "kubernetes-models/apiextensions.k8s.io/v1";
/** JSONSchemaProps fields holding a map of schemas, a list of schemas, or one schema (apiextensions/v1 types.go) */
const SCHEMA_MAPS = new Set(["properties", "patternProperties", "definitions"]);
const SCHEMA_LISTS = new Set(["allOf", "anyOf", "oneOf"]);

/** The paths of the openAPIV3Schema of every version of a CustomResourceDefinition (apiextensions.k8s.io/v1). */
function crdSchemaRoots(crd: unknown): PathSeg[][] {
  const versions = get(crd, "spec", "versions");
  if (!Array.isArray(versions)) return [];
  return versions.flatMap((v, i) => (isObj(get(v, "schema", "openAPIV3Schema")) ? [["spec", "versions", i, "schema", "openAPIV3Schema"]] : []));
}

/**
 * The undeclared fields of a CRD version's openAPIV3Schema, judged as the API server decodes it: every node of the
 * schema tree, at every depth, is a JSONSchemaProps and may hold the fields it documents (`description` and the
 * `x-kubernetes-*` extensions included) and no other; `default`, `example` and `enum` hold free JSON.
 */
function jsonSchemaPropsUnknowns(node: unknown, path: PathSeg[], out: PathSeg[][]): void {
  if (!isObj(node)) return;
  const fields = declaredFields(`${CRD_TYPES}/JSONSchemaProps`);
  const closed = (v: unknown, at: PathSeg[], type: string) => {
    if (!isObj(v)) return;
    const own = declaredFields(`${CRD_TYPES}/${type}`);
    for (const k of Object.keys(v)) if (!own.has(k)) out.push([...at, k]);
  };
  for (const [k, v] of Object.entries(node)) {
    const at = [...path, k];
    if (!fields.has(k)) out.push(at);
    else if (SCHEMA_MAPS.has(k) && isObj(v)) for (const [name, s] of Object.entries(v)) jsonSchemaPropsUnknowns(s, [...at, name], out);
    else if (SCHEMA_LISTS.has(k) && Array.isArray(v)) v.forEach((s, i) => jsonSchemaPropsUnknowns(s, [...at, i], out));
    // JSONSchemaPropsOrArray / OrBool / OrStringArray: a schema, or a list of schemas / a boolean / a list of names
    else if (k === "items" && Array.isArray(v)) v.forEach((s, i) => jsonSchemaPropsUnknowns(s, [...at, i], out));
    else if (k === "items" || k === "not" || k === "additionalProperties" || k === "additionalItems") jsonSchemaPropsUnknowns(v, at, out);
    else if (k === "dependencies" && isObj(v)) for (const [name, s] of Object.entries(v)) jsonSchemaPropsUnknowns(s, [...at, name], out);
    else if (k === "x-kubernetes-validations" && Array.isArray(v)) v.forEach((r, i) => closed(r, [...at, i], "ValidationRule"));
    else if (k === "externalDocs") closed(v, at, "ExternalDocumentation");
  }
}

/** Unknown fields under a CRD's openAPIV3Schemas (replacing what reads found there), or `unknown` unchanged. */
function withCrdSchemaUnknowns(apiVersion: string, kind: string, obj: unknown, unknown: PathSeg[][]): PathSeg[][] {
  if (apiVersion !== "apiextensions.k8s.io/v1" || kind !== "CustomResourceDefinition") return unknown;
  const roots = crdSchemaRoots(obj);
  const under = (p: PathSeg[]) => roots.some((r) => r.every((s, i) => p[i] === s));
  const out = unknown.filter((p) => !under(p));
  for (const r of roots) jsonSchemaPropsUnknowns(get(obj, ...r), r, out);
  return out;
}

/** Values only known after Flux substitution, and enums that grow with each Flux release, are not judged here. */
function judgeable(obj: unknown, path: PathSeg[], apiVersion: string, enumError: boolean): boolean {
  const v = get(obj, ...path);
  if (typeof v === "string" && (v.includes("${") || v.startsWith("ENC["))) return false; // substituted later / SOPS ciphertext
  if (path[0] === "sops") return false;
  // Alert event source kinds: every Flux release and flux-operator (FluxInstance, ResourceSet) add kinds the table lacks
  if (enumError && apiVersion.startsWith("notification.toolkit.fluxcd.io/") && path.includes("eventSources")) return false;
  return true;
}

function ajvFindings(obj: unknown, errors: AjvError[], what: string, apiVersion = ""): PathFinding[] {
  // one finding per path: ajv reports oneOf/anyOf branches separately ("must be string", "must be integer", ...)
  const byPath = new Map<string, AjvError[]>();
  for (const e of errors) {
    const k = e.keyword === "required" ? `${e.instancePath}/${String(e.params?.missingProperty)}` : e.instancePath;
    const list = byPath.get(k);
    if (list) list.push(e);
    else byPath.set(k, [e]);
  }
  const out: PathFinding[] = [];
  for (const errs of byPath.values()) {
    const first = errs[0]!;
    const path = pointerToPath(obj, first.instancePath);
    if (first.keyword !== "required" && !judgeable(obj, path, apiVersion, errs.some((e) => e.keyword === "enum"))) continue;
    let message: string;
    if (first.keyword === "required") {
      const missing = String(first.params?.missingProperty);
      message = `${what}: \`${dotted([...path, missing])}\` is required`;
    } else {
      const types = errs.filter((e) => e.keyword === "type").map((e) => String(e.params?.type));
      const enums = errs.find((e) => e.keyword === "enum")?.params?.allowedValues as unknown[] | undefined;
      const detail = enums
        ? `must be one of ${enums.map(String).join(", ")}`
        : types.length > 0
          ? `must be ${[...new Set(types)].join(" or ")}`
          : (errs.find((e) => e.keyword !== "oneOf" && e.keyword !== "anyOf") ?? first).message ?? "is invalid";
      message = `${what}: \`${dotted(path) || "(document)"}\` ${detail}`;
    }
    out.push({ id: "schema/invalid", path, message, fix: "set the field to the type and value the kind's schema documents" });
  }
  return out;
}

/** kubernetes-models validation of one object: schema errors and unknown fields, by path. */
export function libraryFindings(apiVersion: string, kind: string, obj: unknown, what: string): PathFinding[] | undefined {
  const cls = modelClass(apiVersion, kind);
  if (!cls) return undefined;
  const { errors, unknown } = validateWithModel(cls, obj);
  const declared = declaredFields(modelModule(apiVersion, kind));
  const fromReads = unknown.filter(
    (p) =>
      // a SOPS-encrypted object carries its `sops:` block until kustomize-controller decrypts it
      p[0] !== "sops" &&
      !(p.length === 1 && declared.has(String(p[0]))) &&
      // no validator reads a `description` (see declaredFields); below the top level its type is not looked up
      !(p.length > 1 && p.at(-1) === "description"),
  );
  const judged = withCrdSchemaUnknowns(apiVersion, kind, obj, fromReads);
  return [
    ...ajvFindings(obj, errors, what, apiVersion),
    ...judged.map((p) => ({
      id: "schema/unknown-field",
      path: p,
      message: `${what}: unknown field \`${dotted(p)}\``,
      fix: `remove it or fix its spelling (${apiVersion} ${kind} has no such field)`,
    })),
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// A cache of library results across runs (like eslint --cache): loading the schema modules is most of a cold
// start, and unchanged documents give unchanged results. Keyed by the object and the schema packages' versions.
// ---------------------------------------------------------------------------------------------------------------

export interface SchemaCache {
  get(key: string): PathFinding[] | undefined;
  set(key: string, value: PathFinding[]): void;
}

const CACHE_VERSION = "2";

function packageVersions(): string {
  const names = ["kubernetes-models", "@kubernetes-models/flux-cd", "@kubernetes-models/cert-manager", "@kubernetes-models/external-secrets", "@kubernetes-models/prometheus-operator", "@kubernetes-models/cilium"];
  return names
    .map((n) => {
      try {
        return `${n}@${(require(Bun.resolveSync(`${n}/package.json`, import.meta.dir)) as { version: string }).version}`;
      } catch {
        return `${n}@?`;
      }
    })
    .join(",");
}

/** A JSON file of results; written atomically, ignored when unreadable or made by other schema versions. */
export class FileSchemaCache implements SchemaCache {
  private entries = new Map<string, PathFinding[]>();
  private readonly used = new Set<string>();
  private dirty = false;
  private readonly salt = `${CACHE_VERSION}|${packageVersions()}`;
  constructor(readonly file: string) {
    try {
      const raw = JSON.parse(readFileSync(file, "utf8")) as { salt?: string; entries?: Record<string, PathFinding[]> };
      if (raw.salt === this.salt && raw.entries) this.entries = new Map(Object.entries(raw.entries));
    } catch {
      // no cache yet, or a broken one: start empty
    }
  }
  static keyOf(apiVersion: string, kind: string, obj: unknown): string {
    return createHash("sha1").update(`${apiVersion}\0${kind}\0${JSON.stringify(obj)}`).digest("base64url");
  }
  get(key: string) {
    const v = this.entries.get(key);
    if (v) this.used.add(key);
    return v;
  }
  set(key: string, value: PathFinding[]) {
    this.entries.set(key, value);
    this.used.add(key);
    this.dirty = true;
  }
  /** Keeps only the entries this run used (the cache never outgrows the repo). */
  save(): void {
    if (!this.dirty && this.used.size === this.entries.size) return;
    const entries = Object.fromEntries([...this.entries].filter(([k]) => this.used.has(k)));
    try {
      mkdirSync(path.dirname(this.file), { recursive: true });
      const tmp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify({ salt: this.salt, entries }));
      renameSync(tmp, this.file);
    } catch {
      // a read-only checkout: run without a cache
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// API versions served
// ---------------------------------------------------------------------------------------------------------------

/** What Flux 2.4 serves per kind (older versions deprecated and removed: flux2 v2.4.0 release notes). */
const FLUX_24_SERVED: Record<string, string[]> = {
  GitRepository: ["source.toolkit.fluxcd.io/v1"],
  HelmRepository: ["source.toolkit.fluxcd.io/v1"],
  HelmChart: ["source.toolkit.fluxcd.io/v1"],
  Bucket: ["source.toolkit.fluxcd.io/v1beta2"],
  OCIRepository: ["source.toolkit.fluxcd.io/v1beta2"],
  Kustomization: ["kustomize.toolkit.fluxcd.io/v1"],
  HelmRelease: ["helm.toolkit.fluxcd.io/v2"],
  Receiver: ["notification.toolkit.fluxcd.io/v1"],
  Alert: ["notification.toolkit.fluxcd.io/v1beta3"],
  Provider: ["notification.toolkit.fluxcd.io/v1beta3"],
  ImageRepository: ["image.toolkit.fluxcd.io/v1beta2"],
  ImagePolicy: ["image.toolkit.fluxcd.io/v1beta2"],
  ImageUpdateAutomation: ["image.toolkit.fluxcd.io/v1beta2"],
};

/** Per Flux minor: what it serves. Only releases written down here are checked (no guessing about others). */
const FLUX_SERVED: Record<string, Record<string, string[]>> = { "2.4": FLUX_24_SERVED };

function fluxVersionFindings(d: RepoDocument, fluxVersion: string): Finding[] {
  if (!d.apiVersion?.includes(".toolkit.fluxcd.io/") || !d.kind) return [];
  const minor = /^v?(\d+\.\d+)/.exec(fluxVersion)?.[1] ?? "";
  const served = FLUX_SERVED[minor]?.[d.kind];
  if (!served || served.includes(d.apiVersion)) return [];
  return [
    finding(
      "schema/api-version",
      "error",
      at(d, ["apiVersion"]),
      `${d.kind} ${d.apiVersion} is not the version Flux ${fluxVersion} serves`,
      `use apiVersion: ${served.join(" or ")}`,
    ),
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// The kinds the repo's charts install
// ---------------------------------------------------------------------------------------------------------------

interface ChartCrdUse {
  crd: ChartCrd;
  release: HelmRelease;
  /** objects checked against this release's CRDs (an info line about an unknown chart version only when > 0) */
  checked: number;
}

/** What the repo's HelmReleases install, what they could install, and the CRDs the repo defines itself. */
interface ChartCrdIndex {
  /** group/kind -> the CRD and the release that installs it */
  installed: Map<string, ChartCrdUse>;
  /** group/kind -> the releases of the repo whose chart could install it, but with their values does not (and no
   * bootstrap helmfile installs that chart) */
  withheld: Map<string, { releases: HelmRelease[]; first?: Finding; more: number }>;
  /** plural.group of every CustomResourceDefinition the repo applies */
  defined: Set<string>;
}

const groupOf = (apiVersion: string) => (apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.indexOf("/")) : "");
const versionOf = (apiVersion: string) => apiVersion.slice(apiVersion.indexOf("/") + 1);

function chartCrdIndex(model: ClusterModel): ChartCrdIndex {
  const installed = new Map<string, ChartCrdUse>();
  const withheld: ChartCrdIndex["withheld"] = new Map();
  for (const release of model.helmReleases)
    for (const crd of chartCrds(release.chart, release.values, { skipCrdsDir: release.installCrds === "Skip" })) {
      const key = `${crd.group}/${crd.kind}`;
      if (!installed.has(key)) installed.set(key, { crd, release, checked: 0 });
    }
  // a chart the bootstrap helmfile installs may bring its CRDs before Flux runs, whatever its HelmRelease says
  const bootstrapped = model.helmReleases.length > 0 ? bootstrapHelmfileCharts(model.root) : new Map<string, string>();
  for (const { chart, crd } of knownChartCrds()) {
    const key = `${crd.group}/${crd.kind}`;
    if (installed.has(key) || bootstrapped.has(chart)) continue;
    const releases = model.helmReleases.filter((r) => r.chart === chart);
    if (releases.length > 0) withheld.set(key, { releases, more: 0 });
  }
  const defined = new Set(model.documents.filter((d) => d.kind === "CustomResourceDefinition" && d.name).map((d) => d.name!));
  return { installed, withheld, defined };
}

/**
 * One schema problem as a finding. Against the CRDs of another chart version than the release's (`known` set), it is
 * a warning naming the version checked against: a field a newer chart added is not an error the table can prove.
 */
function crdProblemFinding(d: RepoDocument, p: CrdProblem, what: string, use: ChartCrdUse, known?: string): Finding | undefined {
  const apiVersion = d.apiVersion ?? "";
  if (p.kind !== "required" && !judgeable(d.object, p.path, apiVersion, p.kind === "enum")) return undefined;
  const field = dotted(p.path) || "(document)";
  const source = `the ${use.crd.plural}.${use.crd.group} CRD of the ${use.release.chart} chart${known ? ` ${known} (the release runs ${use.release.version ?? "an unwritten version"})` : ""}`;
  const severity = known ? "warning" : "error";
  if (p.kind === "unknown") return finding("schema/unknown-field", severity, at(d, p.path), `${what}: unknown field \`${field}\``, `remove it or fix its spelling (${source} has no such field)`);
  const detail =
    p.kind === "required" ? "is required" : p.kind === "enum" ? `must be one of ${p.allowed.map(String).join(", ")}` : `must be ${p.expected.replace(",", " or ")}`;
  // a missing field has no line of its own: point at the object holding it
  return finding("schema/invalid", severity, at(d, p.kind === "required" ? p.path.slice(0, -1) : p.path), `${what}: \`${field}\` ${detail}`, `set the field to the type and value ${source} documents`);
}

/** A custom resource of a kind the repo's charts install or withhold. undefined: not a chart kind. */
function chartCrdFindings(d: RepoDocument, what: string, index: ChartCrdIndex): Finding[] | undefined {
  const apiVersion = d.apiVersion ?? "";
  const key = `${groupOf(apiVersion)}/${d.kind}`;
  const use = index.installed.get(key);
  if (use) {
    use.checked++;
    const version = versionOf(apiVersion);
    const { covered, known } = chartCrdCoverage(use.release.chart, use.release.version) ?? { covered: false, known: "" };
    if (!use.crd.versions.includes(version)) {
      // a version the table does not list is only wrong when the table is the release's own
      if (!covered) return [];
      return [finding("schema/api-version", "error", at(d, ["apiVersion"]), `${d.kind} ${apiVersion} is not served by the ${use.release.chart} chart ${use.release.version} (${known})`, `use apiVersion: ${use.crd.versions.map((v) => `${use.crd.group}/${v}`).join(" or ")}`)];
    }
    return checkCustomResource(use.crd.schema, d.object).flatMap((p) => crdProblemFinding(d, p, what, use, covered ? undefined : known) ?? []);
  }
  const w = index.withheld.get(key);
  if (!w) return undefined;
  const crd = knownChartCrds().find((c) => `${c.crd.group}/${c.crd.kind}` === key)!.crd;
  if (index.defined.has(`${crd.plural}.${crd.group}`)) return undefined;
  // one finding per kind, at its first object: the cause is one switch in one HelmRelease
  if (w.first) {
    w.more++;
    return [];
  }
  const r = w.releases[0]!;
  const enable = chartCrdCoverage(r.chart, r.version)?.enableWith;
  // values that would install them, but install.crds: Skip leaves the chart's crds/ folder out
  const skipped = r.installCrds === "Skip" && chartCrdsInCrdsDir(r.chart) && chartCrds(r.chart, r.values).length > 0;
  w.first = finding(
    "schema/crd-not-installed",
    "error",
    at(d, ["kind"]),
    `${what}: nothing installs the ${crd.plural}.${crd.group} CRD (the ${r.chart} HelmRelease at ${r.source.file}:${r.source.line} ${skipped ? "sets install.crds: Skip, and the chart ships its CRDs in its crds/ folder" : "leaves its CRDs off"}; no CRD in the repo defines it)`,
    skipped
      ? "remove install.crds: Skip from the HelmRelease (Create is the default), or apply the CRDs another way"
      : `turn the chart's CRDs on in the HelmRelease values${enable ? ` (${enable})` : ""}, or apply the CRDs another way`,
  );
  return [w.first];
}

/** The objects after the first of a kind without CRD, counted in its finding. */
function withheldCounts(index: ChartCrdIndex): void {
  for (const w of index.withheld.values())
    if (w.first && w.more > 0) w.first.message = w.first.message.replace(/: nothing installs /, ` (and ${w.more} more): nothing installs `);
}

/** One info line per release whose chart version the CRD table does not cover, when objects were checked with it. */
function chartCrdVersionNotes(index: ChartCrdIndex, model: ClusterModel): Finding[] {
  const notes = new Map<HelmRelease, number>();
  for (const use of index.installed.values()) if (use.checked > 0) notes.set(use.release, (notes.get(use.release) ?? 0) + use.checked);
  const out: Finding[] = [];
  for (const [r, checked] of notes) {
    const cov = chartCrdCoverage(r.chart, r.version);
    if (!cov || cov.covered) continue;
    // the chart version's own line where the HelmRelease writes it (a chartRef's version is in its OCIRepository)
    const doc = model.documents.find((d) => d.file === r.source.file && d.kind === "HelmRelease" && d.name === r.name);
    const versionAt = doc && get(doc.object, "spec", "chart", "spec", "version") !== undefined ? at(doc, ["spec", "chart", "spec", "version"]) : r.source;
    out.push(
      finding(
        "schema/chart-crds-version-unknown",
        "info",
        versionAt,
        `CRDs of ${r.chart} ${r.version ?? "(no chart version written)"} not known; checked against ${r.chart} ${cov.known} (${checked} object${checked === 1 ? "" : "s"})`,
        "nothing to fix; the table grows with the chart versions home-ops runs",
      ),
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// The family
// ---------------------------------------------------------------------------------------------------------------

function kubernetesDocFindings(d: RepoDocument, fluxVersion: string, charts: ChartCrdIndex, cache?: SchemaCache): Finding[] {
  const o = d.object;
  const what = `${d.kind ?? "object"}${d.name ? ` ${d.name}` : ""}`;
  if (!isObj(o)) return [];
  if (d.apiVersion === undefined || d.kind === undefined) return [];
  if (d.apiVersion.startsWith("kustomize.config.k8s.io/")) return [];
  const out: Finding[] = [];
  if (!isObj(o.metadata) || typeof get(o, "metadata", "name") !== "string")
    out.push(finding("schema/invalid", "error", at(d, ["metadata"]), `${what}: \`metadata.name\` is required`, "give the object a name"));
  const served = fluxVersionFindings(d, fluxVersion);
  // a version Flux no longer serves: its old schema would only add noise to the one finding that matters
  if (served.length > 0) return [...out, ...served];
  const fromChart = chartCrdFindings(d, what, charts);
  if (fromChart) {
    out.push(...fromChart);
    // no CRD, or an API version its CRD does not serve: nothing else to say about its fields
    if (fromChart.some((f) => f.id === "schema/crd-not-installed" || f.id === "schema/api-version")) return out;
  }
  if (d.apiVersion.startsWith("cilium.io/") && d.kind in CILIUM_SCHEMAS) {
    out.push(...zodFindings(CILIUM_SCHEMAS[d.kind]!, o, d, [], what));
    return onePerLine(out);
  }
  if (d.apiVersion.startsWith("longhorn.io/") && d.kind === "Setting") {
    out.push(...zodFindings(longhornSettingObject, o, d, [], what));
    return onePerLine(out);
  }
  const key = cache ? FileSchemaCache.keyOf(d.apiVersion, d.kind, o) : "";
  let lib = cache?.get(key);
  if (!lib) {
    lib = libraryFindings(d.apiVersion, d.kind, o, what);
    if (lib && cache) cache.set(key, lib);
  }
  for (const f of lib ?? []) out.push(finding(f.id, "error", at(d, f.path), f.message, f.fix));
  if (d.kind === "HelmRelease" && get(o, "spec", "chart", "spec", "chart") === "longhorn") {
    const ds = get(o, "spec", "values", "defaultSettings");
    if (ds !== undefined) out.push(...zodFindings(longhornDefaultSettings, ds, d, ["spec", "values", "defaultSettings"], "Longhorn defaultSettings"));
  }
  return onePerLine(out);
}

/** The chart's CRD schema and a library schema may both see one problem: it is said once (an error before a warning). */
function onePerLine(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  const rank = (f: Finding) => (f.severity === "error" ? 0 : 1);
  return [...findings].sort((a, b) => rank(a) - rank(b)).filter((f) => {
    const k = `${f.id}|${f.line}|${/`([^`]*)`/.exec(f.message)?.[1] ?? f.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function talosFindings(model: ClusterModel): Finding[] {
  const out: Finding[] = [];
  const cd = model.talos.configDocument;
  if (cd && cd.line > 0 && isObj(cd.object)) out.push(...zodFindings(talconfig, cd.object, cd, [], "talconfig"));
  for (const patch of model.talos.patches) {
    for (const d of patch.docs) {
      const o = d.object;
      if (Array.isArray(o)) continue; // JSON6902 patch list
      if (!isObj(o)) {
        out.push(finding("schema/invalid", "error", at(d), "Talos patch: a document must be a mapping", "write the patch as a YAML mapping"));
        continue;
      }
      if (typeof o.kind === "string") {
        const s = TALOS_DOC_SCHEMAS[o.kind];
        if (s) out.push(...zodFindings(s, o, d, [], `Talos ${o.kind}`));
        else if (!TALOS_OTHER_KINDS.has(o.kind))
          out.push(finding("schema/unknown-kind", "error", at(d, ["kind"]), `Talos patch: unknown document kind "${o.kind}"`, "use a kind from the Talos 1.10 configuration reference"));
        continue;
      }
      out.push(...zodFindings(machineConfigPatch, o, d, [], "Talos patch"));
    }
  }
  return out;
}

export function schemaCheck(model: ClusterModel, cache?: SchemaCache): Finding[] {
  const out: Finding[] = [];
  const flux = model.versions.flux?.value ?? "2.4";
  let fluxDocs = 0;
  const charts = chartCrdIndex(model);
  for (const d of model.documents) {
    if (!d.file.startsWith("kubernetes/")) continue;
    if (d.apiVersion?.includes(".toolkit.fluxcd.io/")) fluxDocs++;
    out.push(...kubernetesDocFindings(d, flux, charts, cache));
  }
  withheldCounts(charts);
  out.push(...chartCrdVersionNotes(charts, model));
  // a Flux the table does not know: say once that API versions were not checked (never guess, never stay silent)
  const minor = /^v?(\d+\.\d+)(\.|$)/.exec(flux)?.[1];
  if (fluxDocs > 0 && (!minor || !FLUX_SERVED[minor]))
    out.push(finding("schema/flux-version-unknown", "info", model.versions.flux?.source ?? { file: ".mise.toml", line: 0 }, `Flux ${flux || "(no version pinned)"} is not in the API-version table (${Object.keys(FLUX_SERVED).map((v) => `Flux ${v}`).join(", ")}): the Flux objects' API versions were not checked`, "nothing to fix; the table grows with the Flux versions this toolkit runs"));
  out.push(...talosFindings(model));
  return out;
}
