/**
 * The little runtime every emulated controller of lib/sim/controllers uses: the slice of SimCluster they need
 * (store, timing, faults, vault), knobs with their real-world delays, and a level-triggered reconcile loop like
 * controller-runtime's — any relevant change schedules one full reconcile that computes the desired state from the
 * store and writes only the differences (so writes converge and never loop).
 */
import type { Faults } from "../faults.ts";
import type { KindRef, SimStore, StoreEvent } from "../store.ts";
import type { Timing } from "../timing.ts";
import type { SimVault } from "../vault.ts";
import { type KObj, jsonEqual } from "./obj.ts";

/** Real-world durations (ms) of what the controllers do; scaled by the cluster's Timing like every sim delay. */
export interface ControllerDelays {
  /** apiextensions-apiserver: CRD created -> Established (plus the `crds-slow` fault) */
  crdEstablish: number;
  /** kubelet: pod scheduled -> containers running and ready */
  podStart: number;
  /** cilium-agent: pod started -> agent ready (CNI config written, node goes Ready) */
  ciliumAgent: number;
  /** cilium-operator: started -> CRDs registered */
  ciliumOperatorCrds: number;
  /** BGP: TCP connect + OPEN/KEEPALIVE exchange */
  bgpSession: number;
  /** source-controller: clone of the GitRepository */
  fluxSource: number;
  /** kustomize-controller: build + apply + health checks of one Kustomization */
  fluxKustomization: number;
  /** helm-controller: install of one HelmRelease */
  fluxHelmRelease: number;
  /** external-secrets: ClusterSecretStore validation / ExternalSecret sync */
  externalSecretSync: number;
  /** longhorn-manager: a replica rebuild after its node came back */
  longhornRebuild: number;
}

export const REAL_CONTROLLER_DELAYS: ControllerDelays = {
  crdEstablish: 1_000,
  podStart: 5_000,
  ciliumAgent: 15_000,
  ciliumOperatorCrds: 5_000,
  bgpSession: 3_000,
  fluxSource: 3_000,
  fluxKustomization: 5_000,
  fluxHelmRelease: 10_000,
  externalSecretSync: 2_000,
  longhornRebuild: 60_000,
};

/** What the controllers need of SimCluster (lib/sim/cluster.ts provides all of it). */
export interface ControllerHost {
  store: SimStore;
  timing: Timing;
  faults: Faults;
  vault: SimVault;
  /**
   * SimCluster's CNI switch: the Talos side computes the Node Ready condition from it. Absent (unit tests), the
   * Cilium emulation writes the Ready condition itself.
   */
  setCniReady?(ready: boolean, node?: string): void;
}

export class Ctx {
  readonly delays: ControllerDelays;
  private stopped = false;
  private readonly cleanups: (() => void)[] = [];
  /** while true, controller delays are skipped (used to build a ready-made cluster at start-up) */
  fast = false;
  /** controllers with a reconcile scheduled or running */
  readonly busy = new Set<unknown>();

  constructor(
    readonly host: ControllerHost,
    delays: Partial<ControllerDelays> = {},
  ) {
    this.delays = { ...REAL_CONTROLLER_DELAYS, ...delays };
  }

  get store(): SimStore {
    return this.host.store;
  }

  now(): string {
    return this.host.store.options.now().toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  /** Runs fn after a scaled controller delay (synchronously when the cluster's scale is 0). */
  after(delay: keyof ControllerDelays | number, fn: () => void): void {
    if (this.stopped) return;
    if (this.fast) {
      fn();
      return;
    }
    const real = typeof delay === "number" ? delay : this.delays[delay];
    this.host.timing.after(real, () => {
      if (!this.stopped) fn();
    });
  }

  /**
   * Resolves once no controller has work queued (with timing scale 0 the cluster has then reached its steady
   * state). Delays scheduled on the timing (scale > 0) are not waited for.
   */
  async settle(maxTurns = 10_000): Promise<void> {
    for (let i = 0; i < maxTurns; i++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.busy.size === 0) return;
    }
  }

  onCleanup(fn: () => void): void {
    this.cleanups.push(fn);
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  stop(): void {
    this.stopped = true;
    for (const fn of this.cleanups.splice(0)) fn();
  }

  /** Every object of a kind, [] when the kind is not served (its CRD absent or not yet Established). */
  list(kind: KindRef, namespace?: string): KObj[] {
    if (!this.store.kinds.tryResolve(kind)) return [];
    return this.store.list(kind, namespace ? { namespace } : {}).items as KObj[];
  }

  /** The stored object itself (frozen: read it, never change it); get() for a copy to change. */
  view(kind: KindRef, name: string, namespace?: string): KObj | undefined {
    return this.store.peek(kind, name, namespace) as KObj | undefined;
  }

  /** Every stored object of a kind, not copies (frozen, as view); [] when the kind is not served. */
  viewList(kind: KindRef, namespace?: string): readonly KObj[] {
    return this.store.peekList(kind, namespace) as readonly KObj[];
  }

  get(kind: KindRef, name: string, namespace?: string): KObj | undefined {
    try {
      return this.store.tryGet(kind, name, namespace) as KObj | undefined;
    } catch {
      return undefined;
    }
  }

  /** Writes `status` when it differs from the stored one. Returns false when the object or kind is gone. */
  writeStatus(kind: KindRef, obj: KObj, status: unknown, manager: string): boolean {
    if (jsonEqual(obj.status, status)) return true;
    try {
      const k = this.store.kinds.tryResolve(kind);
      if (!k) return false;
      const current = this.store.tryGet(k, obj.metadata.name, obj.metadata.namespace);
      if (!current) return false;
      if (jsonEqual(current.status, status)) return true;
      const next = { ...current, status };
      if (k.statusSubresource) this.store.updateStatus(next, { fieldManager: manager });
      else this.store.update(next, { fieldManager: manager });
      return true;
    } catch {
      return false;
    }
  }

  /** Creates or updates an object to `desired` (labels/annotations/spec/data as given), leaving status alone. */
  upsert(desired: KObj, manager: string): KObj | undefined {
    const k = this.store.kinds.tryResolve({ apiVersion: desired.apiVersion, kind: desired.kind });
    if (!k) return undefined;
    const current = this.store.tryGet(k, desired.metadata.name, desired.metadata.namespace) as KObj | undefined;
    if (!current) {
      try {
        return this.store.create(desired, { fieldManager: manager }) as KObj;
      } catch {
        return undefined;
      }
    }
    const next: KObj = { ...current };
    for (const [key, value] of Object.entries(desired)) {
      if (key === "metadata" || key === "status" || key === "apiVersion" || key === "kind") continue;
      next[key] = value;
    }
    next.metadata = {
      ...current.metadata,
      ...(desired.metadata.labels ? { labels: desired.metadata.labels } : {}),
      ...(desired.metadata.annotations ? { annotations: desired.metadata.annotations } : {}),
      ...(desired.metadata.ownerReferences ? { ownerReferences: desired.metadata.ownerReferences } : {}),
    };
    if (jsonEqual(next, current)) return current;
    try {
      return this.store.update(next, { fieldManager: manager }) as KObj;
    } catch {
      return undefined;
    }
  }

  tryDelete(kind: KindRef, name: string, namespace?: string): void {
    try {
      if (this.store.kinds.tryResolve(kind) && this.store.tryGet(kind, name, namespace)) this.store.delete(kind, name, namespace);
    } catch {
      /* already gone */
    }
  }
}

/**
 * A level-triggered controller: `reconcile()` runs once after any store change `interested(ev)` accepts (and after
 * `kick()`), never re-entrantly. Runs are coalesced on a microtask, so a burst of changes (a Helm install writing
 * twenty objects, 300 kubelets registering) costs one reconcile, not one per change; changes made during a run
 * schedule one more. `Ctx.settle()` resolves once every controller is idle (tests await it after a write).
 */
export abstract class Reconciler {
  abstract readonly name: string;
  private running = false;
  private dirty = false;
  private scheduled = false;
  private unsubscribe: (() => void) | undefined;

  constructor(protected readonly ctx: Ctx) {}

  /** Which store changes concern this controller. */
  protected abstract interested(ev: StoreEvent): boolean;
  protected abstract reconcile(): void;

  start(): void {
    this.unsubscribe = this.ctx.store.subscribe((ev) => {
      if (this.interested(ev)) this.kick();
    });
    this.ctx.onCleanup(() => this.unsubscribe?.());
    this.kick();
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  get idle(): boolean {
    return !this.running && !this.scheduled;
  }

  /** Schedules a reconcile. */
  kick(): void {
    if (this.ctx.isStopped || !this.unsubscribe) return;
    if (this.running) {
      this.dirty = true;
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    this.ctx.busy.add(this);
    queueMicrotask(() => {
      this.scheduled = false;
      this.runNow();
      if (!this.scheduled) this.ctx.busy.delete(this);
    });
  }

  /** Runs reconcile until nothing new happened meanwhile (a few rounds at most; more get a fresh microtask). */
  runNow(): void {
    if (this.ctx.isStopped || this.running) return;
    this.running = true;
    try {
      let rounds = 0;
      do {
        this.dirty = false;
        this.reconcile();
        rounds++;
      } while (this.dirty && rounds < 5);
    } finally {
      this.running = false;
    }
    if (this.dirty) {
      // still changing after several rounds: continue on a later turn so the event loop (and I/O) keeps running
      this.dirty = false;
      this.scheduled = true;
      this.ctx.busy.add(this);
      setImmediate(() => {
        this.scheduled = false;
        this.runNow();
        if (!this.scheduled) this.ctx.busy.delete(this);
      });
    }
  }
}

export const isKind = (ev: StoreEvent, group: string, kind: string): boolean => ev.kind.group === group && ev.kind.kind === kind;
