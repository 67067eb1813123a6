/**
 * Stands for: Cilium 1.17 running in the cluster — the cilium-agent DaemonSet (CNI: a node goes Ready once its
 * agent runs; the BGP speaker) and cilium-operator (registers the Cilium CRDs at start-up, LB-IPAM, BGP node
 * configs). Like the real agent it reads its settings from the `cilium-config` ConfigMap the chart renders, so it
 * behaves the same whether Cilium was installed by `helm` or by Flux.
 *
 * The pure rules live in cilium-lbipam.ts and cilium-bgp.ts; this file wires them to the store and the router.
 */
import { CILIUM_KINDS, crdFor, type KindInfo, kindInfo } from "../kinds.ts";
import type { StoreEvent } from "../store.ts";
import { computeAgents, computeLegacyAgents, computeOperator, type BgpWorld } from "./cilium-bgp.ts";
import { computeLbIpam, LB_IPAM_SVC_CONDITION } from "./cilium-lbipam.ts";
import { type KObj, jsonEqual, nodeReady, setConditions } from "./obj.ts";
import type { SimRouter } from "./router.ts";
import { type Ctx, Reconciler } from "./runtime.ts";
import { podIsReady, type WorkloadController } from "./workloads.ts";

const NS = "kube-system";
const OPERATOR = "cilium-operator";
const BGP_KINDS = {
  cluster: "ciliumbgpclusterconfigs.cilium.io",
  peer: "ciliumbgppeerconfigs.cilium.io",
  advert: "ciliumbgpadvertisements.cilium.io",
  node: "ciliumbgpnodeconfigs.cilium.io",
  override: "ciliumbgpnodeconfigoverrides.cilium.io",
  pool: "ciliumloadbalancerippools.cilium.io",
  policy: "ciliumbgppeeringpolicies.cilium.io",
};

/** BGPv1, deprecated but still registered by the 1.17 operator (it wins over v2 on the nodes it selects). */
export const PEERING_POLICY_KIND: KindInfo = {
  ...kindInfo({ group: "cilium.io", version: "v2alpha1", kind: "CiliumBGPPeeringPolicy", plural: "ciliumbgppeeringpolicies", namespaced: false, shortNames: ["bgpp"], categories: ["cilium", "ciliumbgp"], statusSubresource: true }),
  crd: "ciliumbgppeeringpolicies.cilium.io",
};

const ciliumKind = (kind: string, plural: string, version: string, namespaced: boolean, shortNames: string[]): KindInfo => ({
  ...kindInfo({ group: "cilium.io", version, kind, plural, namespaced, shortNames, categories: ["cilium"], statusSubresource: true }),
  crd: `${plural}.cilium.io`,
});

/** The other CRDs cilium-operator 1.17 registers at start-up (besides BGP, LB-IPAM and CiliumNode). */
export const OPERATOR_EXTRA_KINDS: readonly KindInfo[] = [
  PEERING_POLICY_KIND,
  ciliumKind("CiliumNetworkPolicy", "ciliumnetworkpolicies", "v2", true, ["cnp", "ciliumnp"]),
  ciliumKind("CiliumClusterwideNetworkPolicy", "ciliumclusterwidenetworkpolicies", "v2", false, ["ccnp"]),
  ciliumKind("CiliumEndpoint", "ciliumendpoints", "v2", true, ["cep", "ciliumep"]),
  ciliumKind("CiliumIdentity", "ciliumidentities", "v2", false, ["ciliumid"]),
  ciliumKind("CiliumExternalWorkload", "ciliumexternalworkloads", "v2", false, ["cew"]),
  ciliumKind("CiliumLocalRedirectPolicy", "ciliumlocalredirectpolicies", "v2", true, ["clrp"]),
  ciliumKind("CiliumL2AnnouncementPolicy", "ciliuml2announcementpolicies", "v2alpha1", false, ["l2announcement"]),
  ciliumKind("CiliumPodIPPool", "ciliumpodippools", "v2alpha1", false, ["cpip"]),
  ciliumKind("CiliumCIDRGroup", "ciliumcidrgroups", "v2alpha1", false, ["ccg"]),
];

/** The kubelet's NotReady message while no CNI is configured (what a Talos node with `cni: none` shows). */
export const NO_CNI_MESSAGE =
  "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized";

export class CiliumController extends Reconciler {
  readonly name = "cilium";
  private crdsRequested = false;
  private readonly agentReadyAt = new Map<string, "pending" | "done">();
  private readonly sessions = new Map<string, { since?: string; pending: boolean }>();

  constructor(
    ctx: Ctx,
    private readonly workloads: WorkloadController,
    readonly router: SimRouter,
  ) {
    super(ctx);
  }

  override start(): void {
    const offRouter = this.router.onChange(() => this.kick());
    const offFaults = this.ctx.host.faults.onChange(() => {
      this.router.rejectAll = this.ctx.host.faults.routerRejectsRoutes;
      this.kick();
    });
    this.router.rejectAll = this.ctx.host.faults.routerRejectsRoutes;
    this.ctx.onCleanup(offRouter);
    this.ctx.onCleanup(offFaults);
    this.workloads.setGate(`${NS}/cilium`, () => this.agentHealth());
    super.start();
  }

  protected interested(ev: StoreEvent): boolean {
    const k = ev.kind;
    if (k.group === "cilium.io") return k.kind !== "CiliumBGPNodeConfig" || ev.type === "DELETED";
    if (k.group === "") return k.kind === "Node" || k.kind === "Pod" || k.kind === "Service" || (k.kind === "ConfigMap" && ev.object.metadata.name === "cilium-config");
    if (k.group === "apps") return ev.object.metadata.namespace === NS;
    return k.group === "apiextensions.k8s.io";
  }

  private config(): Record<string, string> | undefined {
    return this.ctx.get("configmaps", "cilium-config", NS)?.data;
  }

  /** Why the agent would crash with this configuration (on Talos: no kube-proxy, so KPR needs the API host). */
  private agentHealth(): { ok: true } | { ok: false; reason: string; message: string } {
    const cfg = this.config();
    if (!cfg) return { ok: false, reason: "CreateContainerConfigError", message: 'configmap "cilium-config" not found' };
    const kpr = cfg["kube-proxy-replacement"];
    if ((kpr === "true" || kpr === "strict") && !cfg["k8s-service-host"]) {
      return {
        ok: false,
        reason: "CrashLoopBackOff",
        message:
          'level=fatal msg="Unable to initialize Kubernetes subsystem" error="unable to create k8s client: Get \\"https://10.96.0.1:443/version\\": dial tcp 10.96.0.1:443: i/o timeout" subsys=daemon',
      };
    }
    return { ok: true };
  }

  private operatorRunning(): boolean {
    const d = this.ctx.get("deployments", OPERATOR, NS);
    return (d?.status?.readyReplicas ?? 0) >= 1;
  }

  protected reconcile(): void {
    const cfg = this.config();
    const ds = this.ctx.get("daemonsets", "cilium", NS);
    const pods = this.ctx.list("pods");
    const agentPods = ds ? pods.filter((p) => p.metadata.namespace === NS && p.metadata.labels?.["sim.homeops/workload"] === "cilium") : [];
    const agentReady = new Set(agentPods.filter(podIsReady).map((p) => p.spec?.nodeName as string));
    const nodes = this.ctx.list("nodes");

    // cilium-operator registers the CRDs when it starts
    if (this.operatorRunning() && !this.crdsRequested) {
      this.crdsRequested = true;
      this.ctx.after("ciliumOperatorCrds", () => {
        for (const k of [...CILIUM_KINDS, ...OPERATOR_EXTRA_KINDS]) {
          const crd = crdFor(k) as KObj;
          if (!this.ctx.get("customresourcedefinitions", crd.metadata.name)) {
            try {
              this.ctx.store.create(crd, { fieldManager: OPERATOR });
            } catch {
              /* exists */
            }
          }
        }
        this.kick();
      });
    }
    if (!ds) this.crdsRequested = false;

    this.markNodesReady(nodes, agentReady);
    if (!cfg || !this.operatorRunning()) {
      this.router.setAdvertisements([]);
      return;
    }
    if (cfg["enable-lb-ipam"] !== "false") this.lbIpam();
    this.bgp(cfg["enable-bgp-control-plane"] === "true", nodes, agentReady, pods);
  }

  /**
   * The CNI is up on a node once its agent is Ready (plus the agent's own start-up): the kubelet then reports Ready.
   * With SimCluster this goes through its setCniReady switch (so reboots flip Ready correctly); bare hosts get the
   * Node condition written directly.
   */
  private markNodesReady(nodes: KObj[], agentReady: Set<string>): void {
    const host = this.ctx.host;
    const present = new Set(nodes.map((n) => n.metadata.name));
    for (const name of [...this.agentReadyAt.keys()]) {
      if (present.has(name)) continue;
      // the Node object went (reset): its CNI state goes with it, so a re-registered node starts NotReady
      if (this.agentReadyAt.get(name) === "done" && host.setCniReady) host.setCniReady(false, name);
      this.agentReadyAt.delete(name);
    }
    for (const n of nodes) {
      const name = n.metadata.name;
      if (!agentReady.has(name)) {
        if (this.agentReadyAt.get(name) === "done" && host.setCniReady) host.setCniReady(false, name);
        this.agentReadyAt.delete(name);
        continue;
      }
      const state = this.agentReadyAt.get(name);
      if (state === "pending") continue;
      if (state === undefined) {
        this.agentReadyAt.set(name, "pending");
        this.ctx.after("ciliumAgent", () => {
          this.agentReadyAt.set(name, "done");
          this.kick();
        });
        if (this.agentReadyAt.get(name) !== "done") continue;
        if (host.setCniReady) host.setCniReady(true, name);
      }
      if (host.setCniReady) {
        if (state === undefined) continue;
        if (nodeReady(n) === "False") host.setCniReady(true, name);
        continue;
      }
      const ready = nodeReady(n);
      if (ready === "True" || ready === "Unknown") continue;
      setNodeReady(this.ctx, name);
    }
  }

  private lbIpam(): void {
    if (!this.ctx.store.kinds.tryResolve(BGP_KINDS.pool)) return;
    const pools = this.ctx.list(BGP_KINDS.pool);
    if (pools.length === 0) return; // LB-IPAM is dormant until the first pool exists
    const services = this.ctx.list("services");
    const result = computeLbIpam(pools, services);
    const now = this.ctx.now();
    for (const svc of services) {
      const r = result.services.get(`${svc.metadata.namespace}/${svc.metadata.name}`);
      if (!r) continue;
      const status = { ...(svc.status ?? {}) };
      const others = ((status.conditions ?? []) as { type: string }[]).filter((c) => c.type !== LB_IPAM_SVC_CONDITION);
      if (!r.responsible) {
        const had = ((svc.status?.conditions ?? []) as { type: string }[]).some((c) => c.type === LB_IPAM_SVC_CONDITION);
        if (!had) continue;
        status.loadBalancer = {};
        if (others.length > 0) status.conditions = others;
        else delete status.conditions;
      } else {
        status.loadBalancer = r.ips.length > 0 ? { ingress: r.ips.map((ip) => ({ ip })) } : {};
        const cond = r.condition ? setConditions(svc.status?.conditions?.filter((c: { type: string }) => c.type === LB_IPAM_SVC_CONDITION), [{ ...r.condition, observedGeneration: svc.metadata.generation ?? 1 }], now) : [];
        status.conditions = [...others, ...cond];
      }
      this.ctx.writeStatus("services", svc, status, "cilium-operator-lb-ipam");
    }
    for (const pool of pools) {
      const r = result.pools.get(pool.metadata.name);
      if (!r) continue;
      const conditions = setConditions(pool.status?.conditions, r.conditions.map((c) => ({ ...c, observedGeneration: pool.metadata.generation ?? 1 })), now);
      this.ctx.writeStatus(BGP_KINDS.pool, pool, { conditions }, "cilium-operator-lb-ipam");
    }
  }

  private establishedAt(key: string, up: boolean): string | undefined {
    if (!up) {
      this.sessions.delete(key);
      return undefined;
    }
    const s = this.sessions.get(key);
    if (s?.since) return s.since;
    if (s?.pending) return undefined;
    const rec: { since?: string; pending: boolean } = { pending: true };
    this.sessions.set(key, rec);
    this.ctx.after("bgpSession", () => {
      if (this.sessions.get(key) !== rec) return;
      rec.pending = false;
      rec.since = this.ctx.now();
      this.kick();
    });
    return rec.since;
  }

  private bgp(enabled: boolean, nodes: KObj[], agentReady: Set<string>, pods: KObj[]): void {
    if (!this.ctx.store.kinds.tryResolve(BGP_KINDS.node)) {
      this.router.setAdvertisements([]);
      return;
    }
    const world: BgpWorld = {
      enabled,
      nodes,
      agentRunning: (n) => agentReady.has(n),
      clusterConfigs: this.ctx.list(BGP_KINDS.cluster),
      peerConfigs: this.ctx.list(BGP_KINDS.peer),
      advertisements: this.ctx.list(BGP_KINDS.advert),
      nodeConfigOverrides: this.ctx.list(BGP_KINDS.override),
      peeringPolicies: this.ctx.store.kinds.tryResolve(BGP_KINDS.policy) ? this.ctx.list(BGP_KINDS.policy) : [],
      services: this.ctx.list("services"),
      pods,
      peer: this.router,
      establishedAt: (key, up) => this.establishedAt(key, up),
      now: this.ctx.now(),
    };
    const op = computeOperator(world);
    const now = this.ctx.now();
    for (const cc of world.clusterConfigs) {
      const conds = op.clusterConditions.get(cc.metadata.name);
      if (conds) this.ctx.writeStatus(BGP_KINDS.cluster, cc, { ...(cc.status ?? {}), conditions: setConditions(cc.status?.conditions, conds, now) }, OPERATOR);
    }
    // node configs: create/update the desired ones, delete those an owner no longer wants
    const existing = this.ctx.list(BGP_KINDS.node);
    for (const nc of existing) {
      const owned = nc.metadata.ownerReferences?.some((o) => o.kind === "CiliumBGPClusterConfig");
      if (owned && !op.nodeConfigs.has(nc.metadata.name)) this.ctx.tryDelete(BGP_KINDS.node, nc.metadata.name);
    }
    for (const want of op.nodeConfigs.values()) {
      this.ctx.upsert(
        {
          apiVersion: "cilium.io/v2alpha1",
          kind: "CiliumBGPNodeConfig",
          metadata: {
            name: want.name,
            ownerReferences: [
              { apiVersion: "cilium.io/v2alpha1", kind: "CiliumBGPClusterConfig", name: want.owner.metadata.name, uid: want.owner.metadata.uid ?? "", controller: true, blockOwnerDeletion: true },
            ],
          },
          spec: want.spec,
        },
        OPERATOR,
      );
    }
    const nodeConfigs = this.ctx.list(BGP_KINDS.node);
    const agents = computeAgents(world, nodeConfigs);
    for (const nc of nodeConfigs) {
      const status = agents.statuses.get(nc.metadata.name);
      if (status && !jsonEqual(nc.status, status)) this.ctx.writeStatus(BGP_KINDS.node, nc, status, "cilium-agent");
    }
    // sessions of nodes whose agent stopped are gone; forget their timers so they renegotiate when it returns
    for (const key of [...this.sessions.keys()]) if (!agentReady.has(key.split("/")[0] ?? "")) this.sessions.delete(key);
    this.router.setAdvertisements([...agents.advertisements, ...computeLegacyAgents(world)]);
  }
}

/** Sets the Node's Ready condition True (KubeletReady) and drops the not-ready taint — the kubelet with a CNI. */
export function setNodeReady(ctx: Ctx, name: string): void {
  const now = ctx.now();
  try {
    ctx.store.mutate(
      "nodes",
      name,
      undefined,
      (n) => {
        const conds = ((n.status?.conditions ?? []) as { type: string; status: string; lastTransitionTime?: string }[]).filter((c) => c.type !== "Ready");
        n.status = {
          ...(n.status ?? {}),
          conditions: [
            ...conds,
            { type: "Ready", status: "True", reason: "KubeletReady", message: "kubelet is posting ready status", lastHeartbeatTime: now, lastTransitionTime: now },
          ],
        };
      },
      { subresource: "status", fieldManager: "kubelet" },
    );
    ctx.store.mutate(
      "nodes",
      name,
      undefined,
      (n) => {
        const taints = (n.spec?.taints ?? []) as { key: string }[];
        const kept = taints.filter((t) => t.key !== "node.kubernetes.io/not-ready");
        if (kept.length === taints.length) return;
        n.spec = { ...(n.spec ?? {}), ...(kept.length > 0 ? { taints: kept } : {}) };
        if (kept.length === 0) delete n.spec.taints;
      },
      { fieldManager: "node-lifecycle-controller" },
    );
  } catch {
    /* the node went away meanwhile */
  }
}
