import { defineScript, ExitCode, LOCK_FLAGS, OperationError, plural, rollingFlags } from "../lib/cli/index.ts";

export default defineScript(import.meta, {
  name: "talos-reboot",
  area: "talos",
  summary: "rolling reboot, one node at a time behind etcd, node and Longhorn health gates",
  description: `
Reboots the nodes (all, or --node ...) one at a time, control planes first. Before each node: etcd healthy with
every member voting, every node Ready, every Longhorn volume healthy, and etcd keeps quorum without this node.
talosctl reboot --wait follows the node down and back; then the same gates must pass again (within --gate-timeout)
before the next node. The first failed gate stops the run and leaves the cluster as it is; run again to continue.
Holds the cluster's maintenance lock (Lease kube-system/home-ops-maintenance) throughout: while another operation
holds it, this one exits 2 naming it.`,
  replaces: ["talos:reboot", "cluster:safe-reboot"],
  live: true,
  mutates: true,
  flags: {
    ...rollingFlags("reboot", "10m"),
    ...LOCK_FLAGS,
  },
  examples: ["bun scripts/talos-reboot.ts --dry-run", "bun scripts/talos-reboot.ts --node mini02 --yes"],
  async run({ flags, out, exec, root, env, json, dryRun, signal, confirm }) {
    // loaded here, not at the top: --help and flag errors answer without the library
    const [{ rollingOrder }, { makeTalosctl, selectNodes }, { rollingReboot }, { gateNodes, loadClusterWithDiscovery, lockedRolling, printRolling }] =
      await Promise.all([
        import("../lib/safety/rolling.ts"),
        import("../lib/talos/cluster.ts"),
        import("../lib/talos/rolling-ops.ts"),
        import("../lib/talos/script-support.ts"),
      ]);
    const talos = makeTalosctl(exec, root, env);
    const cluster = await loadClusterWithDiscovery(talos, root, out);
    const targets = rollingOrder(gateNodes(selectNodes(cluster.nodes, flags.node)));
    if (!dryRun) await confirm(`reboot ${targets.length} node${targets.length === 1 ? "" : "s"} of cluster ${cluster.name} one at a time`, cluster.name);
    const operation = `talos-reboot ${flags.node.length ? flags.node.map((n) => `--node ${n}`).join(" ") : "(all nodes)"}`;
    const result = await lockedRolling(
      { root, env, out, dryRun, signal, confirm, breakLock: flags["break-lock"] },
      { operation, talos, nodes: cluster.nodes, targets, nodeTimeout: flags["node-timeout"], gateTimeout: flags["gate-timeout"] },
      rollingReboot,
    );
    printRolling(out, json, result, { dryRun, operation: "reboot" });
    if (result.stopped) {
      const left = result.nodes.filter((n) => n.result !== "done").map((n) => `--node ${n.node}`);
      throw new OperationError(
        `stopped at ${result.stopped.node}: ${result.stopped.message}`,
        `nothing else was touched; once that is fixed, continue with: bun scripts/talos-reboot.ts ${left.join(" ")}`,
      );
    }
    if (!json) out.line(dryRun ? "dry run: nothing was rebooted" : `rebooted ${plural(result.nodes.filter((n) => n.result === "done").length, "node")}, cluster healthy`);
    return ExitCode.ok;
  },
});
