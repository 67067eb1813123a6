import { describe, expect, test } from "bun:test";
import { checkLonghorn, type LonghornLive, volumeConditionMessage } from "../../lib/storage/longhorn.ts";
import { longhornGate } from "../../lib/safety/gates.ts";
import { volumeView } from "../../lib/safety/kube-reader.ts";
import { checkUsbSsd, specsOf, type UsbNodeReads } from "../../lib/storage/usb-ssd.ts";
import { kebab, type StorageFacts } from "../../lib/storage/facts.ts";
import { summarize } from "../../lib/storage/result.ts";

const facts: StorageFacts = {
  userVolumes: [{ name: "longhorn", filesystem: "xfs", mountPath: "/var/mnt/longhorn", diskSelector: 'disk.transport == "usb" && !system_disk', file: "talos/patches/global/machine-storage.yaml" }],
  udevRules: ['ACTION=="add", SUBSYSTEM=="usb", ATTR{power/control}="on"'],
  sysctls: { "vm.dirty_bytes": "268435456" },
  longhornSettings: { "default-data-path": "/var/mnt/longhorn", "default-replica-count": "2", "replica-replenishment-wait-interval": "1800" },
  longhornDataPath: "/var/mnt/longhorn",
  extensions: ["siderolabs/iscsi-tools", "siderolabs/util-linux-tools"],
};

const ready = [{ type: "Ready", status: "True" }, { type: "Schedulable", status: "True" }];
function lhLive(): LonghornLive {
  const node = (name: string) => ({
    metadata: { name },
    spec: { allowScheduling: true, disks: { d1: { path: "/var/mnt/longhorn/", allowScheduling: true } } },
    status: { conditions: ready, diskStatus: { d1: { conditions: ready, diskPath: "/var/mnt/longhorn/", storageMaximum: 1e12, storageAvailable: 6e11 } } },
  });
  return {
    k8sNodes: ["mini01", "mini02", "mini03"].map((name) => ({ metadata: { name } })),
    nodes: ["mini01", "mini02", "mini03"].map(node),
    volumes: [
      { metadata: { name: "pvc-1" }, spec: { numberOfReplicas: 2 }, status: { robustness: "healthy", state: "attached", kubernetesStatus: { namespace: "default", pvcName: "data" } } },
      { metadata: { name: "pvc-2" }, spec: { numberOfReplicas: 2 }, status: { robustness: "unknown", state: "detached" } },
    ],
    settings: [
      { metadata: { name: "default-data-path" }, value: "/var/mnt/longhorn/" },
      { metadata: { name: "default-replica-count" }, value: "2" },
      { metadata: { name: "replica-replenishment-wait-interval" }, value: "1800" },
    ],
    namespace: { metadata: { name: "longhorn-system", labels: { "pod-security.kubernetes.io/enforce": "privileged" } } },
    extensions: new Map([["mini01", ["iscsi-tools", "util-linux-tools", "i915"]]]),
  };
}

const failures = (lines: ReturnType<typeof checkLonghorn>) => lines.filter((l) => l.status === "fail").map((l) => `${l.subject} ${l.check}`);

describe("checkLonghorn", () => {
  test("healthy cluster: nothing fails, free space reported", () => {
    const lines = checkLonghorn(lhLive(), facts);
    expect(failures(lines)).toEqual([]);
    expect(lines.find((l) => l.subject === "mini01/d1")!.detail).toBe("/var/mnt/longhorn: 559 GiB free of 931 GiB");
    expect(summarize(lines).ok).toBe(true);
  });
  test("a degraded and a faulted volume fail with what to do", () => {
    const live = lhLive();
    live.volumes[0]!.status.robustness = "degraded";
    live.volumes[1]!.status.robustness = "faulted";
    const lines = checkLonghorn(live, facts);
    expect(failures(lines)).toEqual(["volume pvc-1 (default/data) robustness", "volume pvc-2 robustness"]);
    expect(lines.find((l) => l.subject.startsWith("volume pvc-1") && l.status === "fail")!.fix).toContain("do not reboot another node");
  });
  test("an unhealthy volume shows Longhorn's own condition message (storage check and the rolling gate)", () => {
    const live = lhLive();
    const message = "replica scheduling failed: 1 of 2 replicas have no schedulable node";
    live.volumes[0]!.status.robustness = "degraded";
    live.volumes[0]!.status.conditions = [
      { type: "Scheduled", status: "False", reason: "ReplicaSchedulingFailure", message },
      { type: "TooManySnapshots", status: "False", reason: "", message: "" },
    ];
    const fail = checkLonghorn(live, facts).find((l) => l.subject.startsWith("volume pvc-1") && l.status === "fail")!;
    expect(fail.detail).toContain(`Longhorn: Scheduled: ${message}`);
    const gate = longhornGate(live.volumes.map((v) => volumeView(v as never)));
    expect(gate.ok).toBe(false);
    expect(gate.problems[0]).toContain(message);
    // a healthy condition's message is not a problem
    live.volumes[0]!.status.conditions = [{ type: "Scheduled", status: "True", reason: "", message: "scheduled" }];
    expect(volumeConditionMessage(live.volumes[0]!.status)).toBeUndefined();
  });
  test("a disk outside the user volume, a node not schedulable, a missing Longhorn node", () => {
    const live = lhLive();
    live.nodes[0]!.spec.disks.d1.path = "/var/lib/longhorn/";
    live.nodes[1]!.spec.allowScheduling = false;
    live.nodes.pop();
    // with one schedulable node left, 2-replica volumes cannot be placed either
    expect(failures(checkLonghorn(live, facts))).toEqual([
      "mini01/d1 disk path",
      "mini02 node schedulable",
      "mini03 longhorn node",
      "volume pvc-1 (default/data) replicas",
      "volume pvc-2 replicas",
    ]);
  });
  test("settings: data path drift fails, other drift warns, short replenishment wait warns", () => {
    const live = lhLive();
    live.settings[0]!.value = "/var/lib/longhorn/";
    live.settings[2]!.value = "600";
    const lines = checkLonghorn(live, facts);
    expect(failures(lines)).toContain("setting default-data-path value");
    const warns = lines.filter((l) => l.status === "warn").map((l) => `${l.subject} ${l.check}`);
    expect(warns).toEqual(["setting replica-replenishment-wait-interval value", "setting replica-replenishment-wait-interval talos reboots"]);
  });
  test("replicas above the schedulable nodes fail; below the setting warn", () => {
    const live = lhLive();
    live.volumes[0]!.spec.numberOfReplicas = 4;
    live.volumes[1]!.spec.numberOfReplicas = 1;
    const lines = checkLonghorn(live, facts);
    expect(failures(lines)).toEqual(["volume pvc-1 (default/data) replicas"]);
    expect(lines.find((l) => l.subject === "volume pvc-2" && l.check === "replicas")!.status).toBe("warn");
  });
  test("namespace without privileged pod security, node without iscsi-tools", () => {
    const live = lhLive();
    live.namespace!.metadata.labels = {};
    live.extensions = new Map([["mini02", ["util-linux-tools"]]]);
    expect(failures(checkLonghorn(live, facts))).toEqual(["longhorn-system pod security", "mini02 extensions"]);
  });
});

const disks = `{
    "node": "172.29.51.11",
    "metadata": {"namespace": "runtime", "type": "Disks.block.talos.dev", "id": "nvme0n1"},
    "spec": {"dev_path": "/dev/nvme0n1", "size": 251000193024, "pretty_size": "251 GB", "transport": "nvme", "model": "APPLE SSD AP0256M", "readonly": false}
}
{
    "node": "172.29.51.11",
    "metadata": {"namespace": "runtime", "type": "Disks.block.talos.dev", "id": "sda"},
    "spec": {"dev_path": "/dev/sda", "size": 1000204886016, "pretty_size": "1.0 TB", "transport": "usb", "model": "Portable SSD T5", "readonly": false}
}
`;
const volumes = `{
    "node": "172.29.51.11",
    "metadata": {"namespace": "runtime", "type": "VolumeStatuses.block.talos.dev", "id": "u-longhorn"},
    "spec": {"type": "partition", "phase": "ready", "location": "/dev/sda1", "parentLocation": "/dev/sda", "filesystem": "xfs", "mountSpec": {"targetPath": "/var/mnt/longhorn"}}
}`;

function reads(): UsbNodeReads {
  return {
    node: "mini01",
    address: "172.29.51.11",
    disks: specsOf(disks),
    volumes: specsOf(volumes),
    // Talos names KernelParamStatus resources by their /proc/sys path: proc.sys.vm.dirty_bytes
    kernelParams: [{ id: "proc.sys.vm.dirty_bytes", current: "268435456", default: "0", unsupported: false }],
    udevRules: `# generated\n${facts.udevRules[0]}\n`,
  };
}

describe("checkUsbSsd", () => {
  test("all in order: USB disk, volume on it, xfs, mounted, sysctl and udev in effect", () => {
    const lines = checkUsbSsd(reads(), facts);
    expect(lines.map((l) => `${l.status} ${l.check}`)).toEqual([
      "ok usb disk",
      "ok volume u-longhorn",
      "ok volume u-longhorn",
      "ok mount /var/mnt/longhorn",
      "ok sysctl vm.dirty_bytes",
      "ok udev rules",
    ]);
    expect(lines[0]!.detail).toBe("/dev/sda: Portable SSD T5, 1.0 TB");
  });
  test("USB SSD missing: no usb disk and the volume waiting", () => {
    const r = reads();
    r.disks = (r.disks as object[]).filter((d: any) => d.transport !== "usb");
    (r.volumes as any[])[0].phase = "waiting";
    const lines = checkUsbSsd(r, facts);
    expect(lines.filter((l) => l.status === "fail").map((l) => l.check)).toEqual(["usb disk", "volume u-longhorn"]);
    expect(lines[0]!.detail).toBe("no USB disk seen (disks: nvme0n1 (nvme))");
    expect(lines[1]!.detail).toContain('no disk matches disk.transport == "usb"');
  });
  test("volume on the wrong disk, wrong filesystem, wrong mount, sysctl and udev drift", () => {
    const r = reads();
    Object.assign((r.volumes as any[])[0], { location: "/dev/nvme0n1p7", parentLocation: "/dev/nvme0n1", filesystem: "ext4", mountSpec: { targetPath: "/var/mnt/other" } });
    r.kernelParams = [{ id: "vm/dirty_bytes", current: "0" }];
    r.udevRules = "";
    const fails = checkUsbSsd(r, facts).filter((l) => l.status === "fail").map((l) => `${l.check}: ${l.detail}`);
    expect(fails).toEqual([
      "volume u-longhorn: ready on /dev/nvme0n1p7, which is not the USB SSD",
      "volume u-longhorn: filesystem ext4 (declared xfs)",
      "mount /var/mnt/longhorn: mounted at /var/mnt/other",
      "sysctl vm.dirty_bytes: 0 (declared 268435456)",
      "udev rules: 1 of 1 declared rule(s) not in effect",
    ]);
  });
  test("an unreachable node is one failure; unsupported reads are warnings", () => {
    const r = reads();
    r.disks = "rpc error: code = Unavailable";
    expect(checkUsbSsd(r, facts).map((l) => l.status)).toEqual(["fail"]);
    const r2 = reads();
    r2.kernelParams = 'resource type "kernelparamstatus" is not registered';
    r2.udevRules = { error: "unknown command" };
    expect(checkUsbSsd(r2, facts).filter((l) => l.status === "warn").map((l) => l.check)).toEqual(["sysctls", "udev rules"]);
  });
  test("kebab turns Helm defaultSettings keys into Setting names", () => {
    expect(kebab("defaultDataPath")).toBe("default-data-path");
    expect(kebab("replicaReplenishmentWaitInterval")).toBe("replica-replenishment-wait-interval");
  });
});
