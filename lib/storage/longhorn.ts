/**
 * Longhorn on Talos, judged from the live objects (longhorn.io/v1beta2 Nodes, Volumes, Settings; core Nodes; the
 * longhorn-system Namespace) against what the repo declares (StorageFacts): every Kubernetes node has a schedulable
 * Longhorn node whose disk sits at the Talos user volume's mount (/var/mnt/longhorn) with its free space; every
 * volume's robustness and replica count vs the setting; the settings that matter on Talos; the namespace's
 * `privileged` pod-security level; the iscsi-tools and util-linux-tools extensions.
 */
import { line, type CheckLine } from "./result.ts";
import type { StorageFacts } from "./facts.ts";

type Obj = Record<string, any>;

export interface LonghornLive {
  k8sNodes: Obj[];
  nodes: Obj[];
  volumes: Obj[];
  /** Setting objects (name -> .value) */
  settings: Obj[];
  namespace?: Obj;
  /** Talos extensions per node (short names like iscsi-tools); undefined when talosctl was not asked */
  extensions?: Map<string, string[]>;
}

const cond = (o: Obj | undefined, type: string): Obj | undefined => (Array.isArray(o?.conditions) ? o!.conditions.find((c: Obj) => c?.type === type) : undefined);

/** The status each Longhorn volume condition has when all is well; any other status with a message is a problem. */
const VOLUME_CONDITION_OK: Record<string, string> = { Scheduled: "True", Restore: "False", TooManySnapshots: "False", WaitForBackingImage: "False" };

/**
 * Longhorn's own words for what is wrong with a volume: the messages of its conditions that are not in their
 * healthy status (e.g. Scheduled=False "…replica scheduling failed…"), joined; undefined when none says anything.
 */
export function volumeConditionMessage(status: Obj | undefined): string | undefined {
  const msgs = (Array.isArray(status?.conditions) ? (status!.conditions as Obj[]) : [])
    .filter((c) => c?.message && VOLUME_CONDITION_OK[String(c.type)] !== undefined && String(c.status) !== VOLUME_CONDITION_OK[String(c.type)])
    .map((c) => `${c.type}: ${c.message}`);
  return msgs.length ? msgs.join("; ") : undefined;
}

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) (v /= 1024), i++;
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

const trimSlash = (p: string) => (p.length > 1 ? p.replace(/\/+$/, "") : p);

export function checkLonghorn(live: LonghornLive, facts: StorageFacts): CheckLine[] {
  const out: CheckLine[] = [];
  const settings = new Map<string, string>(live.settings.map((s) => [String(s.metadata?.name ?? ""), String(s.value ?? "")]));
  const dataPath = trimSlash(facts.longhornDataPath);

  // namespace pod security (Talos enforces baseline by default; Longhorn's pods need privileged)
  if (live.namespace) {
    const level = live.namespace.metadata?.labels?.["pod-security.kubernetes.io/enforce"];
    out.push(
      level === "privileged"
        ? line("longhorn-system", "pod security", "ok", "enforce=privileged")
        : line("longhorn-system", "pod security", "fail", `enforce=${level ?? "(unset: Talos default baseline)"}`, "label the namespace pod-security.kubernetes.io/enforce=privileged"),
    );
  } else out.push(line("longhorn-system", "namespace", "fail", "does not exist", "deploy Longhorn (Flux: kubernetes/apps/longhorn-system)"));

  // nodes and disks
  const lhNodes = new Map(live.nodes.map((n) => [String(n.metadata?.name ?? ""), n]));
  for (const k of live.k8sNodes) {
    const name = String(k.metadata?.name ?? "");
    const n = lhNodes.get(name);
    if (!n) {
      out.push(line(name, "longhorn node", "fail", "no longhorn.io Node", "check the longhorn-manager pod on this node (iscsi-tools extension, privileged namespace)"));
      continue;
    }
    const ready = cond(n.status, "Ready");
    const sched = cond(n.status, "Schedulable");
    if (ready?.status !== "True")
      out.push(line(name, "node ready", "fail", `${ready?.reason ?? "unknown"}${ready?.message ? `: ${ready.message}` : ""}`, "bring the node and its longhorn-manager pod back"));
    else if (n.spec?.allowScheduling === false || sched?.status !== "True")
      out.push(line(name, "node schedulable", "fail", n.spec?.allowScheduling === false ? "scheduling disabled on the node" : `${sched?.reason ?? "not schedulable"}`, "enable scheduling on the Longhorn node (and uncordon it)"));
    else out.push(line(name, "node", "ok", "ready, schedulable"));
    const disks = Object.entries((n.spec?.disks ?? {}) as Record<string, Obj>);
    if (disks.length === 0) out.push(line(name, "disk", "fail", "no disk", `add a disk at ${dataPath}`));
    for (const [dn, d] of disks) {
      const st = (n.status?.diskStatus ?? {})[dn] as Obj | undefined;
      const path = trimSlash(String(d.path ?? st?.diskPath ?? ""));
      const subject = `${name}/${dn}`;
      if (path !== dataPath) {
        out.push(line(subject, "disk path", "fail", `${path} (expected ${dataPath})`, `Longhorn must use the Talos user volume at ${dataPath}: set defaultSettings.defaultDataPath and replace the disk`));
        continue;
      }
      const dReady = cond(st, "Ready");
      const dSched = cond(st, "Schedulable");
      const max = Number(st?.storageMaximum ?? 0);
      const avail = Number(st?.storageAvailable ?? 0);
      const free = `${formatBytes(avail)} free of ${formatBytes(max)}`;
      if (dReady?.status !== "True") {
        out.push(line(subject, "disk", "fail", `${path}: not ready (${dReady?.reason ?? "no status"})`, `check the USB SSD and the user volume at ${dataPath} (bun scripts/storage-validate-usb-ssd.ts)`));
        continue;
      }
      const minPct = Number(settings.get("storage-minimal-available-percentage") ?? facts.longhornSettings["storage-minimal-available-percentage"] ?? 25);
      if (d.allowScheduling === false || dSched?.status !== "True")
        out.push(line(subject, "disk", "warn", `${path}: not schedulable, ${free}`, "enable scheduling on the disk"));
      else if (max > 0 && (avail / max) * 100 < minPct)
        out.push(line(subject, "disk", "warn", `${path}: ${free}, below storage-minimal-available-percentage ${minPct}%`, "free space or add capacity"));
      else out.push(line(subject, "disk", "ok", `${path}: ${free}`));
    }
  }

  // volumes
  const schedulable = live.nodes.filter((n) => cond(n.status, "Ready")?.status === "True" && n.spec?.allowScheduling !== false).length;
  const defaultReplicas = Number(settings.get("default-replica-count") ?? facts.longhornSettings["default-replica-count"] ?? 3);
  for (const v of live.volumes) {
    const name = String(v.metadata?.name ?? "");
    const pvc = v.status?.kubernetesStatus?.pvcName ? ` (${v.status.kubernetesStatus.namespace}/${v.status.kubernetesStatus.pvcName})` : "";
    const subject = `volume ${name}${pvc}`;
    const robustness = String(v.status?.robustness ?? "unknown");
    const state = String(v.status?.state ?? "unknown");
    const replicas = Number(v.spec?.numberOfReplicas ?? 0);
    const longhornSays = volumeConditionMessage(v.status);
    const says = longhornSays ? ` (Longhorn: ${longhornSays})` : "";
    if (robustness === "faulted") out.push(line(subject, "robustness", "fail", `faulted (${state}): no healthy replica${says}`, "salvage the volume in the Longhorn UI; restore from backup if it cannot be salvaged"));
    else if (robustness === "degraded")
      out.push(line(subject, "robustness", "fail", `degraded (${state}): fewer than ${replicas} healthy replicas${says}`, "wait for the rebuild, or bring back the node holding the failed replica; do not reboot another node meanwhile"));
    else if (robustness === "healthy") out.push(line(subject, "robustness", "ok", `healthy (${state})`));
    else out.push(line(subject, "robustness", "info", `${robustness} (${state}): detached volumes report no robustness`));
    if (replicas > schedulable && schedulable > 0)
      out.push(line(subject, "replicas", "fail", `${replicas} replicas but ${schedulable} schedulable node(s)`, `lower numberOfReplicas to ${schedulable} or add nodes`));
    else if (replicas < defaultReplicas)
      out.push(line(subject, "replicas", "warn", `${replicas} replicas, default-replica-count is ${defaultReplicas}`, `raise numberOfReplicas to ${defaultReplicas}`));
    else out.push(line(subject, "replicas", "ok", `${replicas} (setting ${defaultReplicas})`));
  }

  // settings that matter on Talos: what the repo declares must be what runs
  for (const [key, want] of Object.entries(facts.longhornSettings)) {
    const have = settings.get(key);
    if (have === undefined) out.push(line(`setting ${key}`, "value", "warn", `not set (repo: ${want})`, "check the longhorn-default-setting ConfigMap"));
    else if (trimSlash(have) !== trimSlash(want))
      out.push(line(`setting ${key}`, "value", key === "default-data-path" ? "fail" : "warn", `${have} (repo: ${want})`, "Longhorn applies defaultSettings only on first install: change it in the Longhorn UI or with kubectl edit settings.longhorn.io"));
    else out.push(line(`setting ${key}`, "value", "ok", have));
  }
  const wait = Number(settings.get("replica-replenishment-wait-interval") ?? 600);
  if (wait <= 600)
    out.push(line("setting replica-replenishment-wait-interval", "talos reboots", "warn", `${wait}s: a Talos drain + reboot can take longer, and every replica is then rebuilt in full`, "set it to 1800 or more"));
  if (defaultReplicas > live.k8sNodes.length)
    out.push(line("setting default-replica-count", "node count", "fail", `${defaultReplicas} > ${live.k8sNodes.length} nodes`, `set default-replica-count to at most ${live.k8sNodes.length}`));

  // extensions Longhorn needs on Talos
  if (live.extensions) {
    for (const [node, exts] of live.extensions) {
      const missing = ["iscsi-tools", "util-linux-tools"].filter((e) => !exts.includes(e));
      out.push(
        missing.length
          ? line(node, "extensions", "fail", `missing ${missing.join(", ")} (has ${exts.join(", ") || "none"})`, "add siderolabs/iscsi-tools and siderolabs/util-linux-tools to talos/schematic.yaml and upgrade the node with the new installer image")
          : line(node, "extensions", "ok", "iscsi-tools, util-linux-tools"),
      );
    }
  }
  return out;
}
