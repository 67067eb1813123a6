/**
 * The few Kubernetes operations the phases need, as one small interface. The real implementation delegates to
 * lib/kube (KubeClient over @kubernetes/client-node); --dry-run wraps it so reads still happen and writes are
 * printed instead. Nothing here talks HTTP itself.
 */
import type { Output } from "../cli/output.ts";
import { KubeClient, type KubeObject } from "../kube/client.ts";
import { isNotFound } from "../kube/errors.ts";
import { crdEstablished } from "../kube/conditions.ts";

export interface KubeObj {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    generation?: number;
    resourceVersion?: string;
    [k: string]: unknown;
  };
  spec?: any;
  status?: any;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  [k: string]: unknown;
}

export interface KindRef {
  apiVersion: string;
  kind: string;
}

export interface Query extends KindRef {
  namespace?: string;
  labelSelector?: string;
  /** only this object (the check then sees a list of at most one) */
  name?: string;
}

export interface WaitOptions {
  /** what is awaited, in words: "the Cilium agent on every node" */
  what: string;
  timeoutMs: number;
  signal?: AbortSignal;
  onProgress?: (detail: string, elapsedMs: number) => void;
}

/** A check over the current objects of a query: done, or not yet and why. */
export type Check = (items: KubeObj[]) => { done: boolean; detail?: string };

export interface KubeApi {
  /** undefined when the object (or its kind) does not exist */
  get(ref: KindRef, name: string, namespace?: string): Promise<KubeObj | undefined>;
  /** [] when the kind is not served (its CRD is missing) */
  list(q: Query): Promise<KubeObj[]>;
  /** server-side apply (field manager home-ops, force); returns the object as stored */
  apply(obj: KubeObj): Promise<KubeObj | undefined>;
  /** JSON merge patch */
  patch(ref: KindRef, name: string, namespace: string | undefined, patch: unknown): Promise<void>;
  /** Watches q until check passes; throws OperationError at the deadline, InterruptedError on abort. */
  waitFor(q: Query, check: Check, opts: WaitOptions): Promise<KubeObj[]>;
  /** Waits until each named CRD has condition Established=True. */
  waitForCrds(names: string[], opts: WaitOptions): Promise<void>;
}

export function describeObj(o: Pick<KubeObj, "kind" | "metadata">): string {
  return `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata.name}`;
}

/** Keys of a Secret's data/stringData, never the values: what a dry run or a log may show of a Secret. */
function secretShape(o: KubeObj): string {
  const keys = [...Object.keys(o.data ?? {}), ...Object.keys(o.stringData ?? {})];
  return ` (keys: ${keys.join(", ") || "none"}; values not shown)`;
}

/**
 * --dry-run: reads go to the live cluster when there is one (so the plan reflects what is there), writes are
 * printed as `[dry-run] apply ...` and recorded; waits are printed and return at once.
 */
export class DryRunKube implements KubeApi {
  readonly writes: string[] = [];
  constructor(
    private readonly inner: KubeApi | undefined,
    private readonly out: Output,
  ) {}

  get hasInner(): boolean {
    return this.inner !== undefined;
  }

  async get(ref: KindRef, name: string, namespace?: string) {
    return this.inner ? this.inner.get(ref, name, namespace).catch(() => undefined) : undefined;
  }
  async list(q: Query) {
    return this.inner ? this.inner.list(q).catch(() => []) : [];
  }
  async apply(obj: KubeObj) {
    const line = `apply ${obj.apiVersion} ${describeObj(obj)}${obj.kind === "Secret" ? secretShape(obj) : ""}`;
    this.writes.push(line);
    this.out.line(`[dry-run] ${line}`);
    return undefined;
  }
  async patch(ref: KindRef, name: string, namespace: string | undefined, patch: unknown) {
    const line = `patch ${ref.apiVersion} ${ref.kind} ${namespace ? `${namespace}/` : ""}${name} ${JSON.stringify(patch)}`;
    this.writes.push(line);
    this.out.line(`[dry-run] ${line}`);
  }
  async waitFor(_q: Query, _check: Check, opts: WaitOptions) {
    this.out.line(`[dry-run] wait for ${opts.what}`);
    return [];
  }
  async waitForCrds(names: string[], opts: WaitOptions) {
    this.out.line(`[dry-run] wait for ${opts.what} (${names.join(", ")})`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The live implementation: lib/kube's KubeClient


export class ClientKube implements KubeApi {
  constructor(readonly client: KubeClient) {}

  static fromKubeconfig(file: string): ClientKube {
    return new ClientKube(KubeClient.fromKubeconfig(file));
  }

  async get(ref: KindRef, name: string, namespace?: string): Promise<KubeObj | undefined> {
    try {
      return (await this.client.tryGet({ ...ref, name, ...(namespace ? { namespace } : {}) })) as KubeObj | undefined;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async list(q: Query): Promise<KubeObj[]> {
    try {
      const r = await this.client.list(q, {
        ...(q.namespace ? { namespace: q.namespace } : {}),
        ...(q.labelSelector ? { labelSelector: q.labelSelector } : {}),
        ...(q.name ? { fieldSelector: `metadata.name=${q.name}` } : {}),
      });
      return r.items as KubeObj[];
    } catch (e) {
      if (isNotFound(e)) return [];
      throw e;
    }
  }

  async apply(obj: KubeObj): Promise<KubeObj | undefined> {
    return (await this.client.apply(obj as KubeObject, { force: true })) as KubeObj;
  }

  async patch(ref: KindRef, name: string, namespace: string | undefined, patch: unknown): Promise<void> {
    await this.client.patch({ ...ref, name, ...(namespace ? { namespace } : {}) }, patch, "merge");
  }

  async waitFor(q: Query, check: Check, opts: WaitOptions): Promise<KubeObj[]> {
    const started = performance.now();
    return (await this.client.waitFor({
      apiVersion: q.apiVersion,
      kind: q.kind,
      ...(q.name ? { name: q.name } : {}),
      ...(q.namespace ? { namespace: q.namespace } : {}),
      ...(q.labelSelector ? { labelSelector: q.labelSelector } : {}),
      until: (objs) => {
        const r = check(objs as KubeObj[]);
        return r.done ? true : (r.detail ?? false);
      },
      timeoutMs: opts.timeoutMs,
      ...(opts.signal ? { signal: opts.signal } : {}),
      onProgress: (reason) => opts.onProgress?.(reason, performance.now() - started),
      description: opts.what,
    })) as KubeObj[];
  }

  async waitForCrds(names: string[], opts: WaitOptions): Promise<void> {
    await this.waitFor(
      { apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition" },
      (items) => {
        const est = new Set(items.filter((c) => crdEstablished(c)).map((c) => c.metadata.name));
        const waiting = names.filter((n) => !est.has(n));
        return { done: waiting.length === 0, detail: waiting.length ? `not Established yet: ${waiting.join(", ")}` : "" };
      },
      opts,
    );
  }

  close(): void {
    this.client.close();
  }
}
