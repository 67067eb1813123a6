/**
 * The USB SSD behind Longhorn, per node, from what Talos reports (talosctl get disks / volumestatus /
 * kernelparamstatus / mountstatus -o json, and the udev rules file Talos writes): the disk is seen with transport
 * usb, the user volume (UserVolumeConfig) is provisioned on it with the declared filesystem and mounted at
 * /var/mnt/<name>, and the declared udev rules and sysctls are in effect.
 */
import { parseJsonStream } from "../talos/parse.ts";
import { formatBytes } from "./longhorn.ts";
import { line, type CheckLine } from "./result.ts";
import type { StorageFacts } from "./facts.ts";

type Obj = Record<string, any>;

/** Where Talos 1.10 writes `machine.udev.rules`. */
export const TALOS_UDEV_RULES_FILE = "/usr/etc/udev/rules.d/99-talos.rules";

/** One node's answers; a string is the error talosctl gave for that read. */
export interface UsbNodeReads {
  node: string;
  address: string;
  disks: Obj[] | string;
  volumes: Obj[] | string;
  kernelParams?: Obj[] | string;
  mounts?: Obj[] | string;
  udevRules?: string | { error: string };
}

export interface DiskInfo {
  id: string;
  devPath: string;
  transport: string;
  model: string;
  serial?: string;
  size: number;
  prettySize: string;
  readonly: boolean;
}

/** The `spec` of each resource of a `talosctl get ... -o json` stream, with its id. */
export function specsOf(text: string): Obj[] {
  return parseJsonStream<Obj>(text).map((r) => ({ id: r?.metadata?.id, node: r?.node, ...(r?.spec ?? {}) }));
}

export function diskInfo(spec: Obj): DiskInfo {
  return {
    id: String(spec.id ?? ""),
    devPath: String(spec.dev_path ?? spec.devPath ?? `/dev/${spec.id ?? ""}`),
    transport: String(spec.transport ?? ""),
    model: String(spec.model ?? "").trim(),
    ...(spec.serial ? { serial: String(spec.serial) } : {}),
    size: Number(spec.size ?? 0),
    prettySize: String(spec.pretty_size ?? spec.prettySize ?? formatBytes(Number(spec.size ?? 0))),
    readonly: spec.readonly === true || spec.cdrom === true,
  };
}

/** Normalises a sysctl name (`vm.dirty_bytes` or `vm/dirty_bytes`) for comparison with KernelParamStatus ids. */
const sysctlKey = (k: string) => k.replace(/\//g, ".").replace(/^proc\.sys\./, "");

export function checkUsbSsd(reads: UsbNodeReads, facts: StorageFacts): CheckLine[] {
  const out: CheckLine[] = [];
  const n = reads.node;
  if (typeof reads.disks === "string") {
    out.push(line(n, "talosctl", "fail", `cannot read disks: ${reads.disks}`, `check that the node (${reads.address}) is up and TALOSCONFIG is right`));
    return out;
  }
  const disks = reads.disks.map(diskInfo);
  const usb = disks.filter((d) => d.transport === "usb" && !d.readonly);
  if (usb.length === 0) {
    const seen = disks.filter((d) => !d.readonly).map((d) => `${d.id} (${d.transport || "?"})`).join(", ") || "none";
    out.push(line(n, "usb disk", "fail", `no USB disk seen (disks: ${seen})`, "plug the USB SSD in (a powered port), then check `talosctl -n <node> dmesg | grep -i usb`"));
  } else for (const d of usb) out.push(line(n, "usb disk", "ok", `${d.devPath}: ${d.model || "unknown model"}, ${d.prettySize}`));

  for (const uv of facts.userVolumes) {
    const id = `u-${uv.name}`;
    if (typeof reads.volumes === "string") {
      out.push(line(n, `volume ${id}`, "fail", `cannot read volume status: ${reads.volumes}`));
      continue;
    }
    const v = reads.volumes.find((x) => x.id === id);
    if (!v) {
      out.push(line(n, `volume ${id}`, "fail", "not configured on the node", `apply the machine config with the UserVolumeConfig "${uv.name}" (${uv.file})`));
      continue;
    }
    const phase = String(v.phase ?? "unknown");
    if (phase !== "ready") {
      const why = phase === "waiting" || phase === "missing" ? `no disk matches ${uv.diskSelector ?? "its selector"} yet` : "";
      out.push(line(n, `volume ${id}`, "fail", `phase ${phase}${why ? `: ${why}` : ""}${v.errorMessage ? ` (${v.errorMessage})` : ""}`, "check the USB SSD is attached and at least the UserVolumeConfig's minSize"));
      continue;
    }
    const location = String(v.location ?? v.parentLocation ?? "");
    const onUsb = usb.find((d) => location.startsWith(d.devPath) || String(v.parentLocation ?? "") === d.devPath);
    out.push(
      onUsb
        ? line(n, `volume ${id}`, "ok", `ready on ${location} (${onUsb.model || onUsb.devPath})`)
        : line(n, `volume ${id}`, "fail", `ready on ${location || "?"}, which is not the USB SSD`, `fix the diskSelector in ${uv.file} (e.g. disk.transport == "usb" && !system_disk)`),
    );
    const fs = String(v.filesystem ?? "");
    out.push(
      fs === uv.filesystem
        ? line(n, `volume ${id}`, "ok", `filesystem ${fs}`)
        : line(n, `volume ${id}`, "fail", `filesystem ${fs || "none"} (declared ${uv.filesystem})`, "Talos 1.10 cannot adopt an existing filesystem: wipe the partition so Talos formats it"),
    );
    const target = v.mountSpec?.targetPath ?? v.mountSpec?.target;
    const mounts = Array.isArray(reads.mounts) ? reads.mounts : undefined;
    const mounted = mounts?.find((m) => (m.target ?? m.targetPath) === uv.mountPath);
    if (typeof target === "string")
      out.push(
        target === uv.mountPath
          ? line(n, `mount ${uv.mountPath}`, "ok", `mounted (${fs})`)
          : line(n, `mount ${uv.mountPath}`, "fail", `mounted at ${target}`, "user volumes mount at /var/mnt/<name>: check the name"),
      );
    else if (mounts) out.push(mounted ? line(n, `mount ${uv.mountPath}`, "ok", `mounted from ${mounted.source ?? location}`) : line(n, `mount ${uv.mountPath}`, "fail", "not mounted", "check `talosctl -n <node> get volumestatus` and dmesg"));
    else out.push(line(n, `mount ${uv.mountPath}`, "info", `ready volume ${id}: Talos mounts it at ${uv.mountPath} (mount status not reported)`));
  }

  const sysctls = Object.entries(facts.sysctls);
  if (sysctls.length) {
    if (reads.kernelParams === undefined || typeof reads.kernelParams === "string")
      out.push(line(n, "sysctls", "warn", `not checked: ${typeof reads.kernelParams === "string" ? reads.kernelParams : "not read"}`, "check with `talosctl -n <node> get kernelparamstatus`"));
    else {
      const params = new Map(reads.kernelParams.map((p) => [sysctlKey(String(p.id ?? "")), p]));
      for (const [k, want] of sysctls) {
        const p = params.get(sysctlKey(k));
        const cur = p ? String(p.current ?? "").trim() : undefined;
        out.push(
          cur === want
            ? line(n, `sysctl ${k}`, "ok", cur)
            : line(n, `sysctl ${k}`, "fail", cur === undefined ? "not set" : `${cur} (declared ${want})`, "apply the machine config (talos-apply-config)"),
        );
      }
    }
  }
  if (facts.udevRules.length) {
    if (reads.udevRules === undefined || typeof reads.udevRules !== "string")
      out.push(line(n, "udev rules", "warn", `not checked: ${reads.udevRules === undefined ? "not read" : reads.udevRules.error}`, `check with \`talosctl -n <node> read ${TALOS_UDEV_RULES_FILE}\``));
    else {
      const have = new Set(reads.udevRules.split("\n").map((l) => l.trim()));
      const missing = facts.udevRules.filter((r) => !have.has(r.trim()));
      out.push(
        missing.length
          ? line(n, "udev rules", "fail", `${missing.length} of ${facts.udevRules.length} declared rule(s) not in effect`, "apply the machine config (talos-apply-config) and reboot if the device was already present")
          : line(n, "udev rules", "ok", `${facts.udevRules.length} rule(s) in effect`),
      );
    }
  }
  return out;
}
