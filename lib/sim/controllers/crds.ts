/**
 * Stands for: the apiextensions-apiserver's establishing controller. A new CustomResourceDefinition is first only
 * stored; its kind is served (and its custom resources accepted) only once the CRD is Established, which takes a
 * moment — longer with the `crds-slow=<ms>` fault. Until then, requests for the resource get the API's 404
 * ("the server could not find the requested resource" / `no matches for kind`), exactly what makes
 * `kubectl apply` of a CR right after installing its CRD fail on a real cluster.
 *
 * Mechanism: the store registers a CRD's kind on creation; this controller withdraws it from the registry until
 * the CRD carries Established=True, then establishes it (NamesAccepted + Established) after the lag.
 */
import { kindFromCrd } from "../kinds.ts";
import type { StoreEvent } from "../store.ts";
import type { KObj } from "./obj.ts";
import { type Ctx, isKind, Reconciler } from "./runtime.ts";

const CRD_GROUP = "apiextensions.k8s.io";

export function crdEstablished(crd: KObj | undefined): boolean {
  return ((crd?.status?.conditions ?? []) as { type: string; status: string }[]).some((c) => c.type === "Established" && c.status === "True");
}

export class CrdEstablishingController extends Reconciler {
  readonly name = "crd-establishing";
  private readonly pending = new Set<string>();
  private unregisterListener: (() => void) | undefined;

  constructor(ctx: Ctx) {
    super(ctx);
  }

  override start(): void {
    // The store establishes CRDs itself unless told not to; from now on that is this controller's job.
    this.ctx.store.options.autoEstablishCrds = false;
    this.unregisterListener = this.ctx.store.kinds.onChange(() => this.withdrawUnestablished());
    this.ctx.onCleanup(() => this.unregisterListener?.());
    this.withdrawUnestablished();
    super.start();
  }

  override stop(): void {
    this.unregisterListener?.();
    super.stop();
  }

  protected interested(ev: StoreEvent): boolean {
    return isKind(ev, CRD_GROUP, "CustomResourceDefinition") && ev.type !== "DELETED";
  }

  /** Keeps kinds of not-yet-Established CRDs out of the registry (the store registers them on create). */
  private withdrawUnestablished(): void {
    for (const k of this.ctx.store.kinds.all()) {
      if (!k.crd) continue;
      const crd = this.ctx.view("customresourcedefinitions", k.crd);
      if (crd && !crdEstablished(crd)) this.ctx.store.kinds.unregister(k);
    }
  }

  protected reconcile(): void {
    for (const crd of this.ctx.viewList("customresourcedefinitions")) {
      const name = crd.metadata.name;
      const kind = kindFromCrd(crd);
      if (crdEstablished(crd)) {
        if (kind && !this.ctx.store.kinds.has(kind.group, kind.plural)) this.ctx.store.kinds.register(kind);
        continue;
      }
      if (this.pending.has(name) || !kind) continue;
      this.pending.add(name);
      const lag = this.ctx.delays.crdEstablish + this.ctx.host.faults.crdsSlowMs;
      this.ctx.after(lag, () => {
        this.pending.delete(name);
        const current = this.ctx.view("customresourcedefinitions", name);
        if (!current || crdEstablished(current)) return;
        this.ctx.store.establishCrd(name);
        const k = kindFromCrd(current);
        if (k) this.ctx.store.kinds.register(k);
      });
    }
  }
}
