/**
 * Stands for: kube-controller-manager's endpoints and endpointslice controllers. For every Service with a selector
 * they keep an Endpoints object (same name) and one EndpointSlice per IP family of the Service (label
 * kubernetes.io/service-name, managed-by endpointslice-controller.k8s.io, owned by the Service) listing the
 * selected pods that have an address: the pod IP (the node's for hostNetwork pods), its node, and whether it is
 * ready. A named targetPort resolves through the pod's container ports; a port a pod does not have is left out for
 * that pod, as the real controllers do. Slices of a Service that is gone, or lost its selector, are deleted.
 */
import type { StoreEvent } from "../store.ts";
import { jsonEqual, type KObj, nodeAddress } from "./obj.ts";
import { type Ctx, Reconciler } from "./runtime.ts";
import { hash5, podIsReady } from "./workloads.ts";

const MANAGER = "kube-controller-manager";
const SLICES = { group: "discovery.k8s.io", resource: "endpointslices" };
const MANAGED_BY = "endpointslice-controller.k8s.io";

interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: string;
}

interface Backend {
  pod: KObj;
  ip4?: string;
  ip6?: string;
  ready: boolean;
  ports: { name: string; port: number; protocol: string }[];
}

const isIPv6 = (ip: string) => ip.includes(":");

export class EndpointsController extends Reconciler {
  readonly name = "endpoints";

  constructor(ctx: Ctx) {
    super(ctx);
  }

  protected interested(ev: StoreEvent): boolean {
    const k = ev.kind;
    return k.group === "" && (k.kind === "Service" || k.kind === "Pod" || k.kind === "Node");
  }

  protected reconcile(): void {
    if (!this.ctx.store.kinds.tryResolve(SLICES)) return;
    const nodes = new Map(this.ctx.list("nodes").map((n) => [n.metadata.name, n]));
    const pods = this.ctx.list("pods");
    const wanted = new Set<string>();
    for (const svc of this.ctx.list("services")) {
      const selector = (svc.spec?.selector ?? {}) as Record<string, string>;
      if (Object.keys(selector).length === 0 || svc.spec?.type === "ExternalName") continue;
      const ns = svc.metadata.namespace ?? "default";
      const backends = pods
        .filter((p) => (p.metadata.namespace ?? "default") === ns && p.metadata.deletionTimestamp === undefined && Object.entries(selector).every(([k, v]) => p.metadata.labels?.[k] === v))
        .map((p) => this.backend(p, svc, nodes))
        .filter((b): b is Backend => b !== undefined)
        .sort((a, b) => a.pod.metadata.name.localeCompare(b.pod.metadata.name));
      this.writeEndpoints(svc, backends);
      const families = ((svc.spec?.ipFamilies as string[] | undefined) ?? ["IPv4"]).filter((f) => f === "IPv4" || f === "IPv6");
      for (const family of families) wanted.add(this.writeSlice(svc, family, backends));
    }
    for (const sl of this.ctx.list(SLICES)) {
      if (sl.metadata.labels?.["endpointslice.kubernetes.io/managed-by"] !== MANAGED_BY) continue;
      if (!wanted.has(`${sl.metadata.namespace}/${sl.metadata.name}`)) this.ctx.tryDelete(SLICES, sl.metadata.name, sl.metadata.namespace);
    }
    for (const ep of this.ctx.list("endpoints")) {
      if (ep.metadata.labels?.["endpoints.kubernetes.io/managed-by"] !== "endpoint-controller") continue;
      const svc = this.ctx.get("services", ep.metadata.name, ep.metadata.namespace);
      if (!svc || Object.keys(svc.spec?.selector ?? {}).length === 0) this.ctx.tryDelete("endpoints", ep.metadata.name, ep.metadata.namespace);
    }
  }

  private backend(p: KObj, svc: KObj, nodes: Map<string, KObj>): Backend | undefined {
    const nodeName = p.spec?.nodeName as string | undefined;
    const node = nodeName ? nodes.get(nodeName) : undefined;
    const podIPs = ((p.status?.podIPs ?? []) as { ip: string }[]).map((x) => x.ip);
    if (podIPs.length === 0 && p.spec?.hostNetwork === true && node) {
      for (const f of [4, 6] as const) {
        const a = nodeAddress(node, f);
        if (a) podIPs.push(a);
      }
    }
    if (podIPs.length === 0 || p.status?.phase === "Succeeded" || p.status?.phase === "Failed") return undefined;
    const containerPorts = ((p.spec?.containers ?? []) as { ports?: { name?: string; containerPort: number; protocol?: string }[] }[]).flatMap((c) => c.ports ?? []);
    const ports: Backend["ports"] = [];
    for (const sp of (svc.spec?.ports ?? []) as ServicePort[]) {
      const protocol = sp.protocol ?? "TCP";
      const target = sp.targetPort ?? sp.port;
      const port = typeof target === "number" ? target : /^\d+$/.test(target) ? Number(target) : containerPorts.find((c) => c.name === target && (c.protocol ?? "TCP") === protocol)?.containerPort;
      if (port !== undefined) ports.push({ name: sp.name ?? "", port, protocol });
    }
    return { pod: p, ip4: podIPs.find((ip) => !isIPv6(ip)), ip6: podIPs.find(isIPv6), ready: podIsReady(p), ports };
  }

  private writeEndpoints(svc: KObj, backends: Backend[]): void {
    const ns = svc.metadata.namespace ?? "default";
    const address = (b: Backend) => ({ ip: b.ip4 ?? b.ip6!, nodeName: b.pod.spec?.nodeName, targetRef: { kind: "Pod", name: b.pod.metadata.name, namespace: ns, uid: b.pod.metadata.uid ?? "" } });
    const withPorts = backends.filter((b) => b.ports.length > 0);
    const ready = withPorts.filter((b) => b.ready).map(address);
    const notReady = withPorts.filter((b) => !b.ready).map(address);
    const ports = withPorts[0]?.ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), port: p.port, protocol: p.protocol })) ?? [];
    const subsets = withPorts.length === 0 ? undefined : [{ ...(ready.length ? { addresses: ready } : {}), ...(notReady.length ? { notReadyAddresses: notReady } : {}), ports }];
    const desired: KObj = {
      apiVersion: "v1",
      kind: "Endpoints",
      metadata: { name: svc.metadata.name, namespace: ns, labels: { ...(svc.metadata.labels ?? {}), "endpoints.kubernetes.io/managed-by": "endpoint-controller" } },
      ...(subsets ? { subsets } : {}),
    };
    this.put("endpoints", desired);
  }

  /** Writes the Service's slice of one family; returns its namespace/name. */
  private writeSlice(svc: KObj, family: "IPv4" | "IPv6", backends: Backend[]): string {
    const ns = svc.metadata.namespace ?? "default";
    const name = `${svc.metadata.name.slice(0, 56)}-${hash5(`${ns}/${svc.metadata.name}/${family}`)}`;
    const endpoints = backends
      .map((b) => ({ b, ip: family === "IPv4" ? b.ip4 : b.ip6 }))
      .filter((x): x is { b: Backend; ip: string } => x.ip !== undefined)
      .map(({ b, ip }) => ({
        addresses: [ip],
        conditions: { ready: b.ready, serving: b.ready, terminating: false },
        ...(b.pod.spec?.nodeName ? { nodeName: b.pod.spec.nodeName } : {}),
        targetRef: { kind: "Pod", name: b.pod.metadata.name, namespace: ns, uid: b.pod.metadata.uid ?? "" },
      }));
    // no endpoints: the real controller's placeholder slice, without ports
    const ports = backends[0]?.ports ?? [];
    this.put(SLICES, {
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: {
        name,
        namespace: ns,
        labels: { ...(svc.metadata.labels ?? {}), "kubernetes.io/service-name": svc.metadata.name, "endpointslice.kubernetes.io/managed-by": MANAGED_BY },
        ownerReferences: [{ apiVersion: "v1", kind: "Service", name: svc.metadata.name, uid: svc.metadata.uid ?? "", controller: true, blockOwnerDeletion: true }],
      },
      addressType: family,
      endpoints,
      ports,
    });
    return `${ns}/${name}`;
  }

  /** Creates or updates `desired` when it differs from what is stored (so an unchanged world writes nothing). */
  private put(kind: string | { group: string; resource: string }, desired: KObj): void {
    const cur = this.ctx.get(kind, desired.metadata.name, desired.metadata.namespace);
    const { metadata: dm, apiVersion: _a, kind: _k, ...body } = desired;
    if (cur) {
      const { metadata: cm, apiVersion: _ca, kind: _ck, status: _cs, ...curBody } = cur;
      if (jsonEqual(curBody, body) && jsonEqual(cm.labels ?? {}, dm.labels ?? {})) return;
      const next: KObj = { ...desired, metadata: { ...cm, labels: dm.labels, ...(dm.ownerReferences ? { ownerReferences: dm.ownerReferences } : {}) } };
      try {
        this.ctx.store.update(next, { fieldManager: MANAGER });
      } catch {
        /* changed under us: the next reconcile writes it again */
      }
      return;
    }
    try {
      this.ctx.store.create(desired, { fieldManager: MANAGER });
    } catch {
      /* raced with another reconcile: it exists */
    }
  }
}
