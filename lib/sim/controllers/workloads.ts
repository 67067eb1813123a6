/**
 * Stands for: kube-controller-manager's Deployment and DaemonSet controllers, the scheduler and the kubelet, as far
 * as the toolkit can observe them: Pods per Deployment replica / per node of a DaemonSet, scheduled only where they
 * can run (a node whose Ready condition is False has no CNI yet: only hostNetwork pods start there; a node that is
 * Unknown — kubelet gone — runs nothing), Running and Ready after a start delay, and the workloads' `status` blocks
 * (readyReplicas, numberReady, conditions) that `helm --wait` and `kubectl rollout status` read.
 *
 * Health gates let a chart's emulation make its pods crash like the real software would (1Password Connect with
 * bad credentials, a Cilium agent that cannot reach the API server): the pod runs but never becomes Ready, its
 * container waiting in CrashLoopBackOff.
 */
import { createHash } from "node:crypto";
import type { StoreEvent } from "../store.ts";
import { type KObj, keyOf, nodeReady } from "./obj.ts";
import { type Ctx, Reconciler } from "./runtime.ts";

export type Health = { ok: true } | { ok: false; reason: string; message: string };
/** A gate for pods of one workload (`namespace/name`), evaluated per node. */
export type HealthGate = (node: string) => Health;

const MANAGER = "kube-controller-manager";

/** A 5-character suffix from `s`, in the alphabet Kubernetes uses for generated names. */
export const hash5 = (s: string): string => {
  const alphabet = "bcdfghjklmnpqrstvwxz2456789";
  const h = createHash("sha256").update(s).digest();
  let out = "";
  for (let i = 0; i < 5; i++) out += alphabet[(h[i] ?? 0) % alphabet.length];
  return out;
};

export class WorkloadController extends Reconciler {
  readonly name = "workloads";
  private readonly gates = new Map<string, HealthGate>();
  private readonly providers: ((workload: KObj, node: string) => Health | undefined)[] = [];
  /** node -> Unknown since the eviction timer started ("due" once tolerationSeconds (300 s, scaled) passed) */
  private readonly unreachable = new Map<string, "waiting" | "due">();
  /** pod key -> when its containers started on the current node incarnation ("pending" while the delay runs) */
  private readonly started = new Map<string, "pending" | "running">();

  constructor(ctx: Ctx) {
    super(ctx);
  }

  /** Makes the pods of workload `namespace/name` unhealthy while `gate` says so; re-evaluated on every reconcile. */
  setGate(workload: string, gate: HealthGate | undefined): void {
    if (gate) this.gates.set(workload, gate);
    else this.gates.delete(workload);
    this.kick();
  }

  /**
   * Adds a health rule evaluated for every pod from its workload object (Deployment/DaemonSet), e.g. "a
   * Deployment whose containers read OP_SESSION from a Secret crash-loops when that value is malformed". Rules
   * apply from the pod's first start, so nothing is ever Ready that the real software would not be.
   */
  addHealthRule(rule: (workload: KObj, node: string) => Health | undefined): void {
    this.providers.push(rule);
    this.kick();
  }

  protected interested(ev: StoreEvent): boolean {
    const k = ev.kind;
    if (k.group === "apps" && (k.kind === "Deployment" || k.kind === "DaemonSet")) return true;
    if (k.group === "" && (k.kind === "Node" || k.kind === "Pod" || k.kind === "Secret" || k.kind === "ConfigMap")) return true;
    return false;
  }

  protected reconcile(): void {
    const nodes = this.ctx.list("nodes");
    const nodeState = new Map(nodes.map((n) => [n.metadata.name, nodeReady(n)]));
    const pods = this.ctx.list("pods");
    const podsByOwner = new Map<string, KObj[]>();
    for (const p of pods) {
      const owner = p.metadata.ownerReferences?.[0];
      if (!owner || (owner.kind !== "DaemonSet" && owner.kind !== "ReplicaSet")) continue;
      const key = `${owner.kind}/${p.metadata.namespace}/${p.metadata.labels?.["sim.homeops/workload"] ?? owner.name}`;
      podsByOwner.set(key, [...(podsByOwner.get(key) ?? []), p]);
    }
    const live = new Set<string>();

    for (const ds of this.ctx.list("daemonsets")) {
      const ns = ds.metadata.namespace ?? "default";
      const key = `DaemonSet/${ns}/${ds.metadata.name}`;
      live.add(key);
      const existing = podsByOwner.get(key) ?? [];
      const eligible = nodes.filter((n) => this.nodeMatches(ds, n));
      for (const n of eligible) {
        if (!existing.some((p) => p.spec?.nodeName === n.metadata.name)) {
          this.createPod(ds, `${ds.metadata.name}-${hash5(`${ns}/${ds.metadata.name}/${n.metadata.name}`)}`, n.metadata.name, "DaemonSet");
        }
      }
      for (const p of existing) if (!eligible.some((n) => n.metadata.name === p.spec?.nodeName)) this.ctx.tryDelete("pods", p.metadata.name, ns);
    }

    for (const d of this.ctx.list("deployments")) {
      const ns = d.metadata.namespace ?? "default";
      const key = `ReplicaSet/${ns}/${d.metadata.name}`;
      live.add(key);
      const want = typeof d.spec?.replicas === "number" ? d.spec.replicas : 1;
      const existing = [...(podsByOwner.get(key) ?? [])].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
      const templateHash = hash5(JSON.stringify(d.spec?.template ?? {})).replace(/^(.)/, "5$1").slice(0, 10);
      // a changed template rolls the pods (all at once: good enough for what the toolkit observes)
      for (const p of existing) {
        if (p.metadata.labels?.["pod-template-hash"] !== templateHash) this.ctx.tryDelete("pods", p.metadata.name, ns);
      }
      const current = existing.filter((p) => p.metadata.labels?.["pod-template-hash"] === templateHash);
      const names = new Set(current.map((p) => p.metadata.name));
      for (let i = 0, missing = want - current.length; missing > 0 && i < want + 1000; i++) {
        const name = `${d.metadata.name}-${templateHash}-${hash5(`${ns}/${d.metadata.name}/${templateHash}/${i}`)}`;
        if (names.has(name)) continue;
        this.createPod(d, name, undefined, "ReplicaSet", templateHash);
        missing--;
      }
      for (const p of current.slice(want)) this.ctx.tryDelete("pods", p.metadata.name, ns);
    }

    // garbage collector: pods whose workload is gone
    for (const [key, list] of podsByOwner) {
      if (live.has(key)) continue;
      for (const p of list) this.ctx.tryDelete("pods", p.metadata.name, p.metadata.namespace);
    }

    // pod GC: pods bound to a Node that no longer exists; taint-based eviction: non-DaemonSet pods on a node that
    // has been unreachable for the default tolerationSeconds (300 s) go and are recreated elsewhere
    for (const n of nodes) {
      const name = n.metadata.name;
      if (nodeState.get(name) !== "Unknown") {
        this.unreachable.delete(name);
        continue;
      }
      if (this.unreachable.has(name)) continue;
      this.unreachable.set(name, "waiting");
      this.ctx.after(300_000, () => {
        if (this.unreachable.get(name) === "waiting") {
          this.unreachable.set(name, "due");
          this.kick();
        }
      });
    }
    for (const p of this.ctx.list("pods")) {
      if (!p.metadata.labels?.["sim.homeops/workload"]) continue;
      const node = p.spec?.nodeName as string | undefined;
      if (!node) continue;
      const gone = !nodeState.has(node);
      const evict = this.unreachable.get(node) === "due" && p.metadata.ownerReferences?.[0]?.kind !== "DaemonSet";
      if (gone || evict) this.ctx.tryDelete("pods", p.metadata.name, p.metadata.namespace);
    }

    // scheduler + kubelet for every pod we own
    const readyNodes = nodes.filter((n) => nodeState.get(n.metadata.name) === "True" && !n.spec?.unschedulable);
    let rr = 0;
    for (const p of this.ctx.list("pods")) {
      if (!p.metadata.labels?.["sim.homeops/workload"]) continue;
      let node = p.spec?.nodeName as string | undefined;
      const hostNetwork = p.spec?.hostNetwork === true;
      if (!node) {
        const candidates = hostNetwork ? nodes.filter((n) => nodeState.get(n.metadata.name) !== "Unknown") : readyNodes;
        const pick = candidates[rr++ % Math.max(1, candidates.length)];
        if (!pick) {
          const total = nodes.length;
          this.ctx.writeStatus("pods", p, {
            phase: "Pending",
            conditions: [
              {
                type: "PodScheduled",
                status: "False",
                reason: "Unschedulable",
                message: `0/${total} nodes are available: ${total} node(s) had untolerated taint {node.kubernetes.io/not-ready: }. preemption: 0/${total} nodes are available: ${total} Preemption is not helpful for scheduling.`,
              },
            ],
            qosClass: "BestEffort",
          }, "default-scheduler");
          continue;
        }
        node = pick.metadata.name;
        try {
          this.ctx.store.mutate("pods", p.metadata.name, p.metadata.namespace, (o) => {
            o.spec = { ...(o.spec ?? {}), nodeName: node };
          }, { fieldManager: "default-scheduler" });
        } catch {
          continue;
        }
      }
      this.kubelet(p, node, nodeState.get(node), hostNetwork);
    }

    // workload statuses
    const allPods = this.ctx.list("pods");
    for (const ds of this.ctx.list("daemonsets")) this.daemonSetStatus(ds, allPods, nodes);
    for (const d of this.ctx.list("deployments")) this.deploymentStatus(d, allPods);
  }

  private nodeMatches(ds: KObj, node: KObj): boolean {
    const sel = (ds.spec?.template?.spec?.nodeSelector ?? {}) as Record<string, string>;
    return Object.entries(sel).every(([k, v]) => node.metadata.labels?.[k] === v);
  }

  private createPod(owner: KObj, name: string, nodeName: string | undefined, ownerKind: "DaemonSet" | "ReplicaSet", templateHash?: string): void {
    const tpl = owner.spec?.template ?? {};
    const ns = owner.metadata.namespace ?? "default";
    const rsName = templateHash ? `${owner.metadata.name}-${templateHash}` : owner.metadata.name;
    const pod: KObj = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name,
        namespace: ns,
        labels: {
          ...(tpl.metadata?.labels ?? {}),
          ...(templateHash ? { "pod-template-hash": templateHash } : { "controller-revision-hash": hash5(JSON.stringify(tpl)) }),
          "sim.homeops/workload": owner.metadata.name,
        },
        ownerReferences: [
          {
            apiVersion: "apps/v1",
            kind: ownerKind,
            name: rsName,
            uid: owner.metadata.uid ?? "",
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: {
        ...(tpl.spec ?? {}),
        containers: tpl.spec?.containers ?? [{ name: owner.metadata.name, image: "registry.invalid/sim:latest" }],
        ...(nodeName ? { nodeName } : {}),
      },
      status: { phase: "Pending", qosClass: "BestEffort" },
    };
    try {
      this.ctx.store.create(pod, { fieldManager: MANAGER });
    } catch {
      /* raced with another reconcile: it exists */
    }
  }

  /** What the kubelet on `node` reports for the pod. */
  private kubelet(p: KObj, node: string, ready: string | undefined, hostNetwork: boolean): void {
    const key = keyOf(p);
    const canRun = ready === "True" || ((ready === "False" || ready === undefined) && hostNetwork);
    const containers = (p.spec?.containers ?? []) as { name: string; image?: string }[];
    if (!canRun) {
      this.started.delete(key);
      if (ready === "Unknown") {
        // the kubelet is gone: the node lifecycle controller marks the pod not ready, the phase stays
        const status = p.status ?? {};
        const conds = [{ type: "Ready", status: "False", reason: "NodeNotReady" }];
        if (status.phase === "Running") this.ctx.writeStatus("pods", p, { ...status, conditions: conds }, "node-controller");
        return;
      }
      this.ctx.writeStatus("pods", p, {
        phase: "Pending",
        conditions: [{ type: "PodScheduled", status: "True" }],
        containerStatuses: containers.map((c) => ({
          name: c.name,
          image: c.image ?? "",
          ready: false,
          restartCount: 0,
          started: false,
          state: { waiting: { reason: "ContainerCreating" } },
        })),
        qosClass: "BestEffort",
      }, "kubelet");
      return;
    }
    const state = this.started.get(key);
    if (state === undefined) {
      this.started.set(key, "pending");
      this.ctx.after("podStart", () => {
        if (this.started.get(key) === "pending") {
          this.started.set(key, "running");
          this.kick();
        }
      });
      if (this.started.get(key) === "pending") return;
    } else if (state === "pending") return;
    const workloadName = p.metadata.labels?.["sim.homeops/workload"] ?? "";
    const workload = `${p.metadata.namespace}/${workloadName}`;
    let health: Health = this.gates.get(workload)?.(node) ?? { ok: true };
    if (health.ok && this.providers.length > 0) {
      const ownerKind = p.metadata.ownerReferences?.[0]?.kind === "DaemonSet" ? "daemonsets" : "deployments";
      const owner = this.ctx.get(ownerKind, workloadName, p.metadata.namespace);
      for (const rule of owner ? this.providers : []) {
        const h = owner ? rule(owner, node) : undefined;
        if (h && !h.ok) {
          health = h;
          break;
        }
      }
    }
    const podIP = hostNetwork ? undefined : `10.244.${Math.abs(hashNum(node)) % 250}.${Math.abs(hashNum(p.metadata.name)) % 250 + 2}`;
    const prevRestarts = ((p.status?.containerStatuses ?? []) as { restartCount?: number }[])[0]?.restartCount ?? 0;
    const startedAt = p.status?.startTime ?? this.ctx.now();
    this.ctx.writeStatus("pods", p, {
      phase: "Running",
      conditions: [
        { type: "PodReadyToStartContainers", status: "True" },
        { type: "Initialized", status: "True" },
        health.ok ? { type: "Ready", status: "True" } : { type: "Ready", status: "False", reason: "ContainersNotReady", message: `containers with unready status: [${containers.map((c) => c.name).join(" ")}]` },
        health.ok ? { type: "ContainersReady", status: "True" } : { type: "ContainersReady", status: "False", reason: "ContainersNotReady", message: `containers with unready status: [${containers.map((c) => c.name).join(" ")}]` },
        { type: "PodScheduled", status: "True" },
      ],
      ...(podIP ? { podIP, podIPs: [{ ip: podIP }] } : {}),
      startTime: startedAt,
      containerStatuses: containers.map((c) => ({
        name: c.name,
        image: c.image ?? "",
        ready: health.ok,
        restartCount: health.ok ? prevRestarts : Math.max(prevRestarts, 1),
        started: health.ok,
        state: health.ok ? { running: { startedAt } } : { waiting: { reason: "CrashLoopBackOff", message: health.message } },
        ...(health.ok ? {} : { lastState: { terminated: { exitCode: 1, reason: "Error", message: health.message } } }),
      })),
      qosClass: "BestEffort",
    }, "kubelet");
  }

  private daemonSetStatus(ds: KObj, pods: KObj[], nodes: KObj[]): void {
    const mine = pods.filter((p) => p.metadata.namespace === ds.metadata.namespace && p.metadata.labels?.["sim.homeops/workload"] === ds.metadata.name && p.metadata.ownerReferences?.[0]?.kind === "DaemonSet");
    const desired = nodes.filter((n) => this.nodeMatches(ds, n)).length;
    const ready = mine.filter(podIsReady).length;
    this.ctx.writeStatus("daemonsets", ds, {
      currentNumberScheduled: mine.filter((p) => p.spec?.nodeName).length,
      desiredNumberScheduled: desired,
      numberAvailable: ready,
      numberMisscheduled: 0,
      numberReady: ready,
      ...(desired - ready > 0 ? { numberUnavailable: desired - ready } : {}),
      observedGeneration: ds.metadata.generation ?? 1,
      updatedNumberScheduled: mine.length,
    }, MANAGER);
  }

  private deploymentStatus(d: KObj, pods: KObj[]): void {
    const mine = pods.filter((p) => p.metadata.namespace === d.metadata.namespace && p.metadata.labels?.["sim.homeops/workload"] === d.metadata.name && p.metadata.ownerReferences?.[0]?.kind === "ReplicaSet");
    const want = typeof d.spec?.replicas === "number" ? d.spec.replicas : 1;
    const ready = mine.filter(podIsReady).length;
    const hash = mine[0]?.metadata.labels?.["pod-template-hash"] ?? "";
    const available = ready >= want;
    const prev = (d.status?.conditions ?? []) as { type: string; status: string; lastTransitionTime?: string }[];
    const now = this.ctx.now();
    const cond = (type: string, status: string, reason: string, message: string) => {
      const old = prev.find((c) => c.type === type);
      const ltt = old && old.status === status && old.lastTransitionTime ? old.lastTransitionTime : now;
      return { type, status, reason, message, lastTransitionTime: ltt, lastUpdateTime: ltt };
    };
    this.ctx.writeStatus("deployments", d, {
      observedGeneration: d.metadata.generation ?? 1,
      replicas: mine.length,
      updatedReplicas: mine.length,
      readyReplicas: ready,
      availableReplicas: ready,
      ...(mine.length - ready > 0 ? { unavailableReplicas: mine.length - ready } : {}),
      conditions: [
        available
          ? cond("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
          : cond("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability."),
        available
          ? cond("Progressing", "True", "NewReplicaSetAvailable", `ReplicaSet "${d.metadata.name}-${hash}" has successfully progressed.`)
          : cond("Progressing", "True", "ReplicaSetUpdated", `ReplicaSet "${d.metadata.name}-${hash}" is progressing.`),
      ],
    }, MANAGER);
  }
}

export function podIsReady(p: KObj): boolean {
  return p.status?.phase === "Running" && ((p.status?.conditions ?? []) as { type: string; status: string }[]).some((c) => c.type === "Ready" && c.status === "True");
}

function hashNum(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;
  return h;
}
