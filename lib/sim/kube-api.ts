/**
 * The simulated cluster's Kubernetes API: HTTPS with mutual TLS on 127.0.0.1, serving discovery and the REST
 * conventions of kube-apiserver over a SimStore, so the real kubectl and @kubernetes/client-node talk to it through
 * an ordinary kubeconfig. All semantics live in the store; this layer routes, decodes and serialises.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { apiVersionOf, type KindInfo } from "./kinds.ts";
import { toTable, wantsTable } from "./kube-api-table.ts";
import { createPki, type Pki, writeKubeconfig } from "./pki.ts";
import {
  applyJsonPatch,
  errors,
  isStatusError,
  mergePatch,
  type KubeObject,
  PATCH_CONTENT_TYPES,
  type SimStore,
  type Status,
  StatusError,
  statusFailure,
  type StoredObject,
  type WatchEvent,
} from "./store.ts";

export interface KubeApiOptions {
  store: SimStore;
  /** Added before every response (benchmarks, slow-API rehearsals). */
  latencyMs?: number;
  /** Where the PKI and kubeconfig go (created 0700). Default: a fresh temp dir, removed by stop(). */
  dir?: string;
  /** What /version reports, e.g. the repo's `v1.31.1`. */
  kubernetesVersion?: string;
  /** Bookmark interval for watches with allowWatchBookmarks (real servers: about a minute). Default 1000 ms. */
  bookmarkIntervalMs?: number;
  /** Port to listen on; default random. */
  port?: number;
}

export interface KubeApi {
  /** `https://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** A kubeconfig (mode 0600) with the CA and the client certificate embedded. */
  kubeconfigPath: string;
  pki: Pki;
  dir: string;
  /** Requests served so far (for benchmarks and tests). */
  readonly requests: number;
  /** Watch streams open now. */
  readonly openWatches: number;
  /** Resolves when the next watch stream opens (tests: act once a client is watching). */
  nextWatch(): Promise<void>;
  /** Ends every open watch stream, as a server does when a watch times out (clients must resume). */
  closeWatches(): void;
  /** Closes every watch and the listener; removes the directory when startKubeApi made it. */
  stop(): Promise<void>;
}

const JSON_HEADERS = { "content-type": "application/json" } as const;
const VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

export async function startKubeApi(opts: KubeApiOptions): Promise<KubeApi> {
  const { store } = opts;
  const own = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), "home-ops-sim-kube-"));
  const pki = await createPki({ dir: join(dir, "pki") });
  const version = normaliseVersion(opts.kubernetesVersion ?? "v0.0.0-sim");
  const watches = new Set<() => void>();
  let watchWaiters: (() => void)[] = [];
  let requests = 0;

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: opts.port ?? 0,
    idleTimeout: 0,
    tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.caCert, requestCert: true, rejectUnauthorized: true },
    async fetch(req) {
      requests++;
      if (opts.latencyMs) await Bun.sleep(opts.latencyMs);
      try {
        return await route(req);
      } catch (e) {
        if (isStatusError(e)) return statusResponse(e.status);
        const message = e instanceof Error ? e.message : String(e);
        return statusResponse(statusFailure(500, "InternalError", `Internal error occurred: ${message}`));
      }
    },
  });
  const port = server.port ?? 0;
  const url = `https://127.0.0.1:${port}`;
  const kubeconfigPath = join(dir, "kubeconfig");
  writeKubeconfig(kubeconfigPath, { server: url, pki });

  async function route(req: Request): Promise<Response> {
    const u = new URL(req.url);
    const path = u.pathname.replace(/\/+$/, "") || "/";
    const segs = path.split("/").filter((s) => s !== "").map(decodeURIComponent);
    if (req.method === "GET") {
      if (path === "/version") return json(versionInfo(version));
      if (path === "/healthz" || path === "/livez" || path === "/readyz") return new Response("ok", { headers: { "content-type": "text/plain" } });
      if (path === "/api") return json({ kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: `127.0.0.1:${port}` }] });
      if (path === "/apis") return json(groupList());
      if (path === "/api/v1") return json(resourceList("", "v1"));
      if (segs[0] === "apis" && segs.length === 2) {
        const g = groupList().groups.find((x) => x.name === segs[1]);
        return g ? json({ kind: "APIGroup", apiVersion: "v1", ...g }) : notFoundPath();
      }
      if (segs[0] === "apis" && segs.length === 3) {
        const list = resourceList(segs[1]!, segs[2]!);
        return list.resources.length > 0 ? json(list) : notFoundPath();
      }
      // kubectl's --validate (default strict) asks /openapi/v3 whether PATCH takes fieldValidation; answering yes
      // keeps validation on the server side, which accepts any field (the simulation does not check schemas).
      if (path === "/openapi/v3") return json(openapiRoot());
      if (segs[0] === "openapi" && segs[1] === "v3" && segs.length >= 4) {
        const gv = segs.slice(2).join("/");
        const doc = openapiGroupVersion(gv);
        return doc ? json(doc) : notFoundPath();
      }
      if (segs[0] === "openapi") return notFoundPath();
    }
    const r = parseResourcePath(segs);
    if (!r) return notFoundPath();
    const k = store.kinds.byResource(r.group, r.version, r.plural);
    if (!k) return notFoundPath();
    if (r.namespace !== undefined && !k.namespaced) return notFoundPath();
    if (r.name === undefined && r.namespace === undefined && k.namespaced === false && r.subresource) return notFoundPath();
    const asked = { group: r.group, version: r.version, resource: r.plural };
    const q = u.searchParams;
    const dryRun = q.getAll("dryRun").includes("All");
    if (r.subresource === "scale" && r.name !== undefined && hasScale(k)) return scale(req, k, asked, r.name, r.namespace, dryRun);
    if (r.subresource !== undefined && r.subresource !== "status") return notFoundPath();
    const fieldManager = q.get("fieldManager") ?? defaultManager(req);
    const fv = q.get("fieldValidation");
    const fieldValidation = fv === "Strict" || fv === "Warn" || fv === "Ignore" ? { fieldValidation: fv as "Strict" | "Warn" | "Ignore" } : {};

    if (r.name === undefined) {
      switch (req.method) {
        case "GET": {
          const listOpts = {
            ...(r.namespace ? { namespace: r.namespace } : {}),
            ...(q.get("labelSelector") ? { labelSelector: q.get("labelSelector")! } : {}),
            ...(q.get("fieldSelector") ? { fieldSelector: q.get("fieldSelector")! } : {}),
          };
          if (q.get("watch") === "true" || q.get("watch") === "1") return watchResponse(req, k, asked, { ...listOpts, q });
          const list = store.list(asked, listOpts);
          if (wantsTable(req.headers.get("accept"))) return json(toTable(k, list.items, list.resourceVersion));
          return json({ apiVersion: apiVersionOf(k, r.version), kind: k.listKind, metadata: { resourceVersion: list.resourceVersion }, items: list.items });
        }
        case "POST": {
          const body = (await readBody(req)) as KubeObject;
          if (!body || typeof body !== "object") throw errors.badRequest("the request body must be an object");
          body.metadata ??= {};
          if (k.namespaced) {
            if (body.metadata.namespace && r.namespace && body.metadata.namespace !== r.namespace) {
              throw errors.badRequest("the namespace of the provided object does not match the namespace sent on the request");
            }
            body.metadata.namespace = r.namespace ?? body.metadata.namespace;
          }
          checkKind(body, k, r.version);
          const created = store.create(body, { fieldManager, dryRun, ...fieldValidation });
          return json(created, 201);
        }
        case "DELETE": {
          const list = store.list(asked, {
            ...(r.namespace ? { namespace: r.namespace } : {}),
            ...(q.get("labelSelector") ? { labelSelector: q.get("labelSelector")! } : {}),
            ...(q.get("fieldSelector") ? { fieldSelector: q.get("fieldSelector")! } : {}),
          });
          const items = list.items.map((o) => store.delete(asked, o.metadata.name, o.metadata.namespace, { dryRun }));
          return json({ apiVersion: apiVersionOf(k, r.version), kind: k.listKind, metadata: { resourceVersion: store.resourceVersion }, items });
        }
        default:
          throw errors.methodNotAllowed(`the server does not allow this method on the requested resource`);
      }
    }

    const name = r.name;
    switch (req.method) {
      case "GET": {
        const obj = store.get(asked, name, r.namespace);
        if (wantsTable(req.headers.get("accept"))) return json(toTable(k, [obj], obj.metadata.resourceVersion));
        return json(obj);
      }
      case "PUT": {
        const body = (await readBody(req)) as KubeObject;
        if (!body || typeof body !== "object") throw errors.badRequest("the request body must be an object");
        body.metadata ??= {};
        if (body.metadata.name !== undefined && body.metadata.name !== name) {
          throw errors.badRequest(`the name of the object (${body.metadata.name}) does not match the name on the URL (${name})`);
        }
        body.metadata.name = name;
        if (k.namespaced) body.metadata.namespace = r.namespace;
        checkKind(body, k, r.version);
        return json(store.update(body, { fieldManager, dryRun, ...fieldValidation, ...(r.subresource ? { subresource: "status" as const } : {}) }));
      }
      case "PATCH": {
        const ctype = (req.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
        const type = PATCH_CONTENT_TYPES[ctype];
        if (!type) {
          return statusResponse(statusFailure(415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: ${Object.keys(PATCH_CONTENT_TYPES).join(", ")}`));
        }
        const text = await req.text();
        let patch: unknown;
        try {
          patch = type === "apply" ? parseJsonOrYaml(text) : JSON.parse(text);
        } catch (e) {
          throw errors.badRequest(`error decoding patch: ${e instanceof Error ? e.message : String(e)}`);
        }
        if (type === "apply") {
          const p = patch as KubeObject;
          if (p && typeof p === "object" && p.apiVersion && p.kind) checkKind(p, k, r.version);
          if (k.namespaced && p?.metadata?.namespace && r.namespace && p.metadata.namespace !== r.namespace) {
            throw errors.badRequest("the namespace of the provided object does not match the namespace sent on the request");
          }
        }
        const existed = type === "apply" ? store.tryGet(asked, name, r.namespace) !== undefined : true;
        const force = q.get("force") === "true";
        const manager = q.get("fieldManager") ?? (type === "apply" ? undefined : fieldManager);
        const result = store.patch(asked, name, r.namespace, patch, {
          type,
          ...(manager ? { fieldManager: manager } : {}),
          force,
          dryRun,
          ...fieldValidation,
          ...(r.subresource ? { subresource: "status" as const } : {}),
        });
        return json(result, existed ? 200 : 201);
      }
      case "DELETE": {
        let body: { preconditions?: { resourceVersion?: string; uid?: string } } | undefined;
        const text = await req.text();
        if (text.trim() !== "") {
          try {
            body = JSON.parse(text) as typeof body;
          } catch {
            throw errors.badRequest("the DeleteOptions body is not valid JSON");
          }
        }
        const deleted = store.delete(asked, name, r.namespace, { ...(body?.preconditions ? { preconditions: body.preconditions } : {}), dryRun });
        return json(deleted);
      }
      default:
        throw errors.methodNotAllowed("the server does not allow this method on the requested resource");
    }
  }

  /** The autoscaling/v1 Scale subresource of Deployments and StatefulSets (`kubectl scale`). */
  async function scale(req: Request, k: KindInfo, asked: { group: string; version: string; resource: string }, name: string, namespace: string | undefined, dryRun: boolean): Promise<Response> {
    const toScale = (o: StoredObject) => ({
      kind: "Scale",
      apiVersion: "autoscaling/v1",
      metadata: { name, namespace: o.metadata.namespace, uid: o.metadata.uid, resourceVersion: o.metadata.resourceVersion, creationTimestamp: o.metadata.creationTimestamp },
      spec: { replicas: o.spec?.replicas ?? 1 },
      status: { replicas: o.status?.replicas ?? 0, ...(o.spec?.selector?.matchLabels ? { selector: Object.entries(o.spec.selector.matchLabels as Record<string, string>).map(([a, b]) => `${a}=${b}`).join(",") } : {}) },
    });
    const current = store.get(asked, name, namespace);
    if (req.method === "GET") return json(toScale(current));
    let wanted: unknown;
    if (req.method === "PUT") {
      const body = (await readBody(req)) as { spec?: { replicas?: unknown }; metadata?: { resourceVersion?: string } };
      if (body.metadata?.resourceVersion && body.metadata.resourceVersion !== current.metadata.resourceVersion) throw errors.conflict(k, name);
      wanted = body.spec?.replicas;
    } else if (req.method === "PATCH") {
      const ctype = (req.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
      const type = PATCH_CONTENT_TYPES[ctype];
      const text = await req.text();
      const patched =
        type === "json" ? applyJsonPatch(toScale(current), JSON.parse(text) as unknown[]) : type ? mergePatch(toScale(current), parseJsonOrYaml(text)) : undefined;
      if (patched === undefined) throw errors.badRequest("unsupported patch type for the scale subresource");
      wanted = (patched as { spec?: { replicas?: unknown } }).spec?.replicas;
    } else throw errors.methodNotAllowed("the server does not allow this method on the requested resource");
    if (typeof wanted !== "number" || !Number.isInteger(wanted) || wanted < 0) {
      throw errors.invalid(k, name, [{ field: "spec.replicas", message: `Invalid value: ${JSON.stringify(wanted)}: must be greater than or equal to 0` }]);
    }
    const updated = store.patch(asked, name, namespace, { spec: { replicas: wanted } }, { type: "merge", fieldManager: q(req).get("fieldManager") ?? defaultManager(req), dryRun });
    return json(toScale(updated));
  }

  function watchResponse(
    req: Request,
    k: KindInfo,
    asked: { group: string; version: string; resource: string },
    o: { namespace?: string; labelSelector?: string; fieldSelector?: string; q: URLSearchParams },
  ): Response {
    const table = wantsTable(req.headers.get("accept"));
    const enc = new TextEncoder();
    const q = o.q;
    const rv = q.get("resourceVersion") ?? "";
    const bookmarks = q.get("allowWatchBookmarks") === "true";
    const sendInitial = q.get("sendInitialEvents") === "true";
    const timeoutSeconds = Number(q.get("timeoutSeconds") ?? "0");
    let cleanup = () => {};
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        let closed = false;
        const write = (ev: { type: string; object: unknown }) => {
          if (closed) return;
          try {
            controller.enqueue(enc.encode(`${JSON.stringify(ev)}\n`));
          } catch {
            finish();
          }
        };
        const encode = (ev: WatchEvent) => {
          if (ev.type === "BOOKMARK" || !table) return { type: ev.type, object: ev.object };
          return { type: ev.type, object: toTable(k, [ev.object], ev.object.metadata.resourceVersion) };
        };
        let watcher: { stop(): void } | undefined;
        let timer: ReturnType<typeof setTimeout> | undefined;
        const finish = () => {
          if (closed) return;
          closed = true;
          watcher?.stop();
          if (timer) clearTimeout(timer);
          watches.delete(finish);
          try {
            controller.close();
          } catch {
            // already closed by the client
          }
        };
        cleanup = finish;
        watches.add(finish);
        // Bun sends the response headers only with the first body byte; a real API server answers a watch at once
        // (clients wait for the headers before they consider the watch open). JSON stream readers skip whitespace.
        controller.enqueue(enc.encode("\n"));
        const waiters = watchWaiters;
        watchWaiters = [];
        queueMicrotask(() => {
          for (const w of waiters) w();
        });
        req.signal.addEventListener("abort", finish);
        if (timeoutSeconds > 0) timer = setTimeout(finish, timeoutSeconds * 1000);
        const filters = {
          ...(o.namespace ? { namespace: o.namespace } : {}),
          ...(o.labelSelector ? { labelSelector: o.labelSelector } : {}),
          ...(o.fieldSelector ? { fieldSelector: o.fieldSelector } : {}),
        };
        try {
          // "0" and "" both start with the current state; a specific version replays what came after it.
          // sendInitialEvents=true (watch-list): current state then a bookmark marking the end of it.
          const startRv = sendInitial ? "" : rv;
          let initialDone = !sendInitial;
          watcher = store.watch(
            asked,
            { ...filters, resourceVersion: startRv, ...(bookmarks ? { allowBookmarks: true, bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 1000 } : {}) },
            (ev) => {
              if (ev.type === "BOOKMARK") {
                if (!initialDone) return;
                write({ type: "BOOKMARK", object: bookmarkObject(k, asked.version, ev.object.metadata.resourceVersion) });
                return;
              }
              write(encode(ev));
            },
          );
          if (!initialDone) {
            initialDone = true;
            const bk = bookmarkObject(k, asked.version, store.resourceVersion);
            bk.metadata.annotations = { "k8s.io/initial-events-end": "true" };
            write({ type: "BOOKMARK", object: bk });
          }
        } catch (e) {
          if (isStatusError(e)) {
            write({ type: "ERROR", object: e.status });
            finish();
            return;
          }
          throw e;
        }
      },
      cancel() {
        cleanup();
      },
    });
    return new Response(stream, { status: 200, headers: { "content-type": "application/json", "transfer-encoding": "chunked", "cache-control": "no-cache, private" } });
  }

  function groupList() {
    const groups = new Map<string, Set<string>>();
    const preferred = new Map<string, string>();
    for (const k of store.kinds.all()) {
      if (k.group === "") continue;
      const set = groups.get(k.group) ?? new Set<string>();
      for (const v of k.versions) set.add(v);
      groups.set(k.group, set);
      if (!preferred.has(k.group)) preferred.set(k.group, k.version);
    }
    return {
      kind: "APIGroupList",
      apiVersion: "v1",
      groups: [...groups.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, versions]) => {
          const pref = preferred.get(name)!;
          const ordered = [pref, ...[...versions].filter((v) => v !== pref).sort()];
          return {
            name,
            versions: ordered.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
            preferredVersion: { groupVersion: `${name}/${pref}`, version: pref },
          };
        }),
    };
  }

  function groupVersions(): { gv: string; group: string; version: string }[] {
    const out = new Map<string, { gv: string; group: string; version: string }>();
    for (const k of store.kinds.all()) {
      for (const v of k.versions) {
        const gv = k.group === "" ? `api/${v}` : `apis/${k.group}/${v}`;
        out.set(gv, { gv, group: k.group, version: v });
      }
    }
    return [...out.values()].sort((a, b) => a.gv.localeCompare(b.gv));
  }

  function openapiRoot() {
    const paths: Record<string, { serverRelativeURL: string }> = {};
    for (const { gv, group, version } of groupVersions()) {
      const names = store.kinds.all().filter((k) => k.group === group && k.versions.includes(version)).map((k) => k.plural).sort().join(",");
      paths[gv] = { serverRelativeURL: `/openapi/v3/${gv}?hash=${Bun.hash(names).toString(16).toUpperCase()}` };
    }
    return { paths };
  }

  function openapiGroupVersion(gv: string) {
    const entry = groupVersions().find((x) => x.gv === gv);
    if (!entry) return undefined;
    const paths: Record<string, unknown> = {};
    const params = [
      { name: "fieldValidation", in: "query", description: "how the server treats unknown or duplicate fields", schema: { type: "string", uniqueItems: true } },
      { name: "fieldManager", in: "query", schema: { type: "string", uniqueItems: true } },
      { name: "dryRun", in: "query", schema: { type: "string", uniqueItems: true } },
      { name: "force", in: "query", schema: { type: "boolean", uniqueItems: true } },
    ];
    for (const k of store.kinds.all()) {
      if (k.group !== entry.group || !k.versions.includes(entry.version)) continue;
      const ext = { "x-kubernetes-group-version-kind": { group: k.group, version: entry.version, kind: k.kind } };
      const base = `/${gv}${k.namespaced ? "/namespaces/{namespace}" : ""}/${k.plural}`;
      const op = (id: string) => ({ operationId: `${id}${k.kind}`, parameters: params, responses: { "200": { description: "OK" } }, "x-kubernetes-action": id, ...ext });
      paths[base] = { post: op("post"), get: op("list") };
      paths[`${base}/{name}`] = { get: op("get"), put: op("put"), patch: op("patch"), delete: op("delete") };
    }
    return { openapi: "3.0.0", info: { title: "Kubernetes", version: "v0.0.0-sim" }, paths, components: { schemas: {} } };
  }

  function resourceList(group: string, version: string) {
    const resources: Record<string, unknown>[] = [];
    for (const k of store.kinds.all().sort((a, b) => a.plural.localeCompare(b.plural))) {
      if (k.group !== group || !k.versions.includes(version)) continue;
      resources.push({
        name: k.plural,
        singularName: k.singular,
        namespaced: k.namespaced,
        kind: k.kind,
        verbs: VERBS,
        ...(k.shortNames.length > 0 ? { shortNames: k.shortNames } : {}),
        ...(k.categories.length > 0 ? { categories: k.categories } : {}),
      });
      if (k.statusSubresource) resources.push({ name: `${k.plural}/status`, singularName: "", namespaced: k.namespaced, kind: k.kind, verbs: ["get", "patch", "update"] });
      if (hasScale(k)) {
        resources.push({ name: `${k.plural}/scale`, singularName: "", namespaced: true, group: "autoscaling", version: "v1", kind: "Scale", verbs: ["get", "patch", "update"] });
      }
    }
    return { kind: "APIResourceList", apiVersion: "v1", groupVersion: group === "" ? version : `${group}/${version}`, resources };
  }

  return {
    url,
    port,
    kubeconfigPath,
    pki,
    dir,
    get requests() {
      return requests;
    },
    get openWatches() {
      return watches.size;
    },
    nextWatch() {
      return new Promise<void>((resolve) => watchWaiters.push(resolve));
    },
    closeWatches() {
      for (const finish of [...watches]) finish();
    },
    async stop() {
      for (const finish of [...watches]) finish();
      await server.stop(true);
      if (own) rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------

interface ResourcePath {
  group: string;
  version: string;
  namespace?: string;
  plural: string;
  name?: string;
  subresource?: string;
}

/** `/api/v1[/namespaces/NS]/PLURAL[/NAME[/SUB]]` and `/apis/GROUP/VERSION[/namespaces/NS]/PLURAL[/NAME[/SUB]]`. */
export function parseResourcePath(segs: string[]): ResourcePath | undefined {
  let group: string;
  let version: string;
  let rest: string[];
  if (segs[0] === "api" && segs.length >= 3) {
    group = "";
    version = segs[1]!;
    rest = segs.slice(2);
  } else if (segs[0] === "apis" && segs.length >= 4) {
    group = segs[1]!;
    version = segs[2]!;
    rest = segs.slice(3);
  } else return undefined;
  let namespace: string | undefined;
  // /namespaces/NS/PLURAL... is namespaced; /namespaces, /namespaces/NAME, /namespaces/NAME/status|finalize is the Namespace itself
  if (rest[0] === "namespaces" && rest.length >= 3 && !(rest.length === 3 && (rest[2] === "status" || rest[2] === "finalize"))) {
    namespace = rest[1]!;
    rest = rest.slice(2);
  }
  if (rest.length < 1 || rest.length > 3) return undefined;
  return {
    group,
    version,
    ...(namespace !== undefined ? { namespace } : {}),
    plural: rest[0]!,
    ...(rest[1] !== undefined ? { name: rest[1] } : {}),
    ...(rest[2] !== undefined ? { subresource: rest[2] } : {}),
  };
}

function normaliseVersion(v: string): string {
  return v.startsWith("v") ? v : `v${v}`;
}

function versionInfo(gitVersion: string) {
  const m = gitVersion.match(/^v(\d+)\.(\d+)/);
  return {
    major: m?.[1] ?? "0",
    minor: m?.[2] ?? "0",
    gitVersion,
    gitCommit: "0000000000000000000000000000000000000000",
    gitTreeState: "clean",
    buildDate: "2026-01-01T00:00:00Z",
    goVersion: "go1.23.0",
    compiler: "gc",
    platform: "linux/amd64",
  };
}

function bookmarkObject(k: KindInfo, version: string, rv: string): { apiVersion: string; kind: string; metadata: { resourceVersion: string; annotations?: Record<string, string> } } {
  return { apiVersion: apiVersionOf(k, version), kind: k.kind, metadata: { resourceVersion: rv } };
}

function checkKind(body: KubeObject, k: KindInfo, version: string): void {
  body.apiVersion ||= apiVersionOf(k, version);
  body.kind ||= k.kind;
  const [g] = body.apiVersion.includes("/") ? [body.apiVersion.slice(0, body.apiVersion.lastIndexOf("/"))] : [""];
  if (body.kind !== k.kind || g !== k.group) {
    throw errors.badRequest(`the API version in the data (${body.apiVersion}) does not match the expected API version (${apiVersionOf(k, version)})`);
  }
}

function hasScale(k: KindInfo): boolean {
  return k.group === "apps" && (k.kind === "Deployment" || k.kind === "StatefulSet");
}

function q(req: Request): URLSearchParams {
  return new URL(req.url).searchParams;
}

function defaultManager(req: Request): string {
  // kube-apiserver derives the manager from the user agent's program name: "kubectl/v1.32 (...)" -> "kubectl"
  const ua = req.headers.get("user-agent") ?? "";
  const prog = ua.split("/")[0]?.trim();
  return prog ? prog : "unknown";
}

async function readBody(req: Request): Promise<unknown> {
  const text = await req.text();
  if (text.trim() === "") throw errors.badRequest("the request body is empty");
  const ctype = (req.headers.get("content-type") ?? "application/json").toLowerCase();
  try {
    return ctype.includes("yaml") ? parseJsonOrYaml(text) : JSON.parse(text);
  } catch (e) {
    throw errors.badRequest(`error decoding the request body: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** kubectl sends apply patches as JSON (valid YAML); Bun's native YAML parser covers the rest. */
function parseJsonOrYaml(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return Bun.YAML.parse(text);
  }
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: JSON_HEADERS });
}

function statusResponse(s: Status): Response {
  return json(s, s.code);
}

function notFoundPath(): Response {
  return statusResponse(statusFailure(404, "NotFound", "the server could not find the requested resource", { causes: [{ reason: "UnexpectedServerResponse", message: "404 page not found" }] }));
}

export type { StoredObject, StatusError };
