import { ConfigError, defineScript, displayPath, ExitCode, LOCK_FLAGS, OperationError, snapshotDirFlag, UsageError } from "../lib/cli/index.ts";

export default defineScript(import.meta, {
  name: "cluster-emergency-recovery",
  area: "cluster",
  summary: "restore etcd from a snapshot: wipe EPHEMERAL on the control planes, bootstrap --recover-from, wait to rejoin",
  description: `
The Talos disaster-recovery procedure, from --snapshot or the newest backups/etcd/etcd-<cluster>-*.snapshot:
1. the whole plan is checked before anything is wiped: the snapshot is an etcd snapshot (sha256 trailer unless
   --skip-hash-check, bbolt database, the size talosctl recorded; a rehearsal's snapshot is refused on a real
   cluster) and every control plane answers; the maintenance lock is taken (the Lease while the API answers,
   else the lock file in .home-ops/);
2. talosctl reset --graceful=false --reboot --system-labels-to-wipe=EPHEMERAL on every control plane (etcd data only;
   machine configs and user disks stay);
3. wait for etcd to report Preparing on the recovery node (--node, default the first control plane);
4. talosctl bootstrap --recover-from=<snapshot> there (--skip-hash-check for a raw db copy);
5. wait until every control plane is a voting etcd member again and the Kubernetes API answers.
Asks for the cluster name to be typed back (or --yes); without a terminal it refuses with exit 2.`,
  replaces: ["cluster:emergency-recovery", "cluster:recover"],
  live: true,
  mutates: true,
  flags: {
    snapshot: { type: "string", placeholder: "file", description: "snapshot to restore [default: the newest in --snapshot-dir]" },
    ...snapshotDirFlag("where etcd-snapshot saved them"),
    node: { type: "string", placeholder: "host|ip", description: "control plane to recover on [default: the first]" },
    "skip-hash-check": { type: "boolean", description: "the snapshot is a raw copy of /var/lib/etcd/member/snap/db" },
    timeout: { type: "duration", default: "30m", placeholder: "duration", description: "deadline for the whole recovery" },
    ...LOCK_FLAGS,
  },
  examples: ["bun scripts/cluster-emergency-recovery.ts --dry-run", "bun scripts/cluster-emergency-recovery.ts --snapshot backups/etcd/etcd-home-ops-20260101T000000.000Z.snapshot"],
  async run({ flags, out, exec, root, env, json, dryRun, signal, confirm }) {
    // loaded here, not at the top: --help and flag errors answer without the library
    const [
      { existsSync },
      { clusterReader },
      { withMaintenanceLock },
      { bootstrapEtcd, deadlineIn, remaining },
      { loadCluster, makeTalosctl, selectNodes },
      { formatMs },
      { requireReachable, waitEtcdPreparing, waitRecovered },
      { gateNodes, openKube },
      { checkSnapshotFile, listSnapshots, snapshotDir },
    ] = await Promise.all([
      import("node:fs"),
      import("../lib/safety/kube-reader.ts"),
      import("../lib/safety/lock.ts"),
      import("../lib/talos/bootstrap.ts"),
      import("../lib/talos/cluster.ts"),
      import("../lib/talos/poll.ts"),
      import("../lib/talos/recovery.ts"),
      import("../lib/talos/script-support.ts"),
      import("../lib/talos/snapshot.ts"),
    ]);
    const { timeout } = flags;
    const cluster = loadCluster(root);
    const cps = gateNodes(cluster.nodes.filter((n) => n.controlPlane));
    const recoverOn = flags.node ? gateNodes(selectNodes(cluster.nodes, [flags.node]))[0]! : cps[0]!;
    if (!recoverOn.controlPlane) throw new UsageError(`${recoverOn.hostname} is not a control plane`);
    let snapshot: string;
    if (flags.snapshot) {
      snapshot = snapshotDir(root, env, flags.snapshot); // a relative file resolves as the snapshot folder does
      if (!existsSync(snapshot)) throw new ConfigError(`snapshot ${flags.snapshot} does not exist`);
    } else {
      const newest = listSnapshots(snapshotDir(root, env, flags["snapshot-dir"]), cluster.name)[0];
      if (!newest)
        throw new ConfigError(`no snapshot of ${cluster.name} in ${flags["snapshot-dir"]}`, "give one with --snapshot, or take one with etcd-snapshot while etcd is healthy");
      snapshot = newest.path;
    }
    const rel = displayPath(root, snapshot);
    // the plan is checked completely before the first wipe: a wipe with nothing to restore loses the cluster
    const check = await checkSnapshotFile(snapshot, { simulated: env.HOMEOPS_SIMULATED === "1", skipHashCheck: flags["skip-hash-check"] });
    if (!check.ok)
      throw new ConfigError(
        `refusing to recover from ${rel}: ${check.problems.join("; ")}: nothing was wiped`,
        "give a snapshot taken with etcd-snapshot (backups/etcd/), or a raw member/snap/db copy with --skip-hash-check",
      );
    out.log(
      `${out.mark("ok")} ${rel}: ${check.format === "simulated" ? "simulated " : ""}etcd snapshot, ${check.bytes} bytes${check.revision !== undefined ? `, revision ${check.revision}` : ""}${check.hash ? `, hash ${check.hash}` : ""}${check.sha256 ? ", sha256 trailer matches" : ""}`,
    );
    const talos = makeTalosctl(exec, root, env);
    await requireReachable(talos, cps);
    if (!dryRun)
      await confirm(
        `wipe etcd on all ${cps.length} control planes of cluster ${cluster.name} and restore it from ${rel} (changes made since the snapshot are lost)`,
        cluster.name,
      );
    const lockScope = { root, env, out, dryRun, signal, confirm, breakLock: flags["break-lock"] };
    return withMaintenanceLock(lockScope, { operation: `cluster-emergency-recovery from ${rel}`, via: "auto", kube: () => openKube(env) }, async (lock) => {
      // under the lock, the nodes are asked again: the answer before the confirmation may be minutes old
      await lock.check();
      await requireReachable(talos, cps);
      const t0 = performance.now();
      const deadline = deadlineIn(timeout.ms);
      const progress = (p: { detail?: string }) => out.progress(`waiting: ${p.detail ?? ""}`);
      // all control planes at once: one at a time, a wiped member would rejoin the old cluster instead of waiting
      await Promise.all(
        cps.map((cp) =>
          talos.reset(cp.ip, { graceful: false, reboot: true, wipe: ["EPHEMERAL"], wait: false, timeout: timeout.text }).catch((e: Error) => {
            throw new OperationError(`wiping EPHEMERAL on ${cp.hostname} failed: ${e.message}`, "run the recovery again: the wipe is repeatable");
          }),
        ),
      );
      out.log(`${out.mark("ok")} EPHEMERAL ${dryRun ? "would be" : ""} wiped on ${cps.map((c) => c.hostname).join(", ")}`);
      if (!dryRun) {
        await waitEtcdPreparing(talos, recoverOn, remaining(deadline), { signal, onProgress: progress });
        out.log(`${out.mark("ok")} etcd on ${recoverOn.hostname} is Preparing`);
      }
      const boot = await bootstrapEtcd(talos, { hostname: recoverOn.hostname, ip: recoverOn.ip, controlPlane: true, installerImage: "" }, deadline, {
        signal,
        onProgress: progress,
        recoverFrom: snapshot,
        skipHashCheck: flags["skip-hash-check"],
    });
    out.log(`${out.mark("ok")} ${boot.outcome === "would-bootstrap" ? "would bootstrap" : "bootstrapped"} etcd on ${recoverOn.hostname} from ${rel}`);
    let members = 0;
    if (!dryRun) {
      const r = await waitRecovered(talos, () => clusterReader(openKube(env)), cps, remaining(deadline), { signal, onProgress: progress });
      members = r.members;
      out.log(`${out.mark("ok")} ${members} etcd members voting, Kubernetes API answers`);
    }
    const elapsed = formatMs(performance.now() - t0);
    if (json) out.result({ ok: true, dryRun, snapshot: rel, node: recoverOn.hostname, members, elapsed });
    else out.line(dryRun ? "dry run: nothing was changed" : `cluster ${cluster.name} recovered from ${rel} in ${elapsed}`);
    return ExitCode.ok;
    });
  },
});
