import { defineScript, ExitCode, UsageError } from "../lib/cli/index.ts";
import type { UsbNodeReads } from "../lib/storage/usb-ssd.ts";

export default defineScript(import.meta, {
  name: "storage-validate-usb-ssd",
  area: "storage",
  summary: "check per node via talosctl: USB SSD seen, user volume XFS at /var/mnt/longhorn, udev rules and sysctls",
  description: `
Asks every node (talosctl, read-only) for its disks, volume status, kernel parameters, mounts and the udev rules
file, and compares them with the repo's UserVolumeConfig, machine.udev.rules and machine.sysctls: the USB SSD is
seen (transport usb, model, size), the user volume is provisioned on it, formatted as declared (XFS) and mounted at
/var/mnt/<name>, and the rules and sysctls are in effect. Exit 1 when a check fails.`,
  replaces: ["storage:validate-usb-ssd", "storage:check-usb-ssd", "network:check-usb"],
  live: true,
  args: "[node...]",
  examples: ["bun scripts/storage-validate-usb-ssd.ts", "bun scripts/storage-validate-usb-ssd.ts mini02 --json", "bun scripts/storage-validate-usb-ssd.ts --simulate"],
  async run({ args, out, exec, env, root, json }) {
    // loaded here, not at the top: --help and flag errors answer without the library
    const [
      { loadRepo },
      { inventoryFromModel, makeTalosctl },
      { talosErrorSummary },
      { storageFacts },
      { printChecks, summarize },
      { checkUsbSsd, specsOf, TALOS_UDEV_RULES_FILE },
    ] = await Promise.all([
      import("../lib/repo/model.ts"),
      import("../lib/talos/cluster.ts"),
      import("../lib/talos/errors.ts"),
      import("../lib/storage/facts.ts"),
      import("../lib/storage/result.ts"),
      import("../lib/storage/usb-ssd.ts"),
    ]);
    const model = loadRepo(root);
    const facts = storageFacts(model);
    let nodes = inventoryFromModel(model);
    if (args.length) {
      const unknown = args.filter((a) => !nodes.some((n) => n.hostname === a || n.ip === a));
      if (unknown.length) throw new UsageError(`unknown node ${unknown.join(", ")}`, `nodes: ${nodes.map((n) => n.hostname).join(", ")}`);
      nodes = nodes.filter((n) => args.includes(n.hostname) || args.includes(n.ip));
    }
    if (facts.userVolumes.length === 0) out.warn("the repo declares no UserVolumeConfig: only the USB disk is checked");
    const talosctl = makeTalosctl(exec, root, env);
    const get = async (ip: string, resource: string) => {
      const r = await talosctl.call(["get", resource, "-o", "json"], { nodes: [ip], readOnly: true, timeoutMs: 30_000 });
      if (r.exitCode !== 0) return talosErrorSummary(r.stderr || r.stdout) || `talosctl exited ${r.exitCode}`;
      try {
        return specsOf(r.stdout);
      } catch (e) {
        return `unreadable output (${(e as Error).message})`;
      }
    };
    const reads: UsbNodeReads[] = await Promise.all(
      nodes.map(async (n) => {
        const [disks, volumes, kernelParams, mounts, udev] = await Promise.all([
          get(n.ip, "disks"),
          get(n.ip, "volumestatus"),
          get(n.ip, "kernelparamstatus"),
          get(n.ip, "mountstatus"),
          talosctl.call(["read", TALOS_UDEV_RULES_FILE], { nodes: [n.ip], readOnly: true, timeoutMs: 30_000 }),
        ]);
        return {
          node: n.hostname,
          address: n.ip,
          disks,
          volumes,
          kernelParams,
          // a talosctl without mount status is not a failure: the volume status is enough
          ...(typeof mounts === "string" ? {} : { mounts }),
          udevRules: udev.exitCode === 0 ? udev.stdout : { error: talosErrorSummary(udev.stderr || udev.stdout) || `talosctl exited ${udev.exitCode}` },
        };
      }),
    );
    const s = summarize(reads.flatMap((r) => checkUsbSsd(r, facts)));
    if (json) out.result(s);
    else printChecks(out, "USB SSD", s);
    return s.ok ? ExitCode.ok : ExitCode.failed;
  },
});
