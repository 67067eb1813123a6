/**
 * Stands for: longhorn-manager (Longhorn 1.8/1.9, API longhorn.io/v1beta2). Once its DaemonSet runs it creates
 * the Settings (chart defaults overlaid with `defaultSettings` from the longhorn-default-setting ConfigMap), one
 * longhorn.io Node per Kubernetes node with its default disk at `default-data-path` (the Talos user volume
 * /var/mnt/longhorn when the values say so; Longhorn's own default /var/lib/longhorn/ otherwise), and a few sample
 * volumes (2 replicas each, on distinct nodes).
 *
 * Volume robustness follows the replicas like the real one: a replica on a node that is NotReady/Unknown (or whose
 * manager is down) fails -> `degraded` (or `faulted` when none is left); when the node is back the replica is
 * rebuilt, which takes a while (the longhornRebuild delay), then `healthy` again.
 */
import type { StoreEvent } from "../store.ts";
import { type KObj, nodeReady, setConditions } from "./obj.ts";
import { type Ctx, Reconciler } from "./runtime.ts";
import { podIsReady } from "./workloads.ts";

const NS = "longhorn-system";
const GROUP = "longhorn.io";
const API = "longhorn.io/v1beta2";
const K = {
  node: { group: GROUP, resource: "nodes" },
  volume: { group: GROUP, resource: "volumes" },
  setting: { group: GROUP, resource: "settings" },
};

/** Longhorn's built-in defaults for the settings the toolkit looks at. */
export const LONGHORN_DEFAULT_SETTINGS: Record<string, string> = {
  "default-data-path": "/var/lib/longhorn/",
  "default-replica-count": "3",
  "replica-replenishment-wait-interval": "600",
  "node-down-pod-deletion-policy": "do-nothing",
  "storage-over-provisioning-percentage": "100",
  "storage-minimal-available-percentage": "25",
  "create-default-disk-labeled-nodes": "false",
  "default-data-locality": "disabled",
  "replica-soft-anti-affinity": "false",
  "node-drain-policy": "block-if-contains-last-replica",
  "concurrent-replica-rebuild-per-node-limit": "5",
  "auto-salvage": "true",
};

export interface SampleVolume {
  name: string;
  /** bytes */
  size: number;
  replicas: number;
  pvc?: { namespace: string; name: string };
}

export interface LonghornOptions {
  /** volumes to create once Longhorn runs (default: three 2-replica volumes) */
  volumes?: SampleVolume[];
  /** disk size per node in bytes (default 1 TB: the USB SSD) */
  diskBytes?: number;
}

const DEFAULT_VOLUMES: SampleVolume[] = [
  { name: "pvc-6d1c5e2a-2f0b-4c1e-9a57-3f1b2c4d5e60", size: 10 * 2 ** 30, replicas: 2, pvc: { namespace: "identity", name: "authentik-db-1" } },
  { name: "pvc-9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", size: 20 * 2 ** 30, replicas: 2, pvc: { namespace: "observability", name: "prometheus-db" } },
  { name: "pvc-0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", size: 5 * 2 ** 30, replicas: 2, pvc: { namespace: "default", name: "sim-data" } },
];

interface ReplicaState {
  node: string;
  /** healthy | failed | rebuilding */
  mode: "healthy" | "failed" | "rebuilding";
}

export class LonghornController extends Reconciler {
  readonly name = "longhorn";
  private readonly replicas = new Map<string, ReplicaState[]>();
  private volumesCreated = false;

  constructor(
    ctx: Ctx,
    private readonly opts: LonghornOptions = {},
  ) {
    super(ctx);
  }

  protected interested(ev: StoreEvent): boolean {
    const k = ev.kind;
    if (k.group === GROUP) return k.kind !== "Volume" && k.kind !== "Node" ? true : ev.type === "DELETED";
    if (k.group === "") return k.kind === "Node" || k.kind === "Namespace" || (k.kind === "Pod" && ev.object.metadata.namespace === NS) || (k.kind === "ConfigMap" && ev.object.metadata.namespace === NS);
    return k.group === "apps" && ev.object.metadata.namespace === NS;
  }

  /** Nodes where longhorn-manager is Ready. */
  private managers(): Set<string> {
    return new Set(
      this.ctx
        .list("pods", NS)
        .filter((p) => p.metadata.labels?.app === "longhorn-manager" && podIsReady(p))
        .map((p) => p.spec?.nodeName as string),
    );
  }

  private settings(): Record<string, string> {
    const out = { ...LONGHORN_DEFAULT_SETTINGS };
    const yaml = this.ctx.get("configmaps", "longhorn-default-setting", NS)?.data?.["default-setting.yaml"] ?? "";
    for (const line of yaml.split("\n")) {
      const m = line.match(/^([a-z0-9-]+):\s*(.*)$/);
      if (!m || m[2] === undefined) continue;
      let v = m[2].trim();
      if (v.startsWith('"') && v.endsWith('"')) v = JSON.parse(v) as string;
      out[m[1] ?? ""] = v;
    }
    return out;
  }

  protected reconcile(): void {
    if (!this.ctx.store.kinds.tryResolve(K.volume) || !this.ctx.store.kinds.tryResolve(K.node) || !this.ctx.store.kinds.tryResolve(K.setting)) return;
    const managers = this.managers();
    if (managers.size === 0 && this.ctx.list(K.node).length === 0) return;
    const settings = this.settings();
    for (const [name, value] of Object.entries(settings)) {
      const cur = this.ctx.get(K.setting, name, NS);
      if (cur && (cur as { value?: string }).value === value) continue;
      this.ctx.upsert({ apiVersion: API, kind: "Setting", metadata: { name, namespace: NS }, value } as KObj, "longhorn-manager");
    }
    const now = this.ctx.now();
    const k8sNodes = this.ctx.list("nodes");
    const up = new Set(k8sNodes.filter((n) => nodeReady(n) === "True" && managers.has(n.metadata.name)).map((n) => n.metadata.name));
    const dataPath = settings["default-data-path"] ?? "/var/lib/longhorn/";
    const diskBytes = this.opts.diskBytes ?? 1_000_204_886_016;
    for (const n of k8sNodes) {
      const name = n.metadata.name;
      const existing = this.ctx.get(K.node, name, NS);
      if (!existing && !managers.has(name)) continue; // the manager on that node creates its Longhorn node
      const diskName = existing ? Object.keys(existing.spec?.disks ?? {})[0] : undefined;
      const disk = diskName ?? `default-disk-${Bun.hash(`${name}${dataPath}`).toString(16).slice(0, 12)}`;
      if (!existing) {
        this.ctx.upsert(
          {
            apiVersion: API,
            kind: "Node",
            metadata: { name, namespace: NS },
            spec: {
              name,
              allowScheduling: true,
              evictionRequested: false,
              tags: [],
              instanceManagerCPURequest: 0,
              disks: { [disk]: { path: dataPath, allowScheduling: true, evictionRequested: false, storageReserved: Math.round(diskBytes * 0.3), tags: [], diskType: "filesystem", diskDriver: "" } },
            },
          },
          "longhorn-manager",
        );
      }
      const node = this.ctx.get(K.node, name, NS);
      if (!node) continue;
      const ready = up.has(name);
      const k8sReady = nodeReady(n) === "True";
      const used = [...this.replicas.entries()].filter(([, rs]) => rs.some((r) => r.node === name)).reduce((acc, [v]) => acc + (this.volumeSpec(v)?.size ?? 0), 0);
      const diskStatus = Object.fromEntries(
        Object.entries((node.spec?.disks ?? {}) as Record<string, { path: string; storageReserved?: number }>).map(([dn, d]) => [
          dn,
          {
            conditions: setConditions(node.status?.diskStatus?.[dn]?.conditions, [
              ready ? { type: "Ready", status: "True", reason: "", message: `Disk ${dn}(${d.path}) on node ${name} is ready` } : { type: "Ready", status: "False", reason: "NoDiskInfo", message: `Disk ${dn}(${d.path}) on node ${name} is not ready: failed to get disk info` },
              ready ? { type: "Schedulable", status: "True", reason: "", message: `Disk ${dn}(${d.path}) on node ${name} is schedulable` } : { type: "Schedulable", status: "False", reason: "DiskNotReady", message: `Disk ${dn}(${d.path}) on node ${name} is not schedulable` },
            ], now),
            diskType: "filesystem",
            diskUUID: Bun.hash(`${name}/${dn}`).toString(16),
            diskPath: d.path,
            filesystemType: "xfs",
            storageAvailable: ready ? diskBytes - used : 0,
            storageMaximum: ready ? diskBytes : 0,
            storageScheduled: used,
            scheduledReplica: {},
          },
        ]),
      );
      this.ctx.writeStatus(K.node, node, {
        conditions: setConditions(node.status?.conditions, [
          ready
            ? { type: "Ready", status: "True", reason: "", message: "" }
            : k8sReady
              ? { type: "Ready", status: "False", reason: "ManagerPodDown", message: `Node ${name} is down: the manager pod longhorn-manager is not running` }
              : { type: "Ready", status: "False", reason: "KubernetesNodeNotReady", message: `Kubernetes node ${name} not ready: ${nodeReady(n) ?? "Unknown"}` },
          ready ? { type: "Schedulable", status: "True", reason: "", message: "" } : { type: "Schedulable", status: "False", reason: "KubernetesNodeCordoned", message: `Node ${name} is not schedulable` },
          { type: "MountPropagation", status: "True", reason: "", message: "" },
        ], now),
        diskStatus,
        region: "",
        zone: "",
        autoEvicting: false,
      }, "longhorn-manager");
    }
    if (!this.volumesCreated && managers.size > 0) {
      this.volumesCreated = true;
      for (const v of this.opts.volumes ?? DEFAULT_VOLUMES) this.createVolume(v, [...managers].sort());
    }
    for (const vol of this.ctx.list(K.volume, NS)) this.volumeStatus(vol, up, now);
  }

  private volumeSpec(name: string): { size: number } | undefined {
    const v = this.ctx.get(K.volume, name, NS);
    return v ? { size: Number(v.spec?.size ?? 0) } : undefined;
  }

  private createVolume(v: SampleVolume, nodes: string[]): void {
    if (this.ctx.get(K.volume, v.name, NS)) return;
    const offset = Math.abs(Number(Bun.hash(v.name) % 997n));
    const picked = nodes.length === 0 ? [] : Array.from({ length: Math.min(v.replicas, nodes.length) }, (_, i) => nodes[(offset + i) % nodes.length] as string);
    this.replicas.set(v.name, picked.map((node) => ({ node, mode: "healthy" })));
    this.ctx.upsert(
      {
        apiVersion: API,
        kind: "Volume",
        metadata: { name: v.name, namespace: NS, labels: { longhornvolume: v.name } },
        spec: {
          numberOfReplicas: v.replicas,
          size: String(v.size),
          frontend: "blockdev",
          dataLocality: "disabled",
          accessMode: "rwo",
          dataEngine: "v1",
          replicaAutoBalance: "ignored",
          nodeID: picked[0] ?? "",
          staleReplicaTimeout: 30,
        },
      },
      "longhorn-manager",
    );
    const created = this.ctx.get(K.volume, v.name, NS);
    if (created && v.pvc) {
      this.ctx.writeStatus(K.volume, created, { ...(created.status ?? {}), kubernetesStatus: { namespace: v.pvc.namespace, pvcName: v.pvc.name, pvName: v.name, pvStatus: "Bound", lastPVCRefAt: "", lastPodRefAt: "", workloadsStatus: null } }, "longhorn-manager");
    }
  }

  /**
   * The PersistentVolume (CSI driver.longhorn.io) and the Bound PersistentVolumeClaim a volume that names a PVC
   * stands behind, once the claim's namespace exists (what the CSI provisioner leaves).
   */
  private bindClaim(vol: KObj): void {
    const ks = vol.status?.kubernetesStatus as { namespace?: string; pvcName?: string } | undefined;
    if (!ks?.namespace || !ks.pvcName || !this.ctx.get("namespaces", ks.namespace)) return;
    if (this.ctx.get("persistentvolumeclaims", ks.pvcName, ks.namespace)) return;
    const size = `${Math.max(1, Math.round(Number(vol.spec?.size ?? 0) / 2 ** 30))}Gi`;
    const pv = vol.metadata.name;
    this.ctx.upsert(
      {
        apiVersion: "v1",
        kind: "PersistentVolume",
        metadata: { name: pv, annotations: { "pv.kubernetes.io/provisioned-by": "driver.longhorn.io" } },
        spec: {
          capacity: { storage: size },
          accessModes: ["ReadWriteOnce"],
          persistentVolumeReclaimPolicy: "Delete",
          storageClassName: "longhorn",
          volumeMode: "Filesystem",
          csi: { driver: "driver.longhorn.io", volumeHandle: pv, fsType: "ext4" },
          claimRef: { apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: ks.namespace, name: ks.pvcName },
        },
      } as KObj,
      "longhorn-csi-provisioner",
    );
    const pvObj = this.ctx.get("persistentvolumes", pv);
    if (pvObj) this.ctx.writeStatus("persistentvolumes", pvObj, { phase: "Bound" }, "kube-controller-manager");
    this.ctx.upsert(
      {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: { name: ks.pvcName, namespace: ks.namespace },
        spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: size } }, storageClassName: "longhorn", volumeMode: "Filesystem", volumeName: pv },
      } as KObj,
      "kube-controller-manager",
    );
    const pvc = this.ctx.get("persistentvolumeclaims", ks.pvcName, ks.namespace);
    if (pvc) this.ctx.writeStatus("persistentvolumeclaims", pvc, { phase: "Bound", accessModes: ["ReadWriteOnce"], capacity: { storage: size } }, "kube-controller-manager");
  }

  private volumeStatus(vol: KObj, up: Set<string>, now: string): void {
    this.bindClaim(vol);
    const name = vol.metadata.name;
    let reps = this.replicas.get(name);
    if (!reps) {
      // a volume someone else created: place its replicas now
      const nodes = [...up].sort();
      reps = nodes.slice(0, Number(vol.spec?.numberOfReplicas ?? 3)).map((node) => ({ node, mode: "healthy" as const }));
      this.replicas.set(name, reps);
    }
    // a volume short of replicas (created while only some managers ran) gets new ones on schedulable nodes that
    // hold none yet, as Longhorn's replica scheduler retries; each is rebuilt from a healthy one before it counts
    const want0 = Number(vol.spec?.numberOfReplicas ?? 3);
    const source = reps.some((r) => r.mode === "healthy");
    for (const node of [...up].sort()) {
      if (reps.length >= want0 || !source) break;
      if (reps.some((r) => r.node === node)) continue;
      const rec: ReplicaState = { node, mode: "rebuilding" };
      reps.push(rec);
      this.ctx.after("longhornRebuild", () => {
        if (rec.mode === "rebuilding") {
          rec.mode = "healthy";
          this.kick();
        }
      });
    }
    for (const r of reps) {
      if (!up.has(r.node)) r.mode = "failed";
      else if (r.mode === "failed") {
        r.mode = "rebuilding";
        const rec = r;
        this.ctx.after("longhornRebuild", () => {
          if (rec.mode === "rebuilding") {
            rec.mode = "healthy";
            this.kick();
          }
        });
      }
    }
    const want = Number(vol.spec?.numberOfReplicas ?? 3);
    const healthy = reps.filter((r) => r.mode === "healthy").length;
    const robustness = healthy === 0 ? "faulted" : healthy < want ? "degraded" : "healthy";
    const owner = (vol.spec?.nodeID as string | undefined) ?? "";
    const attached = owner !== "" && up.has(owner);
    this.ctx.writeStatus(K.volume, vol, {
      ...(vol.status ?? {}),
      state: attached ? "attached" : owner ? "detached" : "detached",
      robustness: attached || robustness !== "healthy" ? robustness : "unknown",
      currentNodeID: attached ? owner : "",
      frontendDisabled: false,
      actualSize: Math.round(Number(vol.spec?.size ?? 0) * 0.12),
      conditions: setConditions(vol.status?.conditions, [
        reps.length >= want
        ? { type: "Scheduled", status: "True", reason: "", message: "" }
        : { type: "Scheduled", status: "False", reason: "ReplicaSchedulingFailure", message: `replica scheduling failed: ${want - reps.length} of ${want} replicas have no schedulable node (${up.size} node(s) with a ready longhorn-manager)` },
        { type: "Restore", status: "False", reason: "", message: "" },
        { type: "TooManySnapshots", status: "False", reason: "", message: "" },
      ], now),
    }, "longhorn-manager");
  }
}
