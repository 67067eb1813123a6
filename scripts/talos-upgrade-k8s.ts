import { ConfigError, defineScript, ExitCode, OperationError, UsageError, LOCK_FLAGS } from "../lib/cli/index.ts";

export default defineScript(import.meta, {
  name: "talos-upgrade-k8s",
  area: "talos",
  summary: "upgrade Kubernetes one minor step at a time within the range the running Talos supports",
  description: `
Runs talosctl upgrade-k8s from one control plane to --to (default: the repo's KUBERNETES_VERSION). The current
version is the lowest kubelet version of the live nodes. Refuses (exit 2) a jump of more than one minor (go step by
step) and a version the running Talos does not support. upgrade-k8s patches the live machine configs, so afterwards
KUBERNETES_VERSION in talos/talenv.yaml must say the same: the script reminds you when it does not. Holds the
cluster's maintenance lock while it runs: while another operation holds it, this one exits 2 naming it.`,
  replaces: [],
  live: true,
  mutates: true,
  flags: {
    to: { type: "version", placeholder: "version", description: "Kubernetes version to upgrade to [default: the repo's]" },
    node: { type: "string", placeholder: "host|ip", description: "control plane to run upgrade-k8s from [default: the first]" },
    ...LOCK_FLAGS,
  },
  examples: ["bun scripts/talos-upgrade-k8s.ts --dry-run", "bun scripts/talos-upgrade-k8s.ts --to 1.32.4 --yes"],
  async run({ flags, out, exec, root, env, json, dryRun, signal, confirm }) {
    // loaded here, not at the top: --help and flag errors answer without the library
    const [
      { compareVersions, parseVersion },
      { loadCluster, makeTalosctl, selectNodes },
      { kubernetesUpgradePath, normaliseVersion, talosSupportsKubernetes },
      { openKube },
      { clusterReader },
      { withMaintenanceLock },
    ] = await Promise.all([
      import("../lib/exec.ts"),
      import("../lib/talos/cluster.ts"),
      import("../lib/talos/versions.ts"),
      import("../lib/talos/script-support.ts"),
      import("../lib/safety/kube-reader.ts"),
      import("../lib/safety/lock.ts"),
    ]);
    const cluster = loadCluster(root);
    const to = normaliseVersion(flags.to ?? cluster.kubernetesVersion);
    if (!parseVersion(to)) throw new UsageError(`--to must be a version like 1.32.4, not "${flags.to}"`);
    const [cp] = flags.node ? selectNodes(cluster.nodes, [flags.node]) : cluster.nodes.filter((n) => n.controlPlane);
    if (!cp?.controlPlane) throw new UsageError(`--node must be a control plane`);
    const talos = makeTalosctl(exec, root, env);
    // what runs now: lowest kubelet, and the Talos version of the control plane
    const [nodes, versions] = await Promise.all([clusterReader(openKube(env)).nodes(), talos.versions([cp.ip])]);
    const kubelets = nodes.map((n) => n.kubeletVersion).filter((v): v is string => !!v && !!parseVersion(v));
    if (kubelets.length === 0) throw new OperationError("no node reports a kubelet version", "is the cluster bootstrapped? (talos-bootstrap)");
    const from = kubelets.sort((a, b) => compareVersions(parseVersion(a)!, parseVersion(b)!))[0]!;
    const talosVersion = versions[0]?.tag;
    if (!talosVersion) throw new OperationError(`${cp.hostname} did not report its Talos version`);
    const support = talosSupportsKubernetes(talosVersion, to);
    if (!support.ok) throw new ConfigError(`refusing: ${support.reason}`, "upgrade Talos first (talos-upgrade) or pick a supported version");
    if (compareVersions(parseVersion(from)!, parseVersion(to)!) === 0) {
      if (json) out.result({ ok: true, from, to, changed: false, talos: talosVersion });
      else out.line(`Kubernetes already runs ${to}: nothing to do`);
      return ExitCode.ok;
    }
    const path = kubernetesUpgradePath(from, to);
    if (!path.ok) {
      const f = parseVersion(from)!;
      throw new ConfigError(
        `refusing: ${path.reason}`,
        `go one minor at a time: bun scripts/talos-upgrade-k8s.ts --to ${f[0]}.${f[1] + 1}.<patch>`,
      );
    }
    if (!dryRun) await confirm(`upgrade Kubernetes of cluster ${cluster.name} from ${from} to ${to}`, cluster.name);
    out.log(`upgrading Kubernetes ${from} -> ${to} from ${cp.hostname} (Talos ${talosVersion})${dryRun ? " (talosctl --dry-run)" : ""}`);
    const kube = openKube(env);
    const lockScope = { root, env, out, dryRun, signal, confirm, breakLock: flags["break-lock"] };
    const r = await withMaintenanceLock(lockScope, { operation: `talos-upgrade-k8s ${from} -> ${to}`, via: "lease", kube: () => kube }, async (lock) => {
      await lock.check();
      const upgrading = out.wait(`talosctl upgrade-k8s ${from} -> ${to} on ${cp.hostname}`);
      return talos.upgradeK8s(cp.ip, to, { dryRun }).finally(() => upgrading.done());
    });
    const reminder = normaliseVersion(cluster.kubernetesVersion) !== to;
    if (json) out.result({ ok: true, from, to, changed: !dryRun, dryRun, talos: talosVersion, output: r.stdout.split("\n").filter(Boolean), updateTalenv: reminder });
    else {
      out.line(r.stdout.trimEnd());
      out.line(dryRun ? "dry run: talosctl upgrade-k8s --dry-run changed nothing" : `Kubernetes upgraded to ${to}`);
    }
    if (reminder)
      out.warn(`talos/talenv.yaml says KUBERNETES_VERSION ${cluster.kubernetesVersion}: set it to ${to}, or the next apply-config rolls the upgrade back`);
    return ExitCode.ok;
  },
});
