import { defineScript, displayPath, ExitCode, LOCK_FLAGS, OperationError, snapshotDirFlag, UsageError } from "../lib/cli/index.ts";

export default defineScript(import.meta, {
  name: "cluster-safe-reset",
  area: "cluster",
  summary: "reset nodes to maintenance mode wiping only STATE and EPHEMERAL, after an etcd snapshot",
  description: `
Takes an etcd snapshot first (backups/etcd/, see etcd-snapshot), asks for the cluster name to be typed back (or
--yes; without a terminal it refuses with exit 2), then resets each node with talosctl reset --graceful --reboot
--system-labels-to-wipe STATE --system-labels-to-wipe EPHEMERAL: user disks (Longhorn's data) are never wiped.
Workers go first, then control planes one at a time, each leaving etcd so membership shrinks cleanly; the last
control plane is reset non-gracefully (there is nothing left to leave). With --node only that node is reset, and
a control plane only when the remaining etcd members keep quorum. Reset nodes come back in maintenance mode:
talos-apply-config brings them back. Holds the cluster's maintenance lock from the quorum check to the last reset
(while another operation holds it, this one exits 2 naming it); the holder is re-checked before each node.`,
  replaces: ["cluster:safe-reset"],
  live: true,
  mutates: true,
  flags: {
    node: { type: "string", placeholder: "host|ip", description: "reset only this node" },
    "skip-snapshot": { type: "boolean", description: "do not take an etcd snapshot first (etcd is already broken)" },
    ...snapshotDirFlag("where the snapshot goes: git-ignored inside the repo, or anywhere outside it"),
    keep: { type: "integer", min: 1, max: 1000, default: 10, placeholder: "n", description: "snapshots to keep" },
    timeout: { type: "duration", default: "10m", placeholder: "duration", description: "how long each node may take to reset and come back" },
    ...LOCK_FLAGS,
  },
  examples: ["bun scripts/cluster-safe-reset.ts --dry-run", "bun scripts/cluster-safe-reset.ts --node mini03"],
  async run({ flags, out, exec, root, env, json, dryRun, signal, confirm }) {
    // loaded here, not at the top: --help and flag errors answer without the library
    const [
      { readEtcd },
      { withMaintenanceLock },
      { loadCluster, makeTalosctl, selectNodes },
      { requireReachable },
      { checkSingleReset, planReset, resetNode },
      { gateNodes, openKube },
      { snapshotDir, snapshotsToPrune, takeSnapshot },
    ] = await Promise.all([
      import("../lib/safety/gates.ts"),
      import("../lib/safety/lock.ts"),
      import("../lib/talos/cluster.ts"),
      import("../lib/talos/recovery.ts"),
      import("../lib/talos/reset.ts"),
      import("../lib/talos/script-support.ts"),
      import("../lib/talos/snapshot.ts"),
    ]);
    const { timeout, keep } = flags;
    const cluster = loadCluster(root);
    const all = gateNodes(cluster.nodes);
    const targets = flags.node ? gateNodes(selectNodes(cluster.nodes, [flags.node])) : all;
    const talos = makeTalosctl(exec, root, env);
    const cps = all.filter((n) => n.controlPlane);
    const quorumGate = async () => {
      if (!flags.node) return;
      const etcd = await readEtcd(talos, cps);
      const q = checkSingleReset(targets[0]!, all, etcd);
      if (!q.ok) throw new UsageError(`refusing: ${q.reason}`, "nothing was changed");
      return q.reason;
    };
    // asked once before the confirmation (refuse early), and decided under the lock
    await quorumGate();
    const steps = planReset(all, targets);
    const prune = flags["skip-snapshot"] ? [] : snapshotsToPrune(snapshotDir(root, env, flags["snapshot-dir"]), cluster.name, keep);
    for (const p of prune) out.line(`${dryRun ? "[dry-run] " : ""}delete ${displayPath(root, p.path)} (keeping the newest ${keep} snapshots)`);
    if (!dryRun)
      await confirm(
        (flags.node
          ? `reset ${targets[0]!.hostname} of cluster ${cluster.name} (wipe STATE and EPHEMERAL: it returns to maintenance mode)`
          : `reset ALL ${all.length} nodes of cluster ${cluster.name} (wipe STATE and EPHEMERAL: the cluster is gone until bootstrapped again)`) +
          (prune.length ? `, and delete the ${prune.length} older snapshot${prune.length === 1 ? "" : "s"} listed above` : ""),
        cluster.name,
      );
    const lockScope = { root, env, out, dryRun, signal, confirm, breakLock: flags["break-lock"] };
    const operation = `cluster-safe-reset ${flags.node ? `--node ${targets[0]!.hostname}` : "(all nodes)"}`;
    return withMaintenanceLock(lockScope, { operation, via: flags.node ? "lease" : "auto", kube: () => openKube(env) }, async (lock) => {
      const why = await quorumGate();
      if (why) out.log(`${out.mark("ok")} ${why}`);
      // the whole plan is checked before the first change: every node to reset answers
      await requireReachable(talos, targets, { allowMaintenance: true });
      let snapshot: string | null = null;
      if (!flags["skip-snapshot"]) {
        const s = await takeSnapshot({ talos, exec, root, dir: snapshotDir(root, env, flags["snapshot-dir"]), cluster: cluster.name, controlPlanes: cps, prune }).catch((e: Error) => {
          throw new OperationError(`the etcd snapshot before the reset failed, so nothing was reset: ${e.message}`, "if etcd is already broken, use --skip-snapshot");
        });
        snapshot = displayPath(root, s.file);
        out.log(`${out.mark("ok")} etcd snapshot ${s.dryRun ? "would be saved to" : "saved to"} ${snapshot}`);
      }
      const done: Array<{ node: string; graceful: boolean; result: string }> = [];
      for (const step of steps) {
        try {
          await lock.check();
          await resetNode(talos, step, { wipe: ["STATE", "EPHEMERAL"], reboot: true, timeout: timeout.text });
        } catch (e) {
          const remaining = steps.slice(steps.indexOf(step)).map((s) => s.node.hostname);
          done.push({ node: step.node.hostname, graceful: step.graceful, result: `failed: ${(e as Error).message}` });
          if (json) out.result({ ok: false, snapshot, nodes: done });
          throw new OperationError(
            `reset of ${step.node.hostname} failed: ${(e as Error).message}`,
            `not reset yet: ${remaining.join(", ")}; run again with --node for each once the problem is fixed`,
          );
        }
        done.push({ node: step.node.hostname, graceful: step.graceful, result: dryRun ? "would reset" : "reset (maintenance mode)" });
        out.log(`${out.mark("ok")} ${step.node.hostname}: ${dryRun ? "would reset" : "reset"} (${step.why})`);
      }
      if (json) out.result({ ok: true, dryRun, snapshot, nodes: done });
      else {
        out.printTable(["node", "graceful", "result"], done.map((d) => [d.node, d.graceful ? "yes" : "no", d.result]));
        out.line(dryRun ? "dry run: nothing was reset" : `reset ${done.length} node${done.length === 1 ? "" : "s"}; bring them back with talos-apply-config${flags.node ? "" : " and talos-bootstrap"}`);
      }
      return ExitCode.ok;
    });
  },
});
