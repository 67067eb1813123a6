import { defineScript, ExitCode, OperationError, plural, rollingFlags } from "../lib/cli/index.ts";
import { LOCK_FLAGS, withMaintenanceLock } from "../lib/safety/lock.ts";
import { rollingOrder } from "../lib/safety/rolling.ts";
import { makeTalosctl, selectNodes } from "../lib/talos/cluster.ts";
import { rollingReboot } from "../lib/talos/rolling-ops.ts";
import { gateDeps, gateNodes, loadClusterWithDiscovery, openKube, printRolling } from "../lib/talos/script-support.ts";

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
    const { "node-timeout": nodeTimeout, "gate-timeout": gateTimeout } = flags;
    const talos = makeTalosctl(exec, root, env);
    const cluster = await loadClusterWithDiscovery(talos, root, out);
    const targets = rollingOrder(gateNodes(selectNodes(cluster.nodes, flags.node)));
    if (!dryRun) await confirm(`reboot ${targets.length} node${targets.length === 1 ? "" : "s"} of cluster ${cluster.name} one at a time`, cluster.name);
    const kube = openKube(env);
    const operation = `talos-reboot ${flags.node.length ? flags.node.map((n) => `--node ${n}`).join(" ") : "(all nodes)"}`;
    const lockScope = { root, env, out, dryRun, signal, confirm, breakLock: flags["break-lock"] };
    const result = await withMaintenanceLock(lockScope, { operation, via: "lease", kube: () => kube }, (lock) =>
      rollingReboot({
        talos,
        guard: () => lock.check(),
        gates: gateDeps(talos, env, cluster.nodes, kube),
        targets,
        nodeTimeout,
        gateTimeoutMs: gateTimeout.ms,
        dryRun,
        signal,
        out,
      }),
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
