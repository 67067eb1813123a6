import { defineScript, ExitCode } from "../lib/cli/index.ts";
import { loadCluster, makeTalosctl, shownPath } from "../lib/talos/cluster.ts";
import { countFlag, gateNodes } from "../lib/talos/script-support.ts";
import { snapshotDir, takeSnapshot } from "../lib/talos/snapshot.ts";

export default defineScript(import.meta, {
  name: "etcd-snapshot",
  area: "cluster",
  summary: "etcd snapshot from a healthy member into backups/ (0600, timestamped, verified), keeping the last N",
  description: `
Takes \`talosctl etcd snapshot\` from a healthy, voting etcd member (not the leader when there is a choice) into the
git-ignored backups/etcd/ folder as etcd-<cluster>-<UTC timestamp>.snapshot with mode 0600, checks talosctl's
"snapshot saved" and "snapshot info" lines against the file, and deletes all but the newest --keep snapshots.
cluster-emergency-recovery restores from these files.`,
  replaces: ["maintenance:backup"],
  live: true,
  mutates: true,
  flags: {
    node: { type: "string", placeholder: "host|ip", description: "take the snapshot from this control plane" },
    dir: { type: "string", default: "backups/etcd", placeholder: "dir", description: "folder for snapshots (must be git-ignored; under --simulate, relative to the simulation's folder)" },
    keep: { type: "string", default: "10", placeholder: "n", description: "how many snapshots to keep" },
  },
  examples: ["bun scripts/etcd-snapshot.ts", "bun scripts/etcd-snapshot.ts --keep 30 --json"],
  async run({ flags, out, exec, root, env, json }) {
    const keep = countFlag("keep", flags.keep, 1);
    const cluster = loadCluster(root);
    const talos = makeTalosctl(exec, root, env);
    const snap = await takeSnapshot({
      talos,
      exec,
      root,
      dir: snapshotDir(root, env, flags.dir),
      cluster: cluster.name,
      controlPlanes: gateNodes(cluster.nodes.filter((n) => n.controlPlane)),
      node: flags.node,
      keep,
    });
    const rel = shownPath(root, snap.file);
    if (json) out.result({ ok: true, ...snap, file: rel, pruned: snap.pruned.map((p) => shownPath(root, p)) });
    else if (snap.dryRun) out.line(`dry run: would save a snapshot from ${snap.node} to ${rel}`);
    else {
      out.line(`${out.mark("ok")} snapshot from ${snap.node}: ${rel} (${snap.info!.bytes} bytes, revision ${snap.info!.revision}, ${snap.info!.totalKeys} keys, hash ${snap.info!.hash})`);
      if (snap.pruned.length) out.line(`removed ${snap.pruned.length} older snapshot${snap.pruned.length === 1 ? "" : "s"} (keeping ${keep})`);
    }
    return ExitCode.ok;
  },
});
