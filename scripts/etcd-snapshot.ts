import { defineScript, displayPath, ExitCode, nodeFlag, snapshotDirFlag } from "../lib/cli/index.ts";

export default defineScript(import.meta, {
  name: "etcd-snapshot",
  area: "cluster",
  summary: "etcd snapshot from a healthy member into backups/ (0600, timestamped, verified), keeping the last N",
  description: `
Takes \`talosctl etcd snapshot\` from a healthy, voting etcd member (not the leader when there is a choice) into the
git-ignored backups/etcd/ folder as etcd-<cluster>-<UTC timestamp>.snapshot with mode 0600, checks talosctl's
"snapshot saved" and "snapshot info" lines against the file, and deletes all but the newest --keep snapshots:
the ones that would go are listed first and need a confirmation (or --yes); --dry-run lists them too.
cluster-emergency-recovery restores from these files.`,
  replaces: ["maintenance:backup"],
  live: true,
  mutates: true,
  flags: {
    ...nodeFlag("take the snapshot from this control plane"),
    ...snapshotDirFlag("folder for snapshots: git-ignored inside the repo, or anywhere outside it", ["dir"]),
    keep: { type: "integer", min: 1, max: 1000, default: 10, placeholder: "n", description: "how many snapshots to keep" },
  },
  examples: ["bun scripts/etcd-snapshot.ts", "bun scripts/etcd-snapshot.ts --keep 30 --json"],
  async run({ flags, out, exec, root, env, json, dryRun, confirm }) {
    // loaded here, not at the top: --help and flag errors answer without the library
    const [
      { loadCluster, makeTalosctl },
      { gateNodes },
      { snapshotDir, snapshotsToPrune, takeSnapshot },
    ] = await Promise.all([
      import("../lib/talos/cluster.ts"),
      import("../lib/talos/script-support.ts"),
      import("../lib/talos/snapshot.ts"),
    ]);
    const keep = flags.keep;
    const cluster = loadCluster(root);
    const talos = makeTalosctl(exec, root, env);
    const prune = snapshotsToPrune(snapshotDir(root, env, flags["snapshot-dir"]), cluster.name, keep);
    for (const p of prune) out.line(`${dryRun ? "[dry-run] " : ""}delete ${displayPath(root, p.path)} (keeping the newest ${keep})`);
    if (prune.length && !dryRun) await confirm(`delete ${prune.length} older snapshot${prune.length === 1 ? "" : "s"} of ${cluster.name} (listed above) after taking a new one`, "delete");
    const snap = await takeSnapshot({
      talos,
      exec,
      root,
      dir: snapshotDir(root, env, flags["snapshot-dir"]),
      cluster: cluster.name,
      controlPlanes: gateNodes(cluster.nodes.filter((n) => n.controlPlane)),
      node: flags.node,
      prune,
    });
    const rel = displayPath(root, snap.file);
    if (json)
      out.result({ ok: true, ...snap, file: rel, pruned: snap.pruned.map((p) => displayPath(root, p)), ...(dryRun ? { wouldPrune: prune.map((p) => displayPath(root, p.path)) } : {}) });
    else if (snap.dryRun) out.line(`dry run: would save a snapshot from ${snap.node} to ${rel}`);
    else {
      out.line(`${out.mark("ok")} snapshot from ${snap.node}: ${rel} (${snap.info!.bytes} bytes, revision ${snap.info!.revision}, ${snap.info!.totalKeys} keys, hash ${snap.info!.hash})`);
      if (snap.pruned.length) out.line(`removed ${snap.pruned.length} older snapshot${snap.pruned.length === 1 ? "" : "s"} (keeping ${keep})`);
    }
    return ExitCode.ok;
  },
});
