/**
 * The toolkit's Kubernetes client over @kubernetes/client-node 1.x (2.x loses the CA and client certificate under
 * Bun): typed get/list/apply/patch/delete for any apiVersion+kind, and waits built on watches with a deadline.
 */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, isAbsolute, join } from "node:path";
import http from "node:http";
import https from "node:https";
import { readFileSync } from "node:fs";
import type { KubeConfig } from "@kubernetes/client-node";
import { ConfigError, InterruptedError, OperationError } from "../cli/errors.ts";
import { isNotFound, KubeApiError, toKubeError } from "./errors.ts";

/** Any Kubernetes object as the API returns it. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    finalizers?: string[];
    [key: string]: unknown;
  };
  // biome-ignore lint: free-form per kind, narrowed by callers
  spec?: any;
  // biome-ignore lint: see above
  status?: any;
  [key: string]: unknown;
}

/** Which kind: `{apiVersion: "v1", kind: "Node"}`. */
export interface KindSpec {
  apiVersion: string;
  kind: string;
}

export interface ObjectRef extends KindSpec {
  name: string;
  /** Omit for cluster-scoped kinds; for namespaced kinds the kubeconfig's namespace (or "default"). */
  namespace?: string;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export type MergePatchType = "merge" | "json" | "strategic";

export const FIELD_MANAGER = "home-ops";

export interface WatchEvent<T extends KubeObject = KubeObject> {
  type: "ADDED" | "MODIFIED" | "DELETED";
  object: T;
}

export interface WaitForOptions<T extends KubeObject = KubeObject> extends KindSpec {
  name?: string;
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /**
   * Called with every matching object (sorted by namespace/name) after the first list and after each change:
   * true when done; false or a sentence saying what is still awaited. May throw to fail the wait early.
   */
  until: (objs: T[]) => boolean | string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called when the "still waiting" sentence changes. */
  onProgress?: (reason: string, objs: T[]) => void;
  /** What is awaited, for the timeout message ("3 nodes Ready"). Default: the kind and name. */
  description?: string;
}

interface ApiResource {
  name: string;
  namespaced: boolean;
  kind: string;
}


type ClientNode = typeof import("@kubernetes/client-node");
let clientNode: Promise<ClientNode> | undefined;
/** @kubernetes/client-node, loaded only for kubeconfigs whose credentials need it (see KubeClient). */
function loadClientNode(): Promise<ClientNode> {
  clientNode ??= import("@kubernetes/client-node");
  return clientNode;
}

interface KubeconfigCluster {
  server?: string;
  "certificate-authority"?: string;
  "certificate-authority-data"?: string;
  "insecure-skip-tls-verify"?: boolean;
  "tls-server-name"?: string;
  "proxy-url"?: string;
}
interface KubeconfigUser {
  "client-certificate"?: string;
  "client-certificate-data"?: string;
  "client-key"?: string;
  "client-key-data"?: string;
  token?: string;
  tokenFile?: string;
  [other: string]: unknown;
}
interface KubeconfigFile {
  "current-context"?: string;
  contexts?: { name?: string; context?: { cluster?: string; namespace?: string; user?: string } }[];
  clusters?: { name?: string; cluster?: KubeconfigCluster }[];
  users?: { name?: string; user?: KubeconfigUser }[];
}

/** TLS options and headers for one request. */
interface Credentials {
  tls: Pick<https.RequestOptions, "ca" | "cert" | "key" | "rejectUnauthorized" | "servername">;
  headers: Record<string, string>;
}

const FAST_USER_FIELDS = new Set(["client-certificate", "client-certificate-data", "client-key", "client-key-data", "token", "tokenFile"]);

/**
 * Requests and watch streams go over node:https. Certificates and tokens come straight from the kubeconfig (what
 * talosctl writes); any other kind of credential (exec plugins, auth providers, proxies) is applied by client-node's
 * KubeConfig, loaded only then. Not KubernetesObjectApi: it deserialises into typed models (timestamps become
 * Dates, fields unknown to the model vanish from built-in kinds) and cannot send a JSON patch; and not client-node's
 * Watch on the common path: loading client-node costs ~0.5-2 s under Bun (its index pulls in every generated API
 * model), which every live script would pay. tests/integration/sim-kube-client-node.test.ts proves client-node 1.x
 * itself (KubeConfig, KubernetesObjectApi, Watch) works against the simulated API too.
 */
export class KubeClient {
  /** The kubeconfig file this client uses. */
  readonly kubeconfigPath: string;
  readonly server: string;
  /** The current context's namespace (or "default"). */
  readonly defaultNamespace: string;
  private readonly discovery = new Map<string, ApiResource[]>();
  private agent: https.Agent | undefined;
  private kc: Promise<KubeConfig> | undefined;
  private readonly cluster: KubeconfigCluster;
  private readonly user: KubeconfigUser;

  private constructor(path: string, cluster: KubeconfigCluster & { server: string }, user: KubeconfigUser, namespace: string) {
    this.kubeconfigPath = path;
    this.server = cluster.server.replace(/\/+$/, "");
    this.cluster = cluster;
    this.user = user;
    this.defaultNamespace = namespace;
  }

  /**
   * From the environment like kubectl: KUBECONFIG (first existing file of a list), else ~/.kube/config.
   * ConfigError when there is none or it does not parse.
   */
  static fromEnv(env: Record<string, string | undefined> = process.env): KubeClient {
    const list = (env.KUBECONFIG ?? "").split(delimiter).filter((p) => p !== "");
    const home = env.HOME ?? homedir();
    const candidates = list.length > 0 ? list : [join(home, ".kube", "config")];
    const path = candidates.find((p) => existsSync(p));
    if (!path) {
      throw list.length > 0
        ? new ConfigError(`KUBECONFIG points at ${list.join(delimiter)}, which does not exist`, "generate it with `talosctl kubeconfig` (or bootstrap the cluster first)")
        : new ConfigError("KUBECONFIG is not set and ~/.kube/config does not exist", "run through mise (it sets KUBECONFIG) or export KUBECONFIG=clusterconfig/kubeconfig");
    }
    return KubeClient.fromKubeconfig(path);
  }

  /** Reads the file now (ConfigError when it is unreadable or has no usable current context). */
  static fromKubeconfig(path: string): KubeClient {
    let doc: KubeconfigFile;
    try {
      doc = (Bun.YAML.parse(readFileSync(path, "utf8")) ?? {}) as KubeconfigFile;
    } catch (e) {
      throw new ConfigError(`cannot read the kubeconfig ${path}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`, "check KUBECONFIG", e);
    }
    const ctxName = doc["current-context"];
    const ctx = doc.contexts?.find((c) => c.name === ctxName)?.context;
    const cluster = doc.clusters?.find((c) => c.name === ctx?.cluster)?.cluster;
    const server = cluster?.server;
    if (!ctxName || !ctx || !cluster || !server) {
      throw new ConfigError(`the kubeconfig ${path} has no current context with a cluster server`, "check its current-context, contexts and clusters");
    }
    const user = doc.users?.find((u) => u.name === ctx.user)?.user ?? {};
    return new KubeClient(path, { ...cluster, server }, user, ctx.namespace ?? "default");
  }

  /** client-node's KubeConfig for this file (loaded on first use). */
  kubeConfig(): Promise<KubeConfig> {
    this.kc ??= loadClientNode().then((m) => {
      const kc = new m.KubeConfig();
      try {
        kc.loadFromFile(this.kubeconfigPath);
      } catch (e) {
        throw new ConfigError(`cannot read the kubeconfig ${this.kubeconfigPath}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`, "check KUBECONFIG", e);
      }
      return kc;
    });
    return this.kc;
  }

  /** Closes kept-alive connections (lets a script exit promptly). */
  close(): void {
    this.agent?.destroy();
    this.agent = undefined;
  }

  /**
   * Certificates and tokens straight from the kubeconfig (what talosctl writes); anything else (exec plugins, auth
   * providers, proxies) goes through client-node's KubeConfig, which is then loaded.
   */
  private async credentials(): Promise<Credentials> {
    const fast = Object.keys(this.user).every((k) => FAST_USER_FIELDS.has(k)) && !this.cluster["proxy-url"];
    if (!fast) {
      const opts: https.RequestOptions = { headers: {} };
      const kc = await this.kubeConfig();
      try {
        await kc.applyToHTTPSOptions(opts);
      } catch (e) {
        throw new ConfigError(`cannot use the credentials in KUBECONFIG: ${e instanceof Error ? e.message : String(e)}`, "check KUBECONFIG", e);
      }
      return {
        tls: { ca: opts.ca, cert: opts.cert, key: opts.key, ...(opts.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}), ...(opts.servername ? { servername: opts.servername } : {}) },
        headers: (opts.headers ?? {}) as Record<string, string>,
      };
    }
    const base = dirname(this.kubeconfigPath);
    const read = (file: string | undefined, data: string | undefined, what: string): Buffer | undefined => {
      if (data) return Buffer.from(data, "base64");
      if (!file) return undefined;
      try {
        return readFileSync(isAbsolute(file) ? file : join(base, file));
      } catch (e) {
        throw new ConfigError(`cannot read the ${what} ${file} named in the kubeconfig ${this.kubeconfigPath}`, "check KUBECONFIG", e);
      }
    };
    const headers: Record<string, string> = {};
    const token = this.user.token ?? (this.user.tokenFile ? read(this.user.tokenFile, undefined, "token file")?.toString("utf8").trim() : undefined);
    if (token) headers.authorization = `Bearer ${token}`;
    const ca = read(this.cluster["certificate-authority"], this.cluster["certificate-authority-data"], "certificate authority");
    const cert = read(this.user["client-certificate"], this.user["client-certificate-data"], "client certificate");
    const key = read(this.user["client-key"], this.user["client-key-data"], "client key");
    return {
      tls: {
        ...(ca ? { ca } : {}),
        ...(cert ? { cert } : {}),
        ...(key ? { key } : {}),
        ...(this.cluster["insecure-skip-tls-verify"] ? { rejectUnauthorized: false } : {}),
        ...(this.cluster["tls-server-name"] ? { servername: this.cluster["tls-server-name"] } : {}),
      },
      headers,
    };
  }

  /** Sends one request; resolves with the response (body unread). */
  private async send(method: string, url: URL, payload: string | undefined, contentType: string | undefined): Promise<http.IncomingMessage & { req: http.ClientRequest }> {
    const cred = await this.credentials();
    const isHttps = url.protocol === "https:";
    if (isHttps && !this.agent) this.agent = new https.Agent({ keepAlive: true, ...cred.tls });
    const headers: Record<string, string> = {
      ...cred.headers,
      accept: "application/json",
      "user-agent": "home-ops",
      ...(payload !== undefined ? { "content-type": contentType ?? "application/json", "content-length": String(Buffer.byteLength(payload)) } : {}),
    };
    return new Promise((resolve, reject) => {
      const mod = isHttps ? https : http;
      const req = mod.request(url, { method, headers, ...(isHttps ? { agent: this.agent, ...cred.tls } : {}) } as https.RequestOptions, (r) =>
        resolve(Object.assign(r, { req })),
      );
      req.on("error", reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** One API request; JSON in and out; errors become KubeApiError / OperationError / ConfigError. */
  async request<R = unknown>(
    method: string,
    path: string,
    o: { query?: Record<string, string | undefined>; body?: unknown; contentType?: string; action?: string } = {},
  ): Promise<R> {
    const action = o.action ?? `${method} ${path}`;
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(o.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const payload = o.body === undefined ? undefined : typeof o.body === "string" ? o.body : JSON.stringify(o.body);
    let res: { status: number; text: string };
    try {
      const r = await this.send(method, url, payload, o.contentType);
      res = await new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        r.on("data", (c: Buffer) => chunks.push(c));
        r.on("end", () => resolve({ status: r.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        r.on("error", reject);
      });
    } catch (e) {
      throw toKubeError(e, this.server, action);
    }
    if (res.status < 200 || res.status >= 300) throw toKubeError({ code: res.status, body: res.text }, this.server, action);
    if (res.text.trim() === "") return undefined as R;
    try {
      return JSON.parse(res.text) as R;
    } catch {
      throw new OperationError(`cannot ${action}: the API answered something that is not JSON (${res.text.slice(0, 80)})`);
    }
  }

  private describe(ref: ObjectRef): string {
    return `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ""}${ref.name}`;
  }

  /** The API resource (plural, scope) of a kind, from discovery (cached; refreshed once on a miss). */
  async resourceFor(kind: KindSpec): Promise<ApiResource> {
    const find = () => this.discovery.get(kind.apiVersion)?.find((r) => r.kind === kind.kind && !r.name.includes("/"));
    let r = find();
    if (!r) {
      const path = kind.apiVersion.includes("/") ? `/apis/${kind.apiVersion}` : `/api/${kind.apiVersion}`;
      try {
        const list = await this.request<{ resources?: ApiResource[] }>("GET", path, { action: `discover ${kind.apiVersion}` });
        this.discovery.set(kind.apiVersion, list?.resources ?? []);
      } catch (e) {
        if (!isNotFound(e)) throw e;
        this.discovery.set(kind.apiVersion, []);
      }
      r = find();
    }
    if (!r) {
      throw new KubeApiError(
        `the cluster has no ${kind.kind} in ${kind.apiVersion} (is its CRD installed?)`,
        { reason: "NotFound", code: 404 },
        404,
        `kubectl api-resources | grep -i ${kind.kind.toLowerCase()}`,
      );
    }
    return r;
  }

  /** `/api/v1/nodes`, `/apis/apps/v1/namespaces/ns/deployments` (all namespaces when namespace is undefined). */
  async collectionPath(kind: KindSpec, namespace?: string): Promise<string> {
    const r = await this.resourceFor(kind);
    const base = kind.apiVersion.includes("/") ? `/apis/${kind.apiVersion}` : `/api/${kind.apiVersion}`;
    return r.namespaced && namespace ? `${base}/namespaces/${encodeURIComponent(namespace)}/${r.name}` : `${base}/${r.name}`;
  }

  private async objectPath(ref: ObjectRef): Promise<string> {
    const r = await this.resourceFor(ref);
    const ns = r.namespaced ? (ref.namespace ?? this.defaultNamespace) : undefined;
    return `${await this.collectionPath(ref, ns)}/${encodeURIComponent(ref.name)}`;
  }

  async get<T extends KubeObject = KubeObject>(ref: ObjectRef): Promise<T> {
    return this.request<T>("GET", await this.objectPath(ref), { action: `get ${this.describe(ref)}` });
  }

  /** get, or undefined when the object (or its kind) does not exist. */
  async tryGet<T extends KubeObject = KubeObject>(ref: ObjectRef): Promise<T | undefined> {
    try {
      return await this.get<T>(ref);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async list<T extends KubeObject = KubeObject>(kind: KindSpec, opts: ListOptions = {}): Promise<{ items: T[]; resourceVersion: string }> {
    const path = await this.collectionPath(kind, opts.namespace);
    const res = await this.request<{ items?: T[]; metadata?: { resourceVersion?: string } }>("GET", path, {
      query: { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector },
      action: `list ${kind.kind}`,
    });
    const items = (res?.items ?? []).map((o) => ({ ...o, apiVersion: o.apiVersion ?? kind.apiVersion, kind: o.kind ?? kind.kind }));
    return { items, resourceVersion: res?.metadata?.resourceVersion ?? "" };
  }

  /** Server-side apply (fieldManager "home-ops"); creates the object when absent. */
  async apply<T extends KubeObject = KubeObject>(obj: KubeObject, opts: { force?: boolean; dryRun?: boolean; fieldManager?: string } = {}): Promise<T> {
    const ref: ObjectRef = { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata?.name ?? "", ...(obj.metadata?.namespace ? { namespace: obj.metadata.namespace } : {}) };
    if (!ref.name) throw new ConfigError(`cannot apply a ${obj.kind} without metadata.name`);
    return this.request<T>("PATCH", await this.objectPath(ref), {
      query: { fieldManager: opts.fieldManager ?? FIELD_MANAGER, force: opts.force ? "true" : undefined, dryRun: opts.dryRun ? "All" : undefined },
      body: obj,
      contentType: "application/apply-patch+yaml",
      action: `apply ${this.describe(ref)}`,
    });
  }

  /** Merge patch (default), JSON patch (array of ops) or strategic merge patch; `subresource: "status"` patches status. */
  async patch<T extends KubeObject = KubeObject>(
    ref: ObjectRef,
    patch: unknown,
    type: MergePatchType = "merge",
    opts: { dryRun?: boolean; subresource?: "status"; fieldManager?: string } = {},
  ): Promise<T> {
    const contentType = type === "json" ? "application/json-patch+json" : type === "strategic" ? "application/strategic-merge-patch+json" : "application/merge-patch+json";
    return this.request<T>("PATCH", `${await this.objectPath(ref)}${opts.subresource ? `/${opts.subresource}` : ""}`, {
      query: { fieldManager: opts.fieldManager ?? FIELD_MANAGER, dryRun: opts.dryRun ? "All" : undefined },
      body: patch,
      contentType,
      action: `patch ${this.describe(ref)}`,
    });
  }

  /** Creates (POST); KubeApiError 409 when it exists. */
  async create<T extends KubeObject = KubeObject>(obj: KubeObject, opts: { dryRun?: boolean } = {}): Promise<T> {
    const r = await this.resourceFor(obj);
    const ns = r.namespaced ? (obj.metadata?.namespace ?? this.defaultNamespace) : undefined;
    return this.request<T>("POST", await this.collectionPath(obj, ns), {
      query: { fieldManager: FIELD_MANAGER, dryRun: opts.dryRun ? "All" : undefined },
      body: obj,
      action: `create ${obj.kind} ${obj.metadata?.name ?? obj.metadata?.generateName ?? ""}`,
    });
  }

  /** Replaces (PUT) the object; with metadata.resourceVersion set, KubeApiError 409 when it changed since. */
  async replace<T extends KubeObject = KubeObject>(obj: KubeObject): Promise<T> {
    const ref: ObjectRef = { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata?.name ?? "", ...(obj.metadata?.namespace ? { namespace: obj.metadata.namespace } : {}) };
    return this.request<T>("PUT", await this.objectPath(ref), {
      query: { fieldManager: FIELD_MANAGER },
      body: obj,
      action: `replace ${this.describe(ref)}`,
    });
  }

  /** Deletes; false when it was already gone (with ignoreNotFound, the default), true otherwise. */
  async delete(ref: ObjectRef, opts: { ignoreNotFound?: boolean; dryRun?: boolean } = {}): Promise<boolean> {
    try {
      await this.request("DELETE", await this.objectPath(ref), { query: { dryRun: opts.dryRun ? "All" : undefined }, action: `delete ${this.describe(ref)}` });
      return true;
    } catch (e) {
      if (isNotFound(e) && (opts.ignoreNotFound ?? true)) return false;
      throw e;
    }
  }

  /**
   * A raw watch from `resourceVersion`. `onEvent` gets ADDED/MODIFIED/DELETED; `onBookmark` the latest version;
   * `onClose(err)` once when the stream ends (err is a KubeApiError with code 410 when the version is too old).
   */
  async watch<T extends KubeObject = KubeObject>(
    kind: KindSpec,
    opts: ListOptions & { resourceVersion?: string; allowBookmarks?: boolean; timeoutSeconds?: number },
    handlers: { onEvent: (ev: WatchEvent<T>) => void; onBookmark?: (rv: string) => void; onClose: (err: unknown) => void },
  ): Promise<{ stop(): void }> {
    const path = await this.collectionPath(kind, opts.namespace);
    const params: Record<string, string | number | boolean | undefined> = {
      resourceVersion: opts.resourceVersion,
      allowWatchBookmarks: opts.allowBookmarks ?? true,
      labelSelector: opts.labelSelector,
      fieldSelector: opts.fieldSelector,
      timeoutSeconds: opts.timeoutSeconds,
    };
    let closed = false;
    let stopped = false;
    let req: http.ClientRequest | undefined;
    const close = (err: unknown) => {
      if (closed) return;
      closed = true;
      req?.destroy();
      if (!stopped) handlers.onClose(err);
    };
    const url = new URL(this.server + path);
    url.searchParams.set("watch", "true");
    for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, String(v));
    let res: Awaited<ReturnType<KubeClient["send"]>>;
    try {
      res = await this.send("GET", url, undefined, undefined);
    } catch (e) {
      close(toKubeError(e, this.server, `watch ${kind.kind}`));
      return { stop() {} };
    }
    req = res.req;
    if ((res.statusCode ?? 0) !== 200) {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => close(toKubeError({ code: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }, this.server, `watch ${kind.kind}`)));
      res.on("error", (e) => close(toKubeError(e, this.server, `watch ${kind.kind}`)));
    } else {
      let buf = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        buf += chunk;
        let nl: number;
        while (!closed && (nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line === "") continue;
          let ev: { type?: string; object?: unknown };
          try {
            ev = JSON.parse(line) as typeof ev;
          } catch {
            continue;
          }
          if (ev.type === "ERROR") {
            const st = (ev.object ?? {}) as { code?: number; message?: string; reason?: string };
            close(new KubeApiError(`watch of ${kind.kind} failed: ${st.message ?? "unknown error"}`, st, st.code ?? 500));
          } else if (ev.type === "BOOKMARK") {
            const rv = (ev.object as KubeObject | undefined)?.metadata?.resourceVersion;
            if (rv) handlers.onBookmark?.(rv);
          } else if (ev.type === "ADDED" || ev.type === "MODIFIED" || ev.type === "DELETED") {
            handlers.onEvent({ type: ev.type, object: ev.object as T });
          }
        }
      });
      res.on("end", () => close(null));
      res.on("close", () => close(null));
      res.on("error", (e) => close(stopped ? null : toKubeError(e, this.server, `watch ${kind.kind}`)));
    }
    return {
      stop() {
        stopped = true;
        closed = true;
        req?.destroy();
      },
    };
  }

  /**
   * Waits until `until(objects)` is true: lists, then watches from the list's resourceVersion (re-listing after
   * 410 Gone, resuming after the server closes the stream), with a deadline. Returns the matching objects.
   * OperationError on timeout (with the last "still waiting" sentence), InterruptedError when `signal` aborts.
   */
  async waitFor<T extends KubeObject = KubeObject>(o: WaitForOptions<T>): Promise<T[]> {
    const what = o.description ?? `${o.kind}${o.name ? ` ${o.namespace ? `${o.namespace}/` : ""}${o.name}` : "s"}`;
    const fieldSelector = [o.fieldSelector, o.name ? `metadata.name=${o.name}` : undefined].filter(Boolean).join(",") || undefined;
    const sel = { ...(o.namespace ? { namespace: o.namespace } : {}), ...(o.labelSelector ? { labelSelector: o.labelSelector } : {}), ...(fieldSelector ? { fieldSelector } : {}) };
    const objs = new Map<string, T>();
    const key = (x: KubeObject) => `${x.metadata.namespace ?? ""}/${x.metadata.name ?? ""}`;
    const snapshot = () => [...objs.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
    let lastReason = "no answer from the API yet";

    return new Promise<T[]>((resolve, reject) => {
      let settled = false;
      let current: { stop(): void } | undefined;
      let retryTimer: ReturnType<typeof setTimeout> | undefined;
      let backoff = 100;
      const finish = (err: unknown, value?: T[]) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        if (retryTimer) clearTimeout(retryTimer);
        current?.stop();
        o.signal?.removeEventListener("abort", onAbort);
        if (err) reject(err);
        else resolve(value ?? []);
      };
      const deadline = setTimeout(() => {
        finish(new OperationError(`timed out after ${formatMs(o.timeoutMs)} waiting for ${what}: ${lastReason}`));
      }, o.timeoutMs);
      const onAbort = () => finish(new InterruptedError(`interrupted while waiting for ${what}`));
      if (o.signal?.aborted) return onAbort();
      o.signal?.addEventListener("abort", onAbort);

      const evaluate = () => {
        if (settled) return;
        let verdict: boolean | string;
        const list = snapshot();
        try {
          verdict = o.until(list);
        } catch (e) {
          finish(e);
          return;
        }
        if (verdict === true) return finish(null, list);
        const reason = typeof verdict === "string" ? verdict : `${what} not there yet`;
        if (reason !== lastReason) {
          lastReason = reason;
          o.onProgress?.(reason, list);
        }
      };

      // Reconnecting after the API went away is the one place a retry delay exists (a watch cannot be opened to a
      // server that is down); it is bounded by the deadline.
      const retryLater = (err: unknown) => {
        if (settled) return;
        lastReason = err instanceof Error ? err.message : String(err);
        o.onProgress?.(lastReason, snapshot());
        retryTimer = setTimeout(() => void relist(), backoff);
        backoff = Math.min(backoff * 2, 2000);
      };

      const startWatch = async (rv: string) => {
        if (settled) return;
        try {
          current = await this.watch<T>(o, { ...sel, resourceVersion: rv, allowBookmarks: true }, {
            onEvent: (ev) => {
              backoff = 100;
              rv = ev.object.metadata.resourceVersion ?? rv;
              if (ev.type === "DELETED") objs.delete(key(ev.object));
              else objs.set(key(ev.object), ev.object);
              evaluate();
            },
            onBookmark: (v) => {
              rv = v;
            },
            onClose: (err) => {
              if (settled) return;
              if (err instanceof KubeApiError && err.code === 410) return void relist();
              if (err) return retryLater(err);
              void startWatch(rv); // server ended the stream (timeout): resume where we were
            },
          });
          if (settled) current.stop();
        } catch (e) {
          if (e instanceof KubeApiError && e.code === 404 && !settled) {
            // the kind is not served yet (CRD not installed): wait for it like any other state
            return retryLater(e);
          }
          retryLater(e);
        }
      };

      const relist = async () => {
        if (settled) return;
        current?.stop();
        try {
          const res = await this.list<T>(o, sel);
          if (settled) return;
          objs.clear();
          for (const x of res.items) objs.set(key(x), x);
          backoff = 100;
          evaluate();
          await startWatch(res.resourceVersion);
        } catch (e) {
          if (e instanceof ConfigError) return finish(e);
          retryLater(e);
        }
      };
      void relist();
    });
  }
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}
