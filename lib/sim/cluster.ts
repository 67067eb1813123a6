/**
 * SimCluster: one simulated cluster — the Kubernetes object store, the Talos machines, the 1Password vault, timing,
 * faults, the stand-in tool handlers and the emulated controllers. The Talos side keeps the Kubernetes Node objects
 * in step (kubelet registration, NotReady until the CNI runs, Unknown while a node is down).
 *
 * Other parts of lib/sim plug in through `registerTool(name, handler)` and `addController({name, start, stop})`.
 * The CNI: whoever emulates Cilium calls `setCniReady(true)` (or per node) once the agent runs; the Node Ready
 * condition is computed here from that and the machine's state, so reboots flip it correctly.
 */
import { SimStore, type KubeObject, type StoredObject } from "./store.ts";
import { Faults } from "./faults.ts";
import { Timing, type TimingOptions } from "./timing.ts";
import { SimVault, fakeSecret } from "./vault.ts";
import { type HistoryEvent, type SnapshotPayload, type TalosMachine, TalosSim, fakeCa } from "./talos.ts";
import type { SimTopology } from "./topology.ts";
import { type CallRecord, type ControlServer, type ToolHandler, ToolRegistry, startControlServer } from "./tools.ts";
import { talosctlHandler } from "./tools/talosctl.ts";
import { makeSecrets, talhelperHandler, type TalosSecrets } from "./tools/talhelper.ts";
import { opHandler } from "./tools/op.ts";
import { stringify as yamlStringify } from "yaml";

export interface SimController {
  name: string;
  start(cluster: SimCluster): void | Promise<void>;
  stop(): void | Promise<void>;
}

/**
 * The states a simulation starts in, in the order a bootstrap passes them:
 *   bare          every node in maintenance mode (before talos-apply-config)
 *   configured    every node runs its machine config, etcd waits for the bootstrap (before talos-bootstrap)
 *   talos         bootstrapped: etcd formed, Kubernetes API up, Nodes NotReady (no CNI yet)
 *   bootstrapped  also the CNI: Nodes Ready, nothing of the repo applied
 *   complete      what the bootstrap phases leave: Flux installed and the repo's kubernetes/ reconciled (Cilium,
 *                 External Secrets, Connect, Longhorn, apps): the healthy cluster every day-2 script expects
 */
import { SIM_STATES, type SimState } from "./states.ts";
export { SIM_STATES, type SimState };

export interface SimClusterOptions {
  topology: SimTopology;
  store?: SimStore;
  timing?: Timing | TimingOptions;
  faults?: Faults | readonly string[];
  vault?: SimVault;
  state?: SimState;
  /** the talosctl version the stand-in claims (default: the topology's Talos version) */
  talosctlVersion?: string;
  /** the 1Password vault the seeded items go to (default: $OP_VAULT or "home-ops") */
  opVault?: string;
  /** user volumes of the machine config (names), shown by `get volumestatus` */
  userVolumes?: string[];
  /** the repo the topology came from (the Flux emulation reads kubernetes/ there) */
  root?: string;
}

export type SimEvent = "node-down" | "node-up" | "node-registered" | "bootstrap" | "cni" | "history";

export class SimCluster {
  readonly topology: SimTopology;
  readonly store: SimStore;
  readonly timing: Timing;
  readonly faults: Faults;
  readonly vault: SimVault;
  readonly talos: TalosSim;
  readonly tools = new ToolRegistry();
  readonly controllers: SimController[] = [];
  readonly state: SimState;
  /** the repo root the cluster was built from, when it came from one */
  readonly root?: string;
  /** the os CA of the machines; the sim's talosconfig and the seeded secrets bundle carry it */
  readonly talosCa: string;
  readonly secrets: TalosSecrets;
  talosctlVersion: string;
  kubernetesVersion: string;
  /** the admin kubeconfig (set once the Kubernetes API server runs: startSimulation does it) */
  kubeconfigText?: string;
  private cniAll = false;
  private cniRevoked = false;
  private readonly cniNodes = new Set<string>();
  private control?: ControlServer;
  private readonly listeners = new Map<SimEvent, Set<(data: unknown) => void>>();
  private started = false;
  private stopped = false;

  constructor(opts: SimClusterOptions) {
    this.topology = opts.topology;
    this.store = opts.store ?? new SimStore();
    this.timing = opts.timing instanceof Timing ? opts.timing : new Timing(opts.timing);
    this.faults = opts.faults instanceof Faults ? opts.faults : new Faults(opts.faults ?? []);
    this.vault = opts.vault ?? new SimVault();
    this.state = opts.state ?? "bare";
    if (opts.root !== undefined) this.root = opts.root;
    this.talosctlVersion = opts.talosctlVersion ?? opts.topology.toolVersions?.talosctl ?? opts.topology.talosVersion;
    this.kubernetesVersion = opts.topology.kubernetesVersion;
    this.talosCa = fakeCa();
    this.secrets = makeSecrets(this.talosCa);
    this.talos = new TalosSim(this.topology, this.timing, this.faults, {
      onChange: (m) => this.syncNode(m),
      onKubeletUp: (m) => this.registerNode(m),
      onDown: (m) => {
        this.syncNode(m);
        this.emit("node-down", m.hostname);
      },
      onBootstrap: (from) => this.onBootstrap(from),
      dataStats: () => this.dataStats(),
      dataDump: () => this.dumpData(),
    });
    this.talos.onEvent((e) => {
      if (e.type === "up" && e.node) this.emit("node-up", e.node);
      this.emit("history", e);
    });
    this.seedVault(opts.opVault ?? process.env.OP_VAULT ?? "home-ops");
    const userVolumes = opts.userVolumes ?? [];
    const self = this;
    this.registerTool(
      "talosctl",
      talosctlHandler({
        talos: this.talos,
        get clientVersion() {
          return self.talosctlVersion;
        },
        talosCa: this.talosCa,
        kubeconfig: () => (this.talos.bootstrapped ? this.kubeconfigText : undefined),
        k8sNode: (h) => this.k8sNode(h),
        cniReady: () => this.corednsReady(),
        kubernetesVersion: () => this.kubernetesVersion,
        setKubernetesVersion: (v) => this.setKubernetesVersion(v),
        userVolumes,
      }),
    );
    const tv = this.topology.toolVersions ?? {};
    this.registerTool("talhelper", talhelperHandler({ newSecrets: () => makeSecrets(fakeCa()), ...(tv.talhelper ? { version: tv.talhelper } : {}) }));
    this.registerTool("op", opHandler({ vault: this.vault, faults: this.faults, ...(tv.op ? { version: tv.op } : {}) }));
    const configFor = (m: TalosMachine) => ({
      text: "",
      type: m.spec.controlPlane ? ("controlplane" as const) : ("worker" as const),
      ca: this.talosCa,
      installImage: this.topology.installerImage,
      hostname: m.hostname,
      kubernetesVersion: this.kubernetesVersion,
      clusterName: this.topology.clusterName,
    });
    if (this.state === "configured") this.talos.forceConfigured(configFor);
    else if (this.state !== "bare") {
      this.talos.forceBootstrapped(configFor);
      if (this.state === "bootstrapped" || this.state === "complete") this.setCniReady(true);
      this.hadData = true;
      this.bootstrapManifests();
    }
  }

  // ---- extension points ----------------------------------------------------------------------------------------

  registerTool(name: string, handler: ToolHandler): void {
    this.tools.register(name, handler);
  }

  /** Adds a controller; started now if the cluster already runs. */
  async addController(c: SimController): Promise<void> {
    this.controllers.push(c);
    if (this.started && !this.stopped) await c.start(this);
  }

  /** Starts the control endpoint for the stand-ins and every controller. */
  async start(): Promise<{ url: string; token: string }> {
    if (!this.control) this.control = startControlServer(this.tools);
    if (!this.started) {
      this.started = true;
      for (const c of this.controllers) await c.start(this);
    }
    return { url: this.control.url, token: this.control.token };
  }

  get controlUrl(): string | undefined {
    return this.control?.url;
  }
  get controlToken(): string | undefined {
    return this.control?.token;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.timing.stop();
    for (const c of [...this.controllers].reverse()) {
      try {
        await c.stop();
      } catch {
        /* a controller failing to stop must not keep the rest running */
      }
    }
    await this.control?.stop();
  }

  on(event: SimEvent, fn: (data: unknown) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }

  private emit(event: SimEvent, data: unknown): void {
    for (const fn of this.listeners.get(event) ?? []) fn(data);
  }

  // ---- views ---------------------------------------------------------------------------------------------------

  /** Every stand-in call (tool + argv), in order: tests grep it to prove no secret reached a command line. */
  get calls(): CallRecord[] {
    return this.tools.calls;
  }

  /** What happened to the machines, in order (down/up/apply-config/bootstrap/reboot/upgrade/reset/etcd-...). */
  get history(): HistoryEvent[] {
    return this.talos.history;
  }

  machine(ref: string): TalosMachine | undefined {
    return this.talos.machine(ref);
  }

  /** Presses the power button of a machine that is off (after shutdown, reset without reboot, or a reboot that never returned). */
  powerOn(ref: string): void {
    const m = this.talos.machine(ref);
    if (!m) throw new Error(`no simulated machine "${ref}"`);
    this.faults.clear("reboot-never-returns", m.hostname);
    this.faults.clear("reboot-never-returns", m.ip);
    this.talos.powerOn(m);
  }

  /** The admin talosconfig of the simulated cluster (trusted by machines configured with the sim's CA). */
  talosconfig(): string {
    const name = this.topology.clusterName;
    const cps = this.topology.nodes.filter((n) => n.controlPlane).map((n) => n.ipv4);
    return yamlStringify(
      {
        context: name,
        contexts: {
          [name]: {
            endpoints: cps.length ? cps : [this.topology.nodes[0]!.ipv4],
            nodes: cps.length ? [cps[0]] : [this.topology.nodes[0]!.ipv4],
            ca: this.talosCa,
            crt: Buffer.from(`sim-admin-crt-${fakeSecret(16)}`).toString("base64"),
            key: Buffer.from(`sim-admin-key-${fakeSecret(16)}`).toString("base64"),
          },
        },
      },
      { indent: 4 },
    );
  }

  get cniReady(): boolean {
    return this.cniAll;
  }

  /** The CNI runs (everywhere, or on one node): kubelets report Ready. */
  setCniReady(ready: boolean, node?: string): void {
    if (node === undefined) {
      this.cniAll = ready;
      if (!ready) this.cniNodes.clear();
    } else if (ready) this.cniNodes.add(node);
    else this.cniNodes.delete(node);
    this.emit("cni", { ready, node });
    // an explicit "no CNI" overrides a Ready=True some controller wrote
    this.cniRevoked = !ready;
    try {
      for (const m of this.talos.machines) if (node === undefined || m.hostname === node) this.syncNode(m);
    } finally {
      this.cniRevoked = false;
    }
  }

  private cniOn(hostname: string): boolean {
    return this.cniAll || this.cniNodes.has(hostname);
  }

  /** The Kubernetes view of a node (undefined when not registered). */
  k8sNode(hostname: string): { ready: boolean; schedulable: boolean } | undefined {
    const n = this.store.tryGet("nodes", hostname);
    if (!n) return undefined;
    const ready = ((n.status?.conditions ?? []) as Array<{ type: string; status: string }>).find((c) => c.type === "Ready");
    return { ready: ready?.status === "True", schedulable: !(n.spec as { unschedulable?: boolean } | undefined)?.unschedulable };
  }

  setKubernetesVersion(v: string): void {
    this.kubernetesVersion = v;
    for (const m of this.talos.machines) {
      if (m.config) m.config = { ...m.config, kubernetesVersion: v };
      this.syncNode(m);
    }
  }

  /**
   * The largest number of machines down at the same time in the history from event `since` on (rolling operations
   * keep it at 1). Machines already down at `since` count: a window starts with the cluster as it then was.
   */
  maxConcurrentDown(since = 0): number {
    return maxConcurrentDown(this.history, since);
  }

  // ---- Kubernetes Nodes ----------------------------------------------------------------------------------------

  private registered = new Set<string>();

  private registerNode(m: TalosMachine): void {
    this.registered.add(m.hostname);
    const existing = this.store.tryGet("nodes", m.hostname);
    const body = this.nodeObject(m);
    if (!existing) {
      this.store.create(body, { fieldManager: "kubelet" });
    } else {
      this.writeNode(m, existing);
    }
    this.emit("node-registered", m.hostname);
  }

  /** Keeps an already registered Node in step with its machine. */
  private syncNode(m: TalosMachine): void {
    if (!this.talos.bootstrapped && !this.registered.has(m.hostname)) return;
    const existing = this.store.tryGet("nodes", m.hostname);
    if (!existing) return;
    this.writeNode(m, existing);
  }

  private writeNode(m: TalosMachine, existing: StoredObject): void {
    const want = this.nodeObject(m, existing);
    const spec = { ...(existing.spec ?? {}), ...want.spec } as Record<string, unknown>;
    if (!want.spec?.unschedulable) delete spec.unschedulable;
    const same =
      JSON.stringify(existing.status?.conditions?.map((c: any) => [c.type, c.status, c.reason])) ===
        JSON.stringify(want.status?.conditions?.map((c: any) => [c.type, c.status, c.reason])) &&
      JSON.stringify(existing.status?.nodeInfo) === JSON.stringify(want.status?.nodeInfo) &&
      JSON.stringify(existing.spec?.taints ?? []) === JSON.stringify(want.spec?.taints ?? []) &&
      !!existing.spec?.unschedulable === !!want.spec?.unschedulable;
    if (same) return;
    try {
      const updated = this.store.update({ ...existing, spec }, { fieldManager: "kubelet" });
      this.store.updateStatus({ ...updated, status: { ...(existing.status ?? {}), ...want.status } }, { fieldManager: "kubelet" });
    } catch {
      /* a concurrent writer won; the next change syncs again */
    }
  }

  private nodeObject(m: TalosMachine, existing?: StoredObject): KubeObject & { spec: any; status: any } {
    const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    // a partitioned node's kubelet cannot post its status either
    const alive = m.running && m.kubeletRunning && !this.faults.isPartitioned(m.spec);
    const bootID = `${m.bootedAt.toString(16)}-${Bun.hash(m.hostname).toString(16).slice(0, 8)}`;
    // a CNI emulation (lib/sim/controllers) may have set Ready=True itself: that holds until this boot ends
    const markedReady =
      !this.cniRevoked &&
      (existing?.status?.conditions as Array<{ type: string; status: string }> | undefined)?.some((c) => c.type === "Ready" && c.status === "True") &&
      existing?.status?.nodeInfo?.bootID === bootID;
    const cni = this.cniOn(m.hostname) || markedReady === true;
    const readyStatus = !alive ? "Unknown" : cni ? "True" : "False";
    const prevConds = (existing?.status?.conditions ?? []) as Array<{ type: string; status: string; lastTransitionTime?: string }>;
    const since = (type: string, status: string) => {
      const p = prevConds.find((c) => c.type === type);
      return p && p.status === status && p.lastTransitionTime ? p.lastTransitionTime : now;
    };
    const pressure = (type: string, reason: string, message: string) =>
      alive
        ? { type, status: "False", lastHeartbeatTime: now, lastTransitionTime: since(type, "False"), reason, message }
        : { type, status: "Unknown", lastHeartbeatTime: now, lastTransitionTime: since(type, "Unknown"), reason: "NodeStatusUnknown", message: "Kubelet stopped posting node status." };
    const ready =
      readyStatus === "True"
        ? { reason: "KubeletReady", message: "kubelet is posting ready status" }
        : readyStatus === "False"
          ? {
              reason: "KubeletNotReady",
              message:
                "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized",
            }
          : { reason: "NodeStatusUnknown", message: "Kubelet stopped posting node status." };
    const taints: Array<{ key: string; effect: string; timeAdded?: string }> = [];
    const cp = m.controlPlane;
    const allowCp = this.topology.nodes.every((n) => n.controlPlane) || (m.config?.text ?? "").includes("allowSchedulingOnControlPlanes: true");
    if (cp && !allowCp) taints.push({ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" });
    if (readyStatus === "False") taints.push({ key: "node.kubernetes.io/not-ready", effect: "NoSchedule" });
    if (readyStatus === "Unknown") taints.push({ key: "node.kubernetes.io/unreachable", effect: "NoSchedule" });
    const unschedulable = m.stage === "resetting" || (existing?.spec?.unschedulable === true && !alive);
    const labels: Record<string, string> = {
      "beta.kubernetes.io/arch": "amd64",
      "beta.kubernetes.io/os": "linux",
      "kubernetes.io/arch": "amd64",
      "kubernetes.io/hostname": m.hostname,
      "kubernetes.io/os": "linux",
      ...(cp ? { "node-role.kubernetes.io/control-plane": "", "node.kubernetes.io/exclude-from-external-load-balancers": "" } : {}),
    };
    return {
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name: m.hostname,
        labels: { ...(existing?.metadata.labels ?? {}), ...labels },
        annotations: { ...(existing?.metadata.annotations ?? {}), "node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true" },
      },
      spec: { ...(taints.length ? { taints } : { taints: [] }), ...(unschedulable ? { unschedulable: true } : {}) },
      status: {
        conditions: [
          pressure("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
          pressure("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
          pressure("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
          { type: "Ready", status: readyStatus, lastHeartbeatTime: now, lastTransitionTime: since("Ready", readyStatus), ...ready },
        ],
        addresses: [
          { type: "InternalIP", address: m.ip },
          ...(m.spec.ipv6 ? [{ type: "InternalIP", address: m.spec.ipv6 }] : []),
          { type: "Hostname", address: m.hostname },
        ],
        nodeInfo: {
          architecture: "amd64",
          bootID,
          containerRuntimeVersion: "containerd://2.0.5",
          kernelVersion: "6.12.35-talos",
          kubeProxyVersion: "",
          kubeletVersion: m.config?.kubernetesVersion ?? this.kubernetesVersion,
          machineID: Bun.hash(`${m.hostname}-machine`).toString(16).padStart(32, "0").slice(0, 32),
          operatingSystem: "linux",
          osImage: `Talos (${m.version})`,
          systemUUID: Bun.hash(`${m.hostname}-uuid`).toString(16).padStart(32, "0").slice(0, 32),
        },
        capacity: { cpu: "4", "ephemeral-storage": "241016248Ki", "hugepages-2Mi": "0", memory: "16311764Ki", pods: "110" },
        allocatable: { cpu: "3950m", "ephemeral-storage": "221852208315", "hugepages-2Mi": "0", memory: "15947220Ki", pods: "110" },
        daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      },
    };
  }

  // ---- etcd data = the store ------------------------------------------------------------------------------------

  private dataStats(): { revision: number; keys: number } {
    let keys = 0;
    for (const k of this.store.kinds.all()) {
      try {
        keys += this.store.count(k);
      } catch {
        /* a kind whose CRD just went */
      }
    }
    return { revision: Number(this.store.resourceVersion), keys };
  }

  private dumpData(): unknown {
    const out: Array<KubeObject> = [];
    for (const k of this.store.kinds.all()) {
      try {
        for (const o of this.store.list(k).items) out.push(o);
      } catch {
        /* skip */
      }
    }
    return out;
  }

  private hadData = false;

  /** A fresh bootstrap starts an empty etcd; a recovery brings back the snapshot's objects. */
  private onBootstrap(from?: SnapshotPayload): void {
    if (from?.data && Array.isArray(from.data)) this.restoreData(from.data as KubeObject[]);
    else {
      if (this.hadData) this.restoreData([]);
      this.bootstrapManifests();
    }
    this.hadData = true;
    this.emit("bootstrap", { recovered: !!from });
  }

  /** What Talos applies right after the API comes up: CoreDNS (its pods wait for the CNI like every pod). */
  private bootstrapManifests(): void {
    const labels = { "k8s-app": "kube-dns" };
    const objects: KubeObject[] = [
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "coredns", namespace: "kube-system", labels },
        spec: {
          replicas: 2,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              priorityClassName: "system-cluster-critical",
              // renovate: datasource=docker depName=registry.k8s.io/coredns/coredns
              containers: [{ name: "coredns", image: "registry.k8s.io/coredns/coredns:v1.12.1", ports: [{ containerPort: 53, name: "dns", protocol: "UDP" }] }],
            },
          },
        },
      },
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "kube-dns", namespace: "kube-system", labels: { ...labels, "kubernetes.io/name": "CoreDNS" } },
        spec: { selector: labels, ports: [{ name: "dns", port: 53, protocol: "UDP" }, { name: "dns-tcp", port: 53, protocol: "TCP" }] },
      },
    ];
    for (const o of objects) {
      try {
        if (!this.store.tryGet({ apiVersion: o.apiVersion, kind: o.kind }, o.metadata!.name!, o.metadata?.namespace)) this.store.create(o, { fieldManager: "talos" });
      } catch {
        /* the store may refuse a field it validates differently; CoreDNS is a nicety here */
      }
    }
  }

  /** CoreDNS has a ready replica (the emulated controllers run its pods), or the CNI runs without them. */
  corednsReady(): boolean {
    const d = this.store.tryGet("deployments", "coredns", "kube-system");
    if (d && ((d.status as { readyReplicas?: number } | undefined)?.readyReplicas ?? 0) > 0) return true;
    return this.cniAll || (this.controllers.length === 0 && this.cniNodes.size > 0);
  }

  /** Makes the store hold exactly `objects` (CRDs first so their kinds exist; deletes what the snapshot lacks). */
  restoreData(objects: KubeObject[]): void {
    const keyOf = (o: KubeObject) => `${o.apiVersion}|${o.kind}|${o.metadata?.namespace ?? ""}|${o.metadata?.name ?? ""}`;
    const wanted = new Map(objects.map((o) => [keyOf(o), o]));
    const current = this.dumpData() as StoredObject[];
    const isCrd = (o: KubeObject) => o.kind === "CustomResourceDefinition";
    const isNs = (o: KubeObject) => o.kind === "Namespace" && o.apiVersion === "v1";
    // delete: plain objects, then namespaces, then CRDs
    const order = (o: KubeObject) => (isCrd(o) ? 2 : isNs(o) ? 1 : 0);
    for (const o of [...current].sort((a, b) => order(a) - order(b))) {
      if (wanted.has(keyOf(o))) continue;
      if (isNs(o) && ["default", "kube-system", "kube-public", "kube-node-lease"].includes(o.metadata.name ?? "")) continue;
      try {
        this.store.delete({ apiVersion: o.apiVersion, kind: o.kind }, o.metadata.name!, o.metadata.namespace);
      } catch {
        /* already gone with its namespace or CRD */
      }
    }
    const createOrder = (o: KubeObject) => (isCrd(o) ? 0 : isNs(o) ? 1 : 2);
    for (const o of [...objects].sort((a, b) => createOrder(a) - createOrder(b))) {
      const ref = { apiVersion: o.apiVersion, kind: o.kind };
      try {
        const cur = this.store.tryGet(ref, o.metadata!.name!, o.metadata?.namespace);
        const meta = { ...o.metadata };
        delete meta.resourceVersion;
        delete meta.managedFields;
        const body = { ...o, metadata: meta } as KubeObject;
        const written = cur
          ? this.store.update({ ...body, metadata: { ...meta, resourceVersion: cur.metadata.resourceVersion } }, { fieldManager: "etcd-restore" })
          : this.store.create(body, { fieldManager: "etcd-restore" });
        if (o.status !== undefined) {
          try {
            this.store.updateStatus({ ...written, status: o.status }, { fieldManager: "etcd-restore" });
          } catch {
            /* kinds without a status subresource kept it on create */
          }
        }
      } catch {
        /* an object the store refuses now (its CRD is not established yet) is skipped */
      }
    }
    for (const m of this.talos.machines) this.syncNode(m);
  }

  // ---- 1Password -----------------------------------------------------------------------------------------------

  private seedVault(vault: string): void {
    this.vault.setItem(vault, "talos", { talsecret: yamlStringify(this.secrets, { indent: 4 }) });
  }
}

export function maxConcurrentDown(history: readonly HistoryEvent[], since = 0): number {
  const down = new Set<string>();
  let max = 0;
  history.forEach((e, i) => {
    if (e.node) {
      if (e.type === "down") down.add(e.node);
      else if (e.type === "up") down.delete(e.node);
    }
    if (i >= since - 1) max = Math.max(max, down.size);
  });
  return max;
}
