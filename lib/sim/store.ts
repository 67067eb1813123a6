/**
 * The simulated cluster's object store: what etcd plus kube-apiserver's registry do, in memory and in process.
 * Everything the simulated API, the emulated controllers and the tests see goes through here, so the semantics
 * (resourceVersion, generation, conflicts, server-side apply field ownership, watch resume and 410 Gone, Status
 * errors) are the ones a real API server has. The HTTP layer (kube-api.ts) only routes and serialises.
 */
import { builtinDecodeProblem, builtinDefaults, type FieldValidation, validateCustomResource } from "./schema.ts";
import { randomUUID } from "node:crypto";
import {
  apiVersionOf,
  BUILTIN_KINDS,
  crdFor,
  groupResource,
  kindFromCrd,
  THIRD_PARTY_KINDS,
  type KindInfo,
} from "./kinds.ts";

export { apiVersionOf, groupResource, kindInfo, type KindInfo, type KindInput } from "./kinds.ts";

// ---------------------------------------------------------------------------------------------------------------
// Object shapes

export interface ManagedFieldsEntry {
  manager: string;
  operation: "Apply" | "Update";
  apiVersion: string;
  time: string;
  fieldsType: "FieldsV1";
  fieldsV1: Record<string, unknown>;
  subresource?: string;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }[];
  managedFields?: ManagedFieldsEntry[];
  [key: string]: unknown;
}

/** Any Kubernetes object. spec/status are loosely typed: callers narrow them. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  // biome-ignore lint: spec and status are free-form per kind
  spec?: any;
  // biome-ignore lint: see above
  status?: any;
  [key: string]: unknown;
}

/** A stored object: metadata fields the store always sets are present. */
export type StoredObject<T extends KubeObject = KubeObject> = T & {
  /** generation is set only where Kubernetes sets it: workloads (apps/v1), CRDs and custom resources. */
  metadata: ObjectMeta & { name: string; uid: string; resourceVersion: string; creationTimestamp: string };
};

// ---------------------------------------------------------------------------------------------------------------
// Errors: Kubernetes Status objects

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
  type?: string;
}

export interface Status {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure" | "Success";
  message: string;
  reason: string;
  details?: { name?: string; group?: string; kind?: string; uid?: string; causes?: StatusCause[]; retryAfterSeconds?: number };
  code: number;
}

/** An API error carrying the Status object the HTTP layer serialises verbatim. */
export class StatusError extends Error {
  readonly status: Status;
  constructor(status: Status) {
    super(status.message);
    this.name = "StatusError";
    this.status = status;
  }
  get code(): number {
    return this.status.code;
  }
  get reason(): string {
    return this.status.reason;
  }
}

export function statusFailure(code: number, reason: string, message: string, details?: Status["details"]): Status {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, ...(details ? { details } : {}), code };
}

export function isStatusError(e: unknown, code?: number): e is StatusError {
  return e instanceof StatusError && (code === undefined || e.code === code);
}

export const errors = {
  notFound(k: KindInfo, name: string): StatusError {
    return new StatusError(
      statusFailure(404, "NotFound", `${groupResource(k)} "${name}" not found`, { name, ...(k.group ? { group: k.group } : {}), kind: k.plural }),
    );
  },
  namespaceNotFound(ns: string): StatusError {
    return new StatusError(statusFailure(404, "NotFound", `namespaces "${ns}" not found`, { name: ns, kind: "namespaces" }));
  },
  alreadyExists(k: KindInfo, name: string): StatusError {
    return new StatusError(
      statusFailure(409, "AlreadyExists", `${groupResource(k)} "${name}" already exists`, { name, ...(k.group ? { group: k.group } : {}), kind: k.plural }),
    );
  },
  conflict(k: KindInfo, name: string, why = "the object has been modified; please apply your changes to the latest version and try again"): StatusError {
    return new StatusError(
      statusFailure(409, "Conflict", `Operation cannot be fulfilled on ${groupResource(k)} "${name}": ${why}`, {
        name,
        ...(k.group ? { group: k.group } : {}),
        kind: k.plural,
      }),
    );
  },
  invalid(k: KindInfo, name: string, causes: { field: string; message: string; reason?: string }[]): StatusError {
    const qualified = k.group === "" ? k.kind : `${k.kind}.${k.group}`;
    const list = causes.map((c) => `${c.field}: ${c.message}`);
    const msg = `${qualified} "${name}" is invalid: ${list.length === 1 ? list[0] : `[${list.join(", ")}]`}`;
    return new StatusError(
      statusFailure(422, "Invalid", msg, {
        name,
        ...(k.group ? { group: k.group } : {}),
        kind: k.kind,
        causes: causes.map((c) => ({ reason: c.reason ?? "FieldValueInvalid", message: c.message, field: c.field })),
      }),
    );
  },
  badRequest(message: string): StatusError {
    return new StatusError(statusFailure(400, "BadRequest", message));
  },
  unprocessable(message: string): StatusError {
    return new StatusError(statusFailure(422, "UnprocessableEntity", message));
  },
  gone(requested: string, current: string): StatusError {
    return new StatusError(statusFailure(410, "Expired", `too old resource version: ${requested} (${current})`));
  },
  unknownKind(ref: string): StatusError {
    return new StatusError(statusFailure(404, "NotFound", `the server could not find the requested resource (${ref})`, { kind: ref }));
  },
  methodNotAllowed(message: string): StatusError {
    return new StatusError(statusFailure(405, "MethodNotAllowed", message));
  },
};

// ---------------------------------------------------------------------------------------------------------------
// Kinds

/**
 * How callers name a kind: an object's `{apiVersion, kind}`, a URL's `{group, version?, resource}`, or a string the
 * way kubectl accepts it (`nodes`, `node`, `no`, `Node`, `ciliumbgpnodeconfigs.cilium.io`, `nodes.longhorn.io`).
 */
export type KindRef = KindInfo | string | { apiVersion: string; kind: string } | { group: string; version?: string; resource: string };

export class KindRegistry {
  private readonly byKey = new Map<string, KindInfo>();
  private readonly listeners = new Set<() => void>();

  register(k: KindInfo): void {
    this.byKey.set(groupResource(k), k);
    for (const l of this.listeners) l();
  }
  unregister(k: Pick<KindInfo, "group" | "plural">): void {
    if (this.byKey.delete(groupResource(k))) for (const l of this.listeners) l();
  }
  /** Called whenever the set of kinds changes (the HTTP layer refreshes discovery). */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
  all(): KindInfo[] {
    return [...this.byKey.values()];
  }
  has(group: string, plural: string): boolean {
    return this.byKey.has(group === "" ? plural : `${plural}.${group}`);
  }
  byResource(group: string, version: string | undefined, plural: string): KindInfo | undefined {
    const k = this.byKey.get(group === "" ? plural : `${plural}.${group}`);
    if (!k || (version !== undefined && !k.versions.includes(version))) return undefined;
    return k;
  }
  byKind(apiVersion: string, kind: string): KindInfo | undefined {
    const [group, version] = splitApiVersion(apiVersion);
    for (const k of this.byKey.values()) if (k.group === group && k.kind === kind && k.versions.includes(version)) return k;
    return undefined;
  }
  /** kubectl-style resolution; core and built-in groups win over CRD groups on ambiguity, as in kubectl. */
  byName(name: string): KindInfo | undefined {
    const dot = name.indexOf(".");
    const lower = name.toLowerCase();
    const candidates = this.all().sort((a, b) => rank(a) - rank(b));
    const matches = (k: KindInfo, n: string) =>
      k.plural === n || k.singular === n || k.kind.toLowerCase() === n || k.shortNames.includes(n);
    for (const k of candidates) if (matches(k, lower)) return k;
    if (dot > 0) {
      const head = lower.slice(0, dot);
      const group = lower.slice(dot + 1);
      for (const k of candidates) if (k.group === group && matches(k, head)) return k;
      // `ciliumbgpnodeconfigs.v2alpha1.cilium.io`
      const dot2 = group.indexOf(".");
      if (dot2 > 0) {
        const version = group.slice(0, dot2);
        const g = group.slice(dot2 + 1);
        for (const k of candidates) if (k.group === g && k.versions.includes(version) && matches(k, head)) return k;
      }
    }
    return undefined;
  }
  tryResolve(ref: KindRef): KindInfo | undefined {
    if (typeof ref === "string") return this.byName(ref);
    if ("plural" in ref && "namespaced" in ref) return this.byResource(ref.group, undefined, ref.plural);
    if ("resource" in ref) return this.byResource(ref.group, ref.version, ref.resource);
    return this.byKind(ref.apiVersion, ref.kind);
  }
  /** Throws the 404 the API server gives for an unknown resource type. */
  resolve(ref: KindRef): KindInfo {
    const k = this.tryResolve(ref);
    if (k) return k;
    const text =
      typeof ref === "string"
        ? ref
        : "resource" in ref
          ? `${ref.resource}${ref.group ? `.${ref.group}` : ""}`
          : "plural" in ref
            ? groupResource(ref)
            : `${ref.kind} in ${ref.apiVersion}`;
    throw errors.unknownKind(text);
  }
}

function rank(k: KindInfo): number {
  if (k.group === "") return 0;
  if (!k.crd) return 1;
  return 2;
}

export function splitApiVersion(apiVersion: string): [group: string, version: string] {
  const i = apiVersion.lastIndexOf("/");
  return i < 0 ? ["", apiVersion] : [apiVersion.slice(0, i), apiVersion.slice(i + 1)];
}

// ---------------------------------------------------------------------------------------------------------------
// Selectors

export type LabelRequirement =
  | { key: string; op: "=" | "!="; values: [string] }
  | { key: string; op: "in" | "notin"; values: string[] }
  | { key: string; op: "exists" | "!exists"; values: [] };

/** Parses `app=x,tier!=db,env in (a,b),!legacy,release` (the labels.Parse grammar). Throws 400 on bad syntax. */
export function parseLabelSelector(selector: string | undefined): LabelRequirement[] {
  const s = (selector ?? "").trim();
  if (s === "") return [];
  const out: LabelRequirement[] = [];
  // split on commas outside parentheses
  const parts: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(cur);
      cur = "";
    } else cur += ch;
  }
  parts.push(cur);
  const keyRe = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?\/)?[a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?$/;
  const bad = (why: string) => errors.badRequest(`unable to parse requirement: ${why}`);
  const valueRe = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
  const checkValues = (key: string, values: string[]) => {
    for (const v of values) {
      if (v.length > 63 || !valueRe.test(v)) {
        throw bad(
          `values[0][${key}]: Invalid value: "${v}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
        );
      }
    }
  };
  for (const raw of parts) {
    const p = raw.trim();
    let m: RegExpMatchArray | null;
    if ((m = p.match(/^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/))) {
      const values = m[3]!.split(",").map((v) => v.trim()).filter((v) => v !== "");
      if (!keyRe.test(m[1]!)) throw bad(`invalid label key "${m[1]}"`);
      checkValues(m[1]!, values);
      out.push({ key: m[1]!, op: m[2] as "in" | "notin", values });
    } else if ((m = p.match(/^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/))) {
      if (!keyRe.test(m[1]!)) throw bad(`invalid label key "${m[1]}"`);
      checkValues(m[1]!, [m[3]!]);
      out.push({ key: m[1]!, op: m[2] === "!=" ? "!=" : "=", values: [m[3]!] });
    } else if ((m = p.match(/^!\s*(\S+)$/))) {
      if (!keyRe.test(m[1]!)) throw bad(`invalid label key "${m[1]}"`);
      out.push({ key: m[1]!, op: "!exists", values: [] });
    } else if (keyRe.test(p)) {
      out.push({ key: p, op: "exists", values: [] });
    } else {
      throw errors.badRequest(`unable to parse requirement: found '${p}', expected: identifier`);
    }
  }
  return out;
}

export function matchesLabels(labels: Record<string, string> | undefined, reqs: LabelRequirement[]): boolean {
  const l = labels ?? {};
  for (const r of reqs) {
    const has = Object.hasOwn(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case "=":
        if (!has || v !== r.values[0]) return false;
        break;
      case "!=":
        if (has && v === r.values[0]) return false;
        break;
      case "in":
        if (!has || !r.values.includes(v as string)) return false;
        break;
      case "notin":
        if (has && r.values.includes(v as string)) return false;
        break;
      case "exists":
        if (!has) return false;
        break;
      case "!exists":
        if (has) return false;
        break;
    }
  }
  return true;
}

export interface FieldRequirement {
  field: string;
  op: "=" | "!=";
  value: string;
}

/** Parses `metadata.name=x,spec.nodeName!=y`; only fields the kind supports, like the real server (400 otherwise). */
export function parseFieldSelector(selector: string | undefined, k?: KindInfo): FieldRequirement[] {
  const s = (selector ?? "").trim();
  if (s === "") return [];
  return s.split(",").map((raw) => {
    const m = raw.trim().match(/^([^=!]+?)\s*(==|=|!=)\s*(.*)$/);
    if (!m) throw errors.badRequest(`invalid selector: '${s}'; can't understand '${raw}'`);
    const field = m[1]!.trim();
    if (k && field !== "metadata.name" && field !== "metadata.namespace" && !k.fieldSelectors.includes(field)) {
      throw errors.badRequest(`field label not supported: ${field}`);
    }
    return { field, op: m[2] === "!=" ? "!=" : "=", value: m[3]!.trim() };
  });
}

export function matchesFields(obj: KubeObject, reqs: FieldRequirement[]): boolean {
  for (const r of reqs) {
    let v: unknown = obj;
    for (const part of r.field.split(".")) v = v !== null && typeof v === "object" ? (v as Record<string, unknown>)[part] : undefined;
    const s = v === undefined || v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
    if ((r.op === "=") !== (s === r.value)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// Events and watches

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

/** One change, as recorded in the store's history (and replayed to watches). `object` is a snapshot: don't mutate. */
export interface StoreEvent {
  type: WatchEventType;
  kind: KindInfo;
  object: StoredObject;
  /** The object before the change (MODIFIED, DELETED). */
  oldObject?: StoredObject;
  /** Numeric resourceVersion of this change. */
  rv: number;
  /** Date.now() when it happened. */
  at: number;
}

export interface WatchEvent {
  type: WatchEventType | "BOOKMARK";
  object: StoredObject;
}

export interface ListOptions {
  /** Omit (or "") for all namespaces of a namespaced kind. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export interface WatchOptions extends ListOptions {
  /**
   * Unset or "": send the current objects as ADDED, then changes. "0": same (any state will do). Otherwise: the
   * changes after that version; throws StatusError 410 (Expired) when it is older than the kept history.
   */
  resourceVersion?: string;
  /** Emit a BOOKMARK (an object carrying only metadata.resourceVersion) every `bookmarkIntervalMs`. */
  allowBookmarks?: boolean;
  bookmarkIntervalMs?: number;
}

export interface Watcher {
  stop(): void;
  readonly stopped: boolean;
}

// ---------------------------------------------------------------------------------------------------------------
// Writes

export type PatchType = "merge" | "json" | "strategic" | "apply";

export const PATCH_CONTENT_TYPES: Record<string, PatchType> = {
  "application/merge-patch+json": "merge",
  "application/json-patch+json": "json",
  "application/strategic-merge-patch+json": "strategic",
  "application/apply-patch+yaml": "apply",
  "application/apply-patch+cbor": "apply",
};

export interface WriteOptions {
  /** Who is writing (recorded in managedFields). Default "unknown". */
  fieldManager?: string;
  /** Compute and validate the result but store nothing (`--dry-run=server`). */
  dryRun?: boolean;
  /** Write only the status subresource (kinds with statusSubresource) — everything else in the input is ignored. */
  subresource?: "status";
  /** fieldValidation query parameter: Strict refuses fields a CRD's schema does not declare (default Warn: pruned) */
  fieldValidation?: FieldValidation;
}

export interface PatchOptions extends WriteOptions {
  type: PatchType;
  /** Server-side apply: take over fields other managers own instead of failing with a conflict. */
  force?: boolean;
}

export interface DeleteOptions {
  preconditions?: { resourceVersion?: string; uid?: string };
  dryRun?: boolean;
}

export interface SimStoreOptions {
  /** How many changes a watch can resume from before it gets 410 Gone. Default 1000. */
  watchHistory?: number;
  /** How many changes `events` keeps for assertions. Default 200_000. */
  eventLogLimit?: number;
  /**
   * Mark a CRD Established (and NamesAccepted) the moment it is created. Default true; the CRD controller emulation
   * turns it off to make establishment lag.
   */
  autoEstablishCrds?: boolean;
  /** Create default, kube-system, kube-public, kube-node-lease. Default true. */
  seedNamespaces?: boolean;
  /** Clock for timestamps. */
  now?: () => Date;
}

interface WatcherState {
  kind: KindInfo | undefined;
  ns?: string;
  labels: LabelRequirement[];
  fields: FieldRequirement[];
  cb: (ev: WatchEvent) => void;
  stopped: boolean;
  timer?: ReturnType<typeof setInterval>;
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

/**
 * The in-memory object store. All methods are synchronous; watch callbacks run synchronously after each change, in
 * order (a change made inside a callback is delivered after the current one reaches every watcher).
 * Returned objects are copies: mutate them freely.
 */
export class SimStore {
  readonly kinds = new KindRegistry();
  readonly options: Required<Omit<SimStoreOptions, "now">> & { now: () => Date };
  /** Every change in order (bounded by eventLogLimit). The objects are frozen snapshots shared with the store. */
  readonly events: StoreEvent[] = [];

  private rv = 0;
  /** Oldest resourceVersion a watch may resume from. */
  private compactedRv = 0;
  private readonly objects = new Map<string, Map<string, StoredObject>>();
  private readonly watchers = new Set<WatcherState>();
  private readonly queue: StoreEvent[] = [];
  private dispatching = false;

  constructor(opts: SimStoreOptions = {}) {
    this.options = {
      watchHistory: opts.watchHistory ?? 1000,
      eventLogLimit: opts.eventLogLimit ?? 200_000,
      autoEstablishCrds: opts.autoEstablishCrds ?? true,
      seedNamespaces: opts.seedNamespaces ?? true,
      now: opts.now ?? (() => new Date()),
    };
    for (const k of BUILTIN_KINDS) this.kinds.register(k);
    if (this.options.seedNamespaces) {
      for (const name of ["default", "kube-system", "kube-public", "kube-node-lease"]) {
        this.create({ apiVersion: "v1", kind: "Namespace", metadata: { name } }, { fieldManager: "kube-apiserver" });
      }
    }
  }

  /** Current (latest) resourceVersion. */
  get resourceVersion(): string {
    return String(this.rv);
  }

  // ---- reads -------------------------------------------------------------------------------------------------

  get<T extends KubeObject = KubeObject>(kind: KindRef, name: string, namespace?: string): StoredObject<T> {
    const k = this.kinds.resolve(kind);
    const obj = this.bucket(k).get(this.key(k, name, namespace));
    if (!obj) throw errors.notFound(k, name);
    return this.out(obj, kind) as StoredObject<T>;
  }

  tryGet<T extends KubeObject = KubeObject>(kind: KindRef, name: string, namespace?: string): StoredObject<T> | undefined {
    const k = this.kinds.tryResolve(kind);
    if (!k) return undefined;
    const obj = this.bucket(k).get(this.key(k, name, namespace));
    return obj ? (this.out(obj, kind) as StoredObject<T>) : undefined;
  }

  /**
   * The stored object itself, not a copy: frozen and in its storage version. For readers that only look (a
   * controller checking a condition); everything else gets copies from get/list.
   */
  peek(kind: KindRef, name: string, namespace?: string): Readonly<StoredObject> | undefined {
    const k = this.kinds.tryResolve(kind);
    return k ? this.bucket(k).get(this.key(k, name, namespace)) : undefined;
  }

  /** Every stored object of a kind (of one namespace, if given), not copies: frozen, as peek. */
  peekList(kind: KindRef, namespace?: string): readonly Readonly<StoredObject>[] {
    const k = this.kinds.tryResolve(kind);
    if (!k) return [];
    const b = this.bucket(k);
    const out: Readonly<StoredObject>[] = [];
    // the order and the namespace test of list()
    for (const key of [...b.keys()].sort()) {
      const obj = b.get(key)!;
      if (!(k.namespaced && namespace && obj.metadata.namespace !== namespace)) out.push(obj);
    }
    return out;
  }

  /** How many objects of a kind are stored (what etcd's key count sees), without copying them. */
  count(kind: KindRef): number {
    return this.bucket(this.kinds.resolve(kind)).size;
  }

  list<T extends KubeObject = KubeObject>(kind: KindRef, opts: ListOptions = {}): { items: StoredObject<T>[]; resourceVersion: string; kind: KindInfo } {
    const k = this.kinds.resolve(kind);
    const labels = parseLabelSelector(opts.labelSelector);
    const fields = parseFieldSelector(opts.fieldSelector, k);
    const items: StoredObject<T>[] = [];
    const keys = [...this.bucket(k).keys()].sort();
    for (const key of keys) {
      const obj = this.bucket(k).get(key)!;
      if (k.namespaced && opts.namespace && obj.metadata.namespace !== opts.namespace) continue;
      if (!matchesLabels(obj.metadata.labels, labels) || !matchesFields(obj, fields)) continue;
      items.push(this.out(obj, kind) as StoredObject<T>);
    }
    return { items, resourceVersion: this.resourceVersion, kind: k };
  }

  // ---- writes ------------------------------------------------------------------------------------------------

  create<T extends KubeObject = KubeObject>(input: KubeObject, opts: WriteOptions = {}): StoredObject<T> {
    return this.createAs<T>(input, opts, "Update");
  }

  private createAs<T extends KubeObject>(input: KubeObject, opts: WriteOptions, op: "Update" | "Apply"): StoredObject<T> {
    const k = this.kindOf(input);
    const obj = clone(input);
    obj.metadata ??= {};
    const meta = obj.metadata;
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${randomSuffix()}`;
    const name = meta.name ?? "";
    this.validateName(k, name, meta.generateName);
    this.validateNamespace(k, meta);
    if (this.bucket(k).has(this.key(k, name, meta.namespace))) throw errors.alreadyExists(k, name);
    if (k.group === "apiextensions.k8s.io" && k.kind === "CustomResourceDefinition") this.validateCrd(k, obj);
    for (const f of ["uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "generation", "managedFields"]) delete meta[f];
    if (k.statusSubresource && opts.subresource !== "status" && !(k.kind === "Namespace" && k.group === "")) {
      // creation keeps status for built-ins as the real server does for most; for CRDs status is dropped
      if (k.crd) delete obj.status;
    }
    this.defaults(k, obj);
    this.validateSchema(k, obj, opts);
    const now = this.timestamp();
    meta.uid = randomUUID();
    meta.creationTimestamp = now;
    if (tracksGeneration(k)) meta.generation = 1;
    obj.apiVersion = apiVersionOf(k, splitApiVersion(obj.apiVersion)[1]);
    meta.managedFields = [managedEntry(opts.fieldManager ?? "unknown", op, obj.apiVersion, now, leavesOf(input, op === "Apply"))];
    if (opts.dryRun) return this.out(obj as StoredObject, input) as StoredObject<T>;
    const stored = this.commit(k, "ADDED", obj as StoredObject, undefined);
    if (k.group === "apiextensions.k8s.io" && k.kind === "CustomResourceDefinition") this.onCrdCreated(stored);
    return this.out(this.bucket(k).get(this.key(k, name, meta.namespace))!, input) as StoredObject<T>;
  }

  /** PUT: replaces the object (or, with subresource "status", only its status). Conflict on a stale resourceVersion. */
  update<T extends KubeObject = KubeObject>(input: KubeObject, opts: WriteOptions = {}): StoredObject<T> {
    const k = this.kindOf(input);
    const name = input.metadata?.name ?? "";
    const current = this.bucket(k).get(this.key(k, name, input.metadata?.namespace));
    if (!current) throw errors.notFound(k, name);
    const wantRv = input.metadata?.resourceVersion;
    if (wantRv && wantRv !== current.metadata.resourceVersion) throw errors.conflict(k, name);
    return this.replace(k, current, clone(input), opts, "Update") as StoredObject<T>;
  }

  /** Shorthand for update(obj, {subresource: "status"}). */
  updateStatus<T extends KubeObject = KubeObject>(input: KubeObject, opts: Omit<WriteOptions, "subresource"> = {}): StoredObject<T> {
    return this.update<T>(input, { ...opts, subresource: "status" });
  }

  /**
   * PATCH. `type` "merge" (RFC 7386), "strategic" (Kubernetes strategic merge for common list shapes), "json" (RFC 6902) or "apply" (server-side
   * apply: creates the object when absent; fieldManager required; conflicts with other managers' fields -> 409
   * unless force).
   */
  patch<T extends KubeObject = KubeObject>(kind: KindRef, name: string, namespace: string | undefined, patch: unknown, opts: PatchOptions): StoredObject<T> {
    const k = this.kinds.resolve(kind);
    if (opts.type === "apply") {
      const applied = clone(patch) as KubeObject;
      if (!applied || typeof applied !== "object" || Array.isArray(applied)) throw errors.badRequest("error decoding YAML: the apply patch must be an object");
      applied.metadata ??= {};
      if (applied.metadata.name !== undefined && applied.metadata.name !== name) {
        throw errors.badRequest(`the name of the object (${applied.metadata.name}) does not match the name on the URL (${name})`);
      }
      applied.metadata.name = name;
      if (k.namespaced) applied.metadata.namespace = namespace ?? applied.metadata.namespace;
      const { type: _t, ...rest } = opts;
      return this.apply<T>(applied, rest);
    }
    if (opts.type === "strategic" && k.crd) {
      throw new StatusError(
        statusFailure(
          415,
          "UnsupportedMediaType",
          "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
        ),
      );
    }
    const current = this.bucket(k).get(this.key(k, name, namespace));
    if (!current) throw errors.notFound(k, name);
    const base = this.out(current, kind);
    let next: KubeObject;
    if (opts.type === "json") {
      if (!Array.isArray(patch)) throw errors.badRequest("the JSON patch must be an array of operations");
      next = applyJsonPatch(base, patch) as KubeObject;
    } else {
      if (!patch || typeof patch !== "object" || Array.isArray(patch)) throw errors.badRequest("the merge patch must be a JSON object");
      next = (opts.type === "strategic" ? strategicMergePatch(base, patch) : mergePatch(base, patch)) as KubeObject;
    }
    if (!next || typeof next !== "object") throw errors.unprocessable("the patch produced something other than an object");
    next.metadata ??= {};
    const wantRv = (patch as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion;
    if (opts.type !== "json" && wantRv && wantRv !== current.metadata.resourceVersion) throw errors.conflict(k, name);
    if (next.metadata.name !== name) throw errors.badRequest("metadata.name cannot be changed by a patch");
    next.metadata.resourceVersion = current.metadata.resourceVersion;
    return this.replace(k, current, next, opts, "Update") as StoredObject<T>;
  }

  /** Server-side apply of a full (partial-intent) object; creates it when absent. */
  apply<T extends KubeObject = KubeObject>(input: KubeObject, opts: Omit<PatchOptions, "type"> & { type?: "apply" } = {}): StoredObject<T> {
    const manager = opts.fieldManager;
    const k = this.kindOf(input);
    const name = input.metadata?.name ?? "";
    if (!manager) throw errors.badRequest("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch");
    const sub = opts.subresource;
    const applied = clone(input);
    applied.metadata ??= {};
    if (sub === "status") {
      for (const key of Object.keys(applied)) if (!["apiVersion", "kind", "metadata", "status"].includes(key)) delete applied[key];
      applied.metadata = { name: applied.metadata.name, ...(applied.metadata.namespace ? { namespace: applied.metadata.namespace } : {}) };
    } else if (k.statusSubresource) {
      delete applied.status;
    }
    const current = this.bucket(k).get(this.key(k, name, applied.metadata.namespace));
    if (!current) {
      if (sub === "status") throw errors.notFound(k, name);
      return this.createAs<T>(stripNulls(applied), { fieldManager: manager, ...(opts.dryRun ? { dryRun: true } : {}), ...(opts.fieldValidation ? { fieldValidation: opts.fieldValidation } : {}) }, "Apply");
    }
    if (applied.metadata.resourceVersion && applied.metadata.resourceVersion !== current.metadata.resourceVersion) throw errors.conflict(k, name);
    const live = clone(current) as KubeObject;
    const managed = fieldSets(live.metadata.managedFields);
    const appliedLeaves = leavesOf(applied, true);
    const own = managed.get(setKey(manager, "Apply", sub)) ?? new Set<string>();
    // conflicts: a field another manager owns, set to a different value
    const conflicts: { manager: string; field: string }[] = [];
    for (const [mk, set] of managed) {
      const [m] = parseSetKey(mk);
      if (m === manager) continue;
      for (const p of appliedLeaves) {
        const owned = [...set].find((q) => clashes(p, q, live, applied));
        if (owned === undefined) continue;
        if (deepEqual(valueAt(live, JSON.parse(p)), valueAt(applied, JSON.parse(p)))) continue;
        if (opts.force) {
          set.delete(owned);
        } else conflicts.push({ manager: m, field: pathText(JSON.parse(owned)) });
      }
    }
    if (conflicts.length > 0) {
      const uniq = [...new Map(conflicts.map((c) => [`${c.manager}${c.field}`, c])).values()];
      const msg =
        uniq.length === 1
          ? `Apply failed with 1 conflict: conflict with "${uniq[0]!.manager}": ${uniq[0]!.field}`
          : `Apply failed with ${uniq.length} conflicts: ${uniq.map((c) => `conflict with "${c.manager}": ${c.field}`).join("\n")}`;
      throw new StatusError(
        statusFailure(409, "Conflict", msg, {
          name,
          ...(k.group ? { group: k.group } : {}),
          kind: k.plural,
          causes: uniq.map((c) => ({ type: "FieldManagerConflict", message: `conflict with "${c.manager}"`, field: c.field })),
        }),
      );
    }
    // fields this manager applied before but no longer: remove unless someone else still owns them
    let next = deepMergeApply(clone(live), stripForApply(applied)) as KubeObject;
    for (const p of own) {
      if (appliedLeaves.has(p)) continue;
      const stillOwned = [...managed].some(([mk, set]) => parseSetKey(mk)[0] !== manager && [...set].some((q) => overlaps(p, q)));
      if (!stillOwned) next = removeAt(next, JSON.parse(p)) as KubeObject;
    }
    managed.set(setKey(manager, "Apply", sub), appliedLeaves);
    next.metadata.managedFields = toManagedFields(managed, current.metadata.managedFields ?? [], next.apiVersion, this.timestamp(), setKey(manager, "Apply", sub));
    next.metadata.resourceVersion = current.metadata.resourceVersion;
    return this.replace(k, current, next, { ...opts, fieldManager: manager }, "Apply", true) as StoredObject<T>;
  }

  /**
   * Deletes immediately; an object with finalizers only gets a deletionTimestamp and goes when an update clears them.
   * Deleting a namespace deletes everything in it; deleting a CRD deletes its kind and objects.
   */
  delete<T extends KubeObject = KubeObject>(kind: KindRef, name: string, namespace?: string, opts: DeleteOptions = {}): StoredObject<T> {
    const k = this.kinds.resolve(kind);
    const key = this.key(k, name, namespace);
    const current = this.bucket(k).get(key);
    if (!current) throw errors.notFound(k, name);
    const pre = opts.preconditions;
    if (pre?.uid && pre.uid !== current.metadata.uid) {
      throw errors.conflict(k, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid}`);
    }
    if (pre?.resourceVersion && pre.resourceVersion !== current.metadata.resourceVersion) {
      throw errors.conflict(k, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion}`);
    }
    if (opts.dryRun) return this.out(current, kind) as StoredObject<T>;
    if ((current.metadata.finalizers?.length ?? 0) > 0) {
      if (current.metadata.deletionTimestamp) return this.out(current, kind) as StoredObject<T>;
      const next = clone(current);
      next.metadata.deletionTimestamp = this.timestamp();
      next.metadata.deletionGracePeriodSeconds = 0;
      return this.out(this.commit(k, "MODIFIED", next, current), kind) as StoredObject<T>;
    }
    return this.out(this.remove(k, current), kind) as StoredObject<T>;
  }

  /**
   * Read-modify-write for controllers: `fn` edits a copy (return nothing or a replacement); written with update
   * (or updateStatus). Returns the stored result, or the unchanged object when fn changed nothing.
   */
  mutate<T extends KubeObject = KubeObject>(
    kind: KindRef,
    name: string,
    namespace: string | undefined,
    fn: (obj: StoredObject<T>) => void | KubeObject,
    opts: WriteOptions = {},
  ): StoredObject<T> {
    const before = this.get<T>(kind, name, namespace);
    const draft = clone(before);
    const replaced = fn(draft);
    const next = (replaced ?? draft) as KubeObject;
    if (deepEqual(next, before)) return before;
    return this.update<T>(next, opts);
  }

  /** Registers kinds without CRD objects (for tests that don't care about CRDs). */
  registerKinds(kinds: readonly KindInfo[]): void {
    for (const k of kinds) this.kinds.register(k);
  }

  /**
   * Creates the CustomResourceDefinitions of `kinds` (default: every third-party kind of this cluster), Established
   * unless told otherwise, skipping those already present. What "helm install cilium" etc. would have done.
   */
  installCrds(kinds: readonly KindInfo[] = THIRD_PARTY_KINDS, opts: { established?: boolean; fieldManager?: string } = {}): void {
    for (const k of kinds) {
      const crd = crdFor(k) as KubeObject;
      if (this.tryGet("customresourcedefinitions", crd.metadata.name!)) continue;
      this.create(crd, { fieldManager: opts.fieldManager ?? "helm" });
      if (opts.established ?? true) this.establishCrd(crd.metadata.name!);
    }
  }

  /** Sets a CRD's NamesAccepted and Established conditions True (what the apiextensions controller does). */
  establishCrd(name: string): StoredObject {
    const crd = this.get("customresourcedefinitions", name);
    const now = this.timestamp();
    const cond = (type: string, reason: string, message: string) => ({ type, status: "True", lastTransitionTime: now, reason, message });
    crd.status = {
      ...(crd.status ?? {}),
      conditions: [
        cond("NamesAccepted", "NoConflicts", "no conflicts found"),
        cond("Established", "InitialNamesAccepted", "the initial names have been accepted"),
      ],
      acceptedNames: crd.spec?.names ?? {},
      storedVersions: ((crd.spec?.versions ?? []) as { name: string; storage?: boolean }[]).filter((v) => v.storage).map((v) => v.name),
    };
    return this.updateStatus(crd, { fieldManager: "kube-apiserver" });
  }

  // ---- watch -------------------------------------------------------------------------------------------------

  /**
   * Watches one kind (or every kind with `null`). Throws StatusError 410 when `resourceVersion` is older than the
   * kept history. Callbacks run synchronously; stop() ends it.
   */
  watch(kind: KindRef | null, opts: WatchOptions, cb: (ev: WatchEvent) => void): Watcher {
    const k = kind === null ? undefined : this.kinds.resolve(kind);
    const state: WatcherState = {
      kind: k,
      ...(opts.namespace ? { ns: opts.namespace } : {}),
      labels: parseLabelSelector(opts.labelSelector),
      fields: parseFieldSelector(opts.fieldSelector, k),
      cb,
      stopped: false,
    };
    const rvText = opts.resourceVersion ?? "";
    const replay: WatchEvent[] = [];
    if (rvText === "" || rvText === "0") {
      const kinds = k ? [k] : this.kinds.all();
      for (const kk of kinds) {
        for (const key of [...this.bucket(kk).keys()].sort()) {
          const obj = this.bucket(kk).get(key)!;
          if (this.matches(state, kk, obj)) replay.push({ type: "ADDED", object: this.out(obj, kind ?? kk) });
        }
      }
    } else {
      const from = Number(rvText);
      if (!Number.isInteger(from) || from < 0) throw errors.badRequest(`invalid resource version: ${rvText}`);
      if (from < this.compactedRv) throw errors.gone(rvText, this.resourceVersion);
      // events are in resourceVersion order: find the first one after `from`
      let lo = 0;
      let hi = this.events.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.events[mid]!.rv <= from) lo = mid + 1;
        else hi = mid;
      }
      for (let i = lo; i < this.events.length; i++) {
        const w = this.toWatchEvent(state, this.events[i]!, kind);
        if (w) replay.push(w);
      }
    }
    this.watchers.add(state);
    for (const ev of replay) {
      if (state.stopped) break;
      cb(ev);
    }
    if (opts.allowBookmarks && !state.stopped) {
      state.timer = setInterval(() => {
        if (state.stopped) return;
        const bk = k ?? BUILTIN_KINDS[0]!;
        cb({ type: "BOOKMARK", object: { apiVersion: apiVersionOf(bk), kind: bk.kind, metadata: { resourceVersion: this.resourceVersion } } as StoredObject });
      }, opts.bookmarkIntervalMs ?? 1000);
      (state.timer as { unref?: () => void }).unref?.();
    }
    const watchers = this.watchers;
    return {
      stop() {
        state.stopped = true;
        if (state.timer) clearInterval(state.timer);
        watchers.delete(state);
      },
      get stopped() {
        return state.stopped;
      },
    };
  }

  /** Every change of every kind, as recorded (with oldObject). Returns an unsubscribe function. */
  subscribe(cb: (ev: StoreEvent) => void): () => void {
    const state: WatcherState = { kind: undefined, labels: [], fields: [], cb: () => {}, stopped: false };
    (state as WatcherState & { raw?: (ev: StoreEvent) => void }).raw = cb;
    this.watchers.add(state);
    return () => {
      state.stopped = true;
      this.watchers.delete(state);
    };
  }

  /** Forgets the watch history: resuming from any version before now gets 410 Gone (like an etcd compaction). */
  compact(): void {
    this.compactedRv = this.rv;
  }

  /** Events of one kind (and optionally name) from the history, for assertions. */
  history(kind: KindRef, name?: string, namespace?: string): StoreEvent[] {
    const k = this.kinds.tryResolve(kind);
    if (!k) return [];
    return this.events.filter(
      (e) =>
        e.kind.group === k.group &&
        e.kind.plural === k.plural &&
        (name === undefined || e.object.metadata.name === name) &&
        (namespace === undefined || e.object.metadata.namespace === namespace),
    );
  }

  // ---- internals ---------------------------------------------------------------------------------------------

  private kindOf(obj: KubeObject): KindInfo {
    if (!obj || typeof obj !== "object") throw errors.badRequest("the object must be a JSON object");
    if (!obj.apiVersion || !obj.kind) throw errors.badRequest("Object 'Kind' is missing in the object (apiVersion and kind are required)");
    const k = this.kinds.byKind(obj.apiVersion, obj.kind);
    if (!k) throw errors.unknownKind(`no matches for kind "${obj.kind}" in version "${obj.apiVersion}"`);
    return k;
  }

  private bucket(k: KindInfo): Map<string, StoredObject> {
    const key = groupResource(k);
    let b = this.objects.get(key);
    if (!b) this.objects.set(key, (b = new Map()));
    return b;
  }

  private key(k: KindInfo, name: string, namespace: string | undefined): string {
    return k.namespaced ? `${namespace ?? "default"}/${name}` : name;
  }

  private timestamp(): string {
    return this.options.now().toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  /** Copy for the caller, in the version it asked for. */
  private out(obj: StoredObject, asked: KindRef | KubeObject | null): StoredObject {
    const c = clone(obj);
    if (asked && typeof asked === "object" && "apiVersion" in asked && typeof asked.apiVersion === "string") {
      const [, v] = splitApiVersion(asked.apiVersion);
      const [g] = splitApiVersion(c.apiVersion);
      if (g === splitApiVersion(asked.apiVersion)[0]) c.apiVersion = g === "" ? v : `${g}/${v}`;
    } else if (asked && typeof asked === "object" && "resource" in asked) {
      const r = asked as { group: string; version?: string };
      if (r.version) c.apiVersion = r.group === "" ? r.version : `${r.group}/${r.version}`;
    }
    return c;
  }

  private validateName(k: KindInfo, name: string, generateName?: string): void {
    if (!name) {
      throw errors.invalid(k, generateName ?? "", [{ field: "metadata.name", message: "Required value: name or generateName is required", reason: "FieldValueRequired" }]);
    }
    const labelOnly = k.group === "" && k.kind === "Namespace";
    const ok = labelOnly ? DNS1123_LABEL.test(name) && name.length <= 63 : DNS1123_SUBDOMAIN.test(name) && name.length <= 253;
    if (!ok) throw errors.invalid(k, name, [{ field: "metadata.name", message: `Invalid value: "${name}": ${labelOnly ? LABEL_MSG : SUBDOMAIN_MSG}` }]);
  }

  private validateNamespace(k: KindInfo, meta: ObjectMeta): void {
    if (!k.namespaced) {
      delete meta.namespace;
      return;
    }
    meta.namespace ||= "default";
    if (!this.bucket(BUILTIN_KINDS[0]!).has(meta.namespace)) throw errors.namespaceNotFound(meta.namespace);
  }

  private validateCrd(k: KindInfo, obj: KubeObject): void {
    const name = obj.metadata.name ?? "";
    const spec = obj.spec as { group?: string; names?: { plural?: string; kind?: string } } | undefined;
    const causes: { field: string; message: string; reason?: string }[] = [];
    if (!spec?.group) causes.push({ field: "spec.group", message: "Required value", reason: "FieldValueRequired" });
    if (!spec?.names?.plural) causes.push({ field: "spec.names.plural", message: "Required value", reason: "FieldValueRequired" });
    if (!spec?.names?.kind) causes.push({ field: "spec.names.kind", message: "Required value", reason: "FieldValueRequired" });
    if (spec?.group && spec.names?.plural && name !== `${spec.names.plural}.${spec.group}`) {
      causes.push({ field: "metadata.name", message: `Invalid value: "${name}": must be spec.names.plural+"."+spec.group` });
    }
    if (causes.length === 0 && !kindFromCrd(obj)) causes.push({ field: "spec.versions", message: "Invalid value: must have exactly one version marked as storage version" });
    if (causes.length > 0) throw errors.invalid(k, name, causes);
  }

  /**
   * The write's schema checks (lib/sim/schema.ts): a custom resource against its CRD's openAPIV3Schema (422; unknown
   * fields pruned, or 400 under fieldValidation=Strict), a built-in workload's typed fields (400).
   */
  private validateSchema(k: KindInfo, obj: KubeObject, opts: WriteOptions): void {
    const name = obj.metadata?.name ?? "";
    const decode = builtinDecodeProblem(k, obj);
    if (decode) throw errors.badRequest(decode.message);
    if (!k.crd) return;
    const crdKind = this.kinds.tryResolve({ group: "apiextensions.k8s.io", resource: "customresourcedefinitions" });
    const crd = crdKind ? this.bucket(crdKind).get(this.key(crdKind, k.crd, undefined)) : undefined;
    const version = splitApiVersion(obj.apiVersion ?? "")[1] || k.version;
    const versions = (crd?.spec?.versions ?? []) as { name?: string; schema?: { openAPIV3Schema?: unknown } }[];
    const schema = (versions.find((v) => v.name === version) ?? versions.find((v) => v.name === k.version))?.schema?.openAPIV3Schema;
    const problems = validateCustomResource(schema as never, obj as Record<string, unknown>, opts.fieldValidation ?? "Warn");
    const strict = problems.filter((p) => p.code === 400);
    if (strict.length) throw errors.badRequest(`${k.kind} in version "${version}" cannot be handled as a ${k.kind}: strict decoding error: ${strict.map((p) => p.message).join(", ")}`);
    if (problems.length) throw errors.invalid(k, name, problems.map((p) => ({ field: p.field, message: p.message, ...(p.reason ? { reason: p.reason } : {}) })));
  }

  private defaults(k: KindInfo, obj: KubeObject): void {
    foldStringData(k, obj);
    builtinDefaults(k, obj);
    if (k.group === "" && k.kind === "Pod" && !obj.status?.phase) obj.status = { phase: "Pending", ...(obj.status ?? {}) };
    if (k.group === "" && k.kind === "Namespace") {
      obj.metadata.labels = { ...(obj.metadata.labels ?? {}), "kubernetes.io/metadata.name": obj.metadata.name! };
      obj.spec = { finalizers: ["kubernetes"], ...(obj.spec ?? {}) };
      obj.status = { phase: "Active", ...(obj.status ?? {}) };
    }
  }

  private onCrdCreated(crd: StoredObject): void {
    const kind = kindFromCrd(crd);
    if (kind) this.kinds.register(kind);
    if (this.options.autoEstablishCrds) this.establishCrd(crd.metadata.name);
  }

  /** Shared tail of update/patch/apply: enforce subresource rules, bump generation, record managed fields. */
  private replace(k: KindInfo, current: StoredObject, next: KubeObject, opts: WriteOptions, op: "Update" | "Apply", managedDone = false): StoredObject {
    const name = current.metadata.name;
    if (next.metadata?.name !== undefined && next.metadata.name !== name) {
      throw errors.badRequest(`the name of the object (${next.metadata.name}) does not match the name on the URL (${name})`);
    }
    if (next.kind !== undefined && next.kind !== current.kind) throw errors.badRequest(`the kind of the object (${next.kind}) does not match ${current.kind}`);
    const candidate = clone(next) as StoredObject;
    candidate.apiVersion = current.apiVersion;
    candidate.kind = current.kind;
    candidate.metadata ??= {} as StoredObject["metadata"];
    // immutable or server-owned metadata
    for (const f of ["name", "namespace", "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "resourceVersion"] as const) {
      if (current.metadata[f] === undefined) delete candidate.metadata[f];
      else (candidate.metadata as Record<string, unknown>)[f] = current.metadata[f];
    }
    if (!managedDone) candidate.metadata.managedFields = current.metadata.managedFields;
    let result: StoredObject;
    if (opts.subresource === "status") {
      if (!k.statusSubresource) throw errors.unknownKind(`${groupResource(k)}/status`);
      result = clone(current);
      if (candidate.status === undefined) delete result.status;
      else result.status = candidate.status;
      if (managedDone) result.metadata.managedFields = candidate.metadata.managedFields;
    } else {
      result = candidate;
      if (k.statusSubresource) {
        if (current.status === undefined) delete result.status;
        else result.status = clone(current.status);
      }
    }
    if (k.group === "" && k.kind === "Namespace") this.defaults(k, result);
    if (opts.subresource !== "status") {
      builtinDefaults(k, result);
      this.validateSchema(k, result, opts);
    }
    foldStringData(k, result);
    // generation: bumped by changes outside metadata (and outside status when status is a subresource)
    const specOf = (o: KubeObject) => {
      const { metadata: _m, status: _s, ...rest } = o;
      return k.statusSubresource ? rest : { ...rest, status: _s };
    };
    if (tracksGeneration(k) && !deepEqual(specOf(result), specOf(current))) result.metadata.generation = (current.metadata.generation ?? 1) + 1;
    if (!managedDone) {
      const changed = changedLeaves(current, result);
      if (changed.size > 0) {
        const managed = fieldSets(current.metadata.managedFields);
        const manager = opts.fieldManager ?? "unknown";
        const mk = setKey(manager, "Update", opts.subresource);
        for (const [other, set] of managed) if (other !== mk) for (const p of changed) for (const q of [...set]) if (overlaps(p, q)) set.delete(q);
        const mine = managed.get(mk) ?? new Set<string>();
        for (const p of changed) if (valueAt(result, JSON.parse(p)) !== undefined) mine.add(p);
        managed.set(mk, mine);
        result.metadata.managedFields = toManagedFields(managed, current.metadata.managedFields ?? [], result.apiVersion, this.timestamp(), mk);
      }
    }
    const { managedFields: _a, resourceVersion: _b, ...metaA } = result.metadata;
    const { managedFields: _c, resourceVersion: _d, ...metaB } = current.metadata;
    const { metadata: _e, ...restA } = result;
    const { metadata: _f, ...restB } = current;
    const sameContent = deepEqual(metaA, metaB) && deepEqual(restA, restB);
    // a no-op write (managed fields differing only in their timestamps) stores nothing, like the real server
    const untimed = (m: ManagedFieldsEntry[] | undefined) => (m ?? []).map(({ time: _t, ...rest }) => rest);
    if (sameContent && deepEqual(untimed(result.metadata.managedFields), untimed(current.metadata.managedFields))) return this.out(current, null);
    if (sameContent && op === "Update") return this.out(current, null);
    if (opts.dryRun) return this.out(result, null);
    if (result.metadata.deletionTimestamp && (result.metadata.finalizers?.length ?? 0) === 0) {
      return this.out(this.remove(k, result, current), null);
    }
    return this.out(this.commit(k, "MODIFIED", result, current), null);
  }

  private remove(k: KindInfo, obj: StoredObject, previous: StoredObject = obj): StoredObject {
    const key = this.key(k, obj.metadata.name, obj.metadata.namespace);
    if (k.group === "" && k.kind === "Namespace") {
      for (const kk of this.kinds.all()) {
        if (!kk.namespaced) continue;
        for (const o of [...this.bucket(kk).values()]) if (o.metadata.namespace === obj.metadata.name) this.remove(kk, o);
      }
    }
    this.bucket(k).delete(key);
    const gone = clone(obj);
    const removed = this.commit(k, "DELETED", gone, previous, false);
    if (k.group === "apiextensions.k8s.io" && k.kind === "CustomResourceDefinition") {
      const defined = kindFromCrd(obj);
      if (defined && this.kinds.byResource(defined.group, undefined, defined.plural)?.crd === obj.metadata.name) {
        for (const o of [...this.bucket(defined).values()]) this.remove(defined, o);
        this.kinds.unregister(defined);
      }
    }
    return removed;
  }

  private commit(k: KindInfo, type: WatchEventType, obj: StoredObject, old: StoredObject | undefined, store = true): StoredObject {
    this.rv += 1;
    obj.metadata.resourceVersion = String(this.rv);
    if (store) this.bucket(k).set(this.key(k, obj.metadata.name, obj.metadata.namespace), obj);
    // Stored objects are never changed after this point (every write builds a new one), so the store, the history
    // and the previous version can share them; frozen, so a reader that mutates one fails loudly instead of
    // silently corrupting the store.
    deepFreeze(obj);
    const ev: StoreEvent = { type, kind: k, object: obj, ...(old ? { oldObject: deepFreeze(old) } : {}), rv: this.rv, at: Date.now() };
    this.events.push(ev);
    if (this.events.length > this.options.eventLogLimit) this.events.splice(0, this.events.length - this.options.eventLogLimit);
    const keep = Math.min(this.options.watchHistory, this.events.length);
    const oldestKept = this.events[this.events.length - keep];
    if (oldestKept) this.compactedRv = Math.max(this.compactedRv, oldestKept.rv - 1);
    this.queue.push(ev);
    this.drain();
    return obj;
  }

  private drain(): void {
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      while (this.queue.length > 0) {
        const ev = this.queue.shift()!;
        for (const w of [...this.watchers]) {
          if (w.stopped) continue;
          const raw = (w as WatcherState & { raw?: (ev: StoreEvent) => void }).raw;
          if (raw) {
            raw(ev);
            continue;
          }
          const we = this.toWatchEvent(w, ev, w.kind ?? null);
          if (we) w.cb(we);
        }
      }
    } finally {
      this.dispatching = false;
    }
  }

  private matches(w: WatcherState, k: KindInfo, obj: StoredObject): boolean {
    if (w.kind && (w.kind.group !== k.group || w.kind.plural !== k.plural)) return false;
    if (w.ns && k.namespaced && obj.metadata.namespace !== w.ns) return false;
    return matchesLabels(obj.metadata.labels, w.labels) && matchesFields(obj, w.fields);
  }

  /** Kubernetes watch semantics for filtered watches: entering the selection is ADDED, leaving it is DELETED. */
  private toWatchEvent(w: WatcherState, ev: StoreEvent, asked: KindRef | null): WatchEvent | undefined {
    const now = this.matches(w, ev.kind, ev.object);
    const before = ev.oldObject !== undefined && ev.type !== "ADDED" && this.matches(w, ev.kind, ev.oldObject);
    let type: WatchEventType;
    if (ev.type === "DELETED") {
      if (!now && !before) return undefined;
      type = "DELETED";
    } else if (ev.type === "ADDED") {
      if (!now) return undefined;
      type = "ADDED";
    } else if (now && before) type = "MODIFIED";
    else if (now) type = "ADDED";
    else if (before) type = "DELETED";
    else return undefined;
    return { type, object: this.out(ev.object, asked ?? ev.kind) };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// JSON helpers (exported for the HTTP layer and tests)

/** Kinds whose registry strategy keeps metadata.generation (ConfigMaps, Nodes, Pods, Services... have none). */
/** Like the kube-apiserver, a Secret's write-only `stringData` is folded into base64 `data` and never stored. */
function foldStringData(k: KindInfo, obj: KubeObject): void {
  if (k.group !== "" || k.kind !== "Secret") return;
  const o = obj as KubeObject & { data?: Record<string, string>; stringData?: Record<string, string> };
  if (!o.stringData) return;
  o.data = { ...(o.data ?? {}) };
  for (const [key, value] of Object.entries(o.stringData)) o.data[key] = Buffer.from(String(value)).toString("base64");
  delete o.stringData;
}

function tracksGeneration(k: KindInfo): boolean {
  return k.crd !== undefined || k.group === "apps" || k.group === "apiextensions.k8s.io";
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === "object" && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v as object)) deepFreeze(x);
  }
  return v;
}

/**
 * A copy of a JSON value with JSON's semantics (what a round trip through the API's wire format gives: undefined
 * members dropped, undefined array items null, toJSON honoured), without the round trip: every read and list of
 * the store copies, and stringify + parse was a fifth of a simulated script's start-up.
 */
export function clone<T>(v: T): T {
  return v === undefined ? v : (cloneJson(v) as T);
}

function cloneJson(v: unknown): unknown {
  if (v === null || typeof v !== "object") return typeof v === "number" && !Number.isFinite(v) ? null : v;
  if (typeof (v as { toJSON?: unknown }).toJSON === "function") return cloneJson((v as { toJSON(): unknown }).toJSON());
  if (Array.isArray(v)) {
    const out = new Array<unknown>(v.length);
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      out[i] = x === undefined || typeof x === "function" || typeof x === "symbol" ? null : cloneJson(x);
    }
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    const x = (v as Record<string, unknown>)[k];
    if (x === undefined || typeof x === "function" || typeof x === "symbol") continue;
    out[k] = cloneJson(x);
  }
  return out;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((x) => ao[x] !== undefined);
  const bk = Object.keys(bo).filter((x) => bo[x] !== undefined);
  return ak.length === bk.length && ak.every((x) => deepEqual(ao[x], bo[x]));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  const out: Record<string, unknown> = isPlainObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function decodePointer(ptr: string): string[] {
  if (ptr === "") return [];
  if (!ptr.startsWith("/")) throw errors.unprocessable(`invalid JSON pointer: "${ptr}"`);
  return ptr
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/**
 * Merge keys of the built-in kinds' lists (their `patchMergeKey`), by field name: lists under these names merge
 * item by item in a strategic merge patch instead of being replaced.
 */
const MERGE_KEYS: Record<string, string> = {
  containers: "name",
  initContainers: "name",
  ephemeralContainers: "name",
  env: "name",
  volumes: "name",
  volumeMounts: "mountPath",
  volumeDevices: "devicePath",
  imagePullSecrets: "name",
  conditions: "type",
  hostAliases: "ip",
  topologySpreadConstraints: "topologyKey",
  resourceClaims: "name",
};

/**
 * Kubernetes strategic merge patch, for the kinds' common shapes: maps merge, lists named in MERGE_KEYS merge by
 * key (`$patch: delete` removes an item), `ports` merge by containerPort (containers) or port (services), other
 * lists are replaced; `$patch: replace|delete` on a map and the `$setElementOrder/…`, `$retainKeys`,
 * `$deleteFromPrimitiveList/…` directives kubectl sends are honoured or dropped (never stored).
 */
export function strategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  if (patch.$patch === "replace") {
    const { $patch: _p, ...rest } = patch;
    return stripDirectives(rest);
  }
  const out: Record<string, unknown> = isPlainObject(target) ? clone(target) : {};
  const retain = Array.isArray(patch.$retainKeys) ? new Set(patch.$retainKeys as string[]) : undefined;
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith("$setElementOrder/") || k === "$retainKeys" || k === "$patch") continue;
    if (k.startsWith("$deleteFromPrimitiveList/")) {
      const field = k.slice("$deleteFromPrimitiveList/".length);
      if (Array.isArray(out[field]) && Array.isArray(v)) out[field] = (out[field] as unknown[]).filter((x) => !v.some((d) => deepEqual(d, x)));
      continue;
    }
    if (v === null) {
      delete out[k];
      continue;
    }
    if (isPlainObject(v) && v.$patch === "delete") {
      delete out[k];
      continue;
    }
    const key = MERGE_KEYS[k] ?? (k === "ports" ? portsKey(out[k], v) : undefined);
    if (key && Array.isArray(v) && (Array.isArray(out[k]) || out[k] === undefined)) {
      const merged = clone((out[k] as unknown[] | undefined) ?? []) as unknown[];
      for (const item of v) {
        if (!isPlainObject(item)) continue;
        const idx = merged.findIndex((m) => isPlainObject(m) && m[key] === item[key]);
        if (item.$patch === "delete") {
          if (idx >= 0) merged.splice(idx, 1);
        } else if (idx >= 0) merged[idx] = strategicMergePatch(merged[idx], item);
        else merged.push(stripDirectives(item));
      }
      out[k] = merged;
      continue;
    }
    out[k] = isPlainObject(v) ? strategicMergePatch(out[k], v) : stripDirectives(v);
  }
  if (retain) for (const k of Object.keys(out)) if (!retain.has(k)) delete out[k];
  return out;
}

function portsKey(current: unknown, patch: unknown): string | undefined {
  const sample = [...(Array.isArray(patch) ? patch : []), ...(Array.isArray(current) ? current : [])].find(isPlainObject);
  if (!sample) return undefined;
  if ("containerPort" in sample) return "containerPort";
  if ("port" in sample) return "port";
  return undefined;
}

function stripDirectives(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripDirectives);
  if (!isPlainObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (!k.startsWith("$")) out[k] = stripDirectives(x);
  return out;
}

/** RFC 6902 JSON patch. A failing op (missing path, failed test) is a 422 like the real server. */
export function applyJsonPatch(doc: unknown, ops: unknown[]): unknown {
  let root = clone(doc);
  const fail = (msg: string) => errors.unprocessable(msg);
  const parentOf = (path: string[], create: boolean): [Record<string, unknown> | unknown[], string] => {
    let cur: unknown = root;
    for (const seg of path.slice(0, -1)) {
      if (Array.isArray(cur)) cur = cur[Number(seg)];
      else if (isPlainObject(cur)) {
        if (cur[seg] === undefined && create) cur[seg] = {};
        cur = cur[seg];
      } else cur = undefined;
      if (cur === undefined) throw fail(`doc is missing path: "/${path.join("/")}": missing value`);
    }
    if (!Array.isArray(cur) && !isPlainObject(cur)) throw fail(`doc is missing path: "/${path.join("/")}": missing value`);
    return [cur, path[path.length - 1]!];
  };
  const get = (path: string[]): unknown => {
    let cur: unknown = root;
    for (const seg of path) {
      if (Array.isArray(cur)) cur = cur[Number(seg)];
      else if (isPlainObject(cur)) cur = cur[seg];
      else return undefined;
    }
    return cur;
  };
  const add = (path: string[], value: unknown) => {
    if (path.length === 0) {
      root = clone(value);
      return;
    }
    const [p, last] = parentOf(path, false);
    if (Array.isArray(p)) {
      const i = last === "-" ? p.length : Number(last);
      if (!Number.isInteger(i) || i < 0 || i > p.length) throw fail(`add operation does not apply: index ${last} out of bounds`);
      p.splice(i, 0, clone(value));
    } else p[last] = clone(value);
  };
  const remove = (path: string[]) => {
    const [p, last] = parentOf(path, false);
    if (Array.isArray(p)) {
      const i = Number(last);
      if (!Number.isInteger(i) || i < 0 || i >= p.length) throw fail(`remove operation does not apply: doc is missing path: "/${path.join("/")}"`);
      p.splice(i, 1);
    } else {
      if (!(last in p)) throw fail(`remove operation does not apply: doc is missing path: "/${path.join("/")}": missing value`);
      delete p[last];
    }
  };
  for (const raw of ops) {
    if (!isPlainObject(raw) || typeof raw.op !== "string" || typeof raw.path !== "string") throw errors.badRequest("invalid JSON patch operation");
    const path = decodePointer(raw.path);
    switch (raw.op) {
      case "add":
        add(path, raw.value);
        break;
      case "remove":
        remove(path);
        break;
      case "replace":
        if (get(path) === undefined) throw fail(`replace operation does not apply: doc is missing key: /${path.join("/")}: missing value`);
        if (path.length === 0) root = clone(raw.value);
        else {
          const [p, last] = parentOf(path, false);
          if (Array.isArray(p)) p[Number(last)] = clone(raw.value);
          else p[last] = clone(raw.value);
        }
        break;
      case "move":
      case "copy": {
        const from = decodePointer(String(raw.from ?? ""));
        const v = get(from);
        if (v === undefined) throw fail(`${raw.op} operation does not apply: doc is missing from path: ${String(raw.from)}`);
        if (raw.op === "move") remove(from);
        add(path, v);
        break;
      }
      case "test":
        if (!deepEqual(get(path), raw.value)) throw fail(`testing value /${path.join("/")} failed: test failed`);
        break;
      default:
        throw errors.badRequest(`Unexpected kind: ${raw.op}`);
    }
  }
  return root;
}

// ---- server-side apply field sets (maps are granular, lists and scalars are atomic) ---------------------------

const IGNORED_TOP = new Set(["apiVersion", "kind"]);
const IGNORED_META = new Set(["name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"]);

/** The leaf paths (JSON-encoded key arrays) an object sets. */
function leavesOf(obj: unknown, forApply = false): Set<string> {
  const out = new Set<string>();
  const walk = (v: unknown, path: string[]) => {
    if (isPlainObject(v) && (Object.keys(v).length > 0 || path.length === 0)) {
      for (const [k, child] of Object.entries(v)) {
        if (path.length === 0 && IGNORED_TOP.has(k)) continue;
        if (path.length === 1 && path[0] === "metadata" && IGNORED_META.has(k)) continue;
        if (child === undefined || (child === null && forApply)) continue;
        walk(child, [...path, k]);
      }
    } else if (path.length > 0) out.add(JSON.stringify(path));
  };
  walk(obj, []);
  return out;
}

function changedLeaves(a: KubeObject, b: KubeObject): Set<string> {
  const la = leavesOf(a);
  const lb = leavesOf(b);
  const out = new Set<string>();
  for (const p of lb) if (!deepEqual(valueAt(a, JSON.parse(p)), valueAt(b, JSON.parse(p)))) out.add(p);
  for (const p of la) if (!lb.has(p) && valueAt(b, JSON.parse(p)) === undefined) out.add(p);
  return out;
}

/**
 * Whether applying leaf `p` touches field `q` owned by someone else: the same field, or one of them is an atomic
 * value (scalar or list) that contains the other. Owning a map does not own fields later added inside it.
 */
function clashes(p: string, q: string, live: unknown, applied: unknown): boolean {
  if (p === q) return true;
  if (!overlaps(p, q)) return false;
  const a = JSON.parse(p) as string[];
  const b = JSON.parse(q) as string[];
  const shorter = a.length < b.length ? a : b;
  return !isPlainObject(valueAt(live, shorter)) || !isPlainObject(valueAt(applied, shorter));
}

function overlaps(p: string, q: string): boolean {
  const a = JSON.parse(p) as string[];
  const b = JSON.parse(q) as string[];
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

function valueAt(obj: unknown, path: string[]): unknown {
  let cur = obj;
  for (const seg of path) {
    if (!isPlainObject(cur)) return undefined;
    cur = cur[seg];
  }
  return cur;
}

function removeAt(obj: unknown, path: string[]): unknown {
  const root = clone(obj);
  const parents: Record<string, unknown>[] = [];
  let cur: unknown = root;
  for (const seg of path.slice(0, -1)) {
    if (!isPlainObject(cur)) return root;
    parents.push(cur);
    cur = cur[seg];
  }
  if (!isPlainObject(cur)) return root;
  delete cur[path[path.length - 1]!];
  // prune maps emptied by the removal (not metadata itself)
  let child = cur;
  for (let i = parents.length - 1; i >= 0; i--) {
    const seg = path[i]!;
    if (Object.keys(child).length > 0 || (i === 0 && seg === "metadata")) break;
    delete parents[i]![seg];
    child = parents[i]!;
  }
  return root;
}

function pathText(path: string[]): string {
  return path.map((s) => `.${s}`).join("");
}

function deepMergeApply(live: unknown, applied: unknown): unknown {
  if (!isPlainObject(applied) || !isPlainObject(live)) return clone(applied);
  const out = clone(live);
  for (const [k, v] of Object.entries(applied)) {
    if (v === null) delete out[k];
    else out[k] = deepMergeApply(out[k], v);
  }
  return out;
}

function stripNulls<T>(v: T): T {
  if (Array.isArray(v)) return v.map(stripNulls) as T;
  if (!isPlainObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== null) out[k] = stripNulls(x);
  return out as T;
}

function stripForApply(obj: KubeObject): KubeObject {
  const c = clone(obj);
  for (const f of IGNORED_META) if (f !== "name" && f !== "namespace") delete c.metadata[f];
  return c;
}

function setKey(manager: string, op: "Apply" | "Update", sub?: string): string {
  return JSON.stringify([manager, op, sub ?? ""]);
}
function parseSetKey(k: string): [string, "Apply" | "Update", string] {
  return JSON.parse(k) as [string, "Apply" | "Update", string];
}

function fieldSets(entries: ManagedFieldsEntry[] | undefined): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const e of entries ?? []) {
    const set = new Set<string>();
    const walk = (node: Record<string, unknown>, path: string[]) => {
      const keys = Object.keys(node).filter((k) => k.startsWith("f:"));
      if (keys.length === 0 && path.length > 0) set.add(JSON.stringify(path));
      for (const k of keys) walk((node[k] ?? {}) as Record<string, unknown>, [...path, k.slice(2)]);
    };
    walk(e.fieldsV1, []);
    out.set(setKey(e.manager, e.operation, e.subresource), set);
  }
  return out;
}

function toFieldsV1(set: Set<string>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const p of [...set].sort()) {
    let cur = root;
    for (const seg of JSON.parse(p) as string[]) {
      const k = `f:${seg}`;
      cur[k] ??= {};
      cur = cur[k] as Record<string, unknown>;
    }
  }
  return root;
}

function managedEntry(manager: string, op: "Apply" | "Update", apiVersion: string, time: string, set: Set<string>, sub?: string): ManagedFieldsEntry {
  return { manager, operation: op, apiVersion, time, fieldsType: "FieldsV1", fieldsV1: toFieldsV1(set), ...(sub ? { subresource: sub } : {}) };
}

function toManagedFields(sets: Map<string, Set<string>>, previous: ManagedFieldsEntry[], apiVersion: string, now: string, touched: string): ManagedFieldsEntry[] {
  const out: ManagedFieldsEntry[] = [];
  for (const [k, set] of sets) {
    if (set.size === 0) continue;
    const [manager, op, sub] = parseSetKey(k);
    const prev = previous.find((e) => setKey(e.manager, e.operation, e.subresource) === k);
    out.push(managedEntry(manager, op, k === touched ? apiVersion : (prev?.apiVersion ?? apiVersion), k === touched ? now : (prev?.time ?? now), set, sub || undefined));
  }
  return out;
}

function randomSuffix(): string {
  const chars = "bcdfghjklmnpqrstvwxz2456789";
  let s = "";
  for (let i = 0; i < 5; i++) s += chars[Math.floor(Math.random() * chars.length)];
  return s;
}
