import { defineScript, ExitCode, UsageError, LOCK_FLAGS } from "../lib/cli/index.ts";
import { APPLY_MODES, type ApplyMode } from "../lib/talos/apply-modes.ts";

export default defineScript(import.meta, {
  name: "talos-apply-config",
  area: "talos",
  summary: "apply the generated machine configs, using --insecure only for nodes in maintenance mode",
  description: `
Applies clusterconfig/<cluster>-<hostname>.yaml to each node (all, or those given with --node), one node at a time.
Each node is asked first whether it is in maintenance mode (no config yet): only then is --insecure used, and only
the modes maintenance accepts (auto, reboot, try). Transient failures (an EOF while apid restarts) are retried.
A config change may reboot a node: the cluster's maintenance lock is held (the Lease while the API answers, else
the lock file in .home-ops/); while another operation holds it, this one exits 2 naming it.`,
  replaces: ["talos:apply-config"],
  live: true,
  simState: "bare",
  mutates: true,
  flags: {
    node: { type: "string", multiple: true, placeholder: "host|ip", description: "apply only to this node" },
    mode: { type: "string", default: "auto", choices: APPLY_MODES, description: "talosctl apply-config mode" },
    "config-dir": { type: "string", placeholder: "dir", description: "where talhelper wrote the configs [default: <repo>/clusterconfig]" },
    retries: { type: "integer", min: 0, max: 20, default: 2, placeholder: "n", description: "retries of a transient failure per node" },
    "node-timeout": { type: "duration", default: "2m", placeholder: "duration", description: "how long to wait for a node that does not answer or is still rebooting" },
    ...LOCK_FLAGS,
  },
  examples: [
    "bun scripts/talos-apply-config.ts --dry-run",
    "bun scripts/talos-apply-config.ts --node mini02 --mode no-reboot",
  ],
  async run({ flags, out, exec, root, env, json, dryRun, signal, confirm }) {
    // loaded here, not at the top: --help and flag errors answer without the library
    const path = await import("node:path");
    const [
      { applyToNodes },
      { clusterconfigDir, loadCluster, makeTalosctl, selectNodes },
      { openKube },
      { withMaintenanceLock },
    ] = await Promise.all([
      import("../lib/talos/apply.ts"),
      import("../lib/talos/cluster.ts"),
      import("../lib/talos/script-support.ts"),
      import("../lib/safety/lock.ts"),
    ]);
    const retries = flags.retries;
    const nodeTimeout = flags["node-timeout"];
    const cluster = loadCluster(root);
    const nodes = selectNodes(cluster.nodes, flags.node);
    const configDir = flags["config-dir"] ? path.resolve(root, flags["config-dir"]) : clusterconfigDir(root, env);
    const talos = makeTalosctl(exec, root, env);
    const lockScope = { root, env, out, dryRun, signal, confirm, breakLock: flags["break-lock"] };
    const operation = `talos-apply-config --mode ${flags.mode} ${flags.node.length ? flags.node.map((n) => `--node ${n}`).join(" ") : "(all nodes)"}`;
    const applying = out.wait(`applying the configs of ${nodes.length} node${nodes.length === 1 ? "" : "s"} (each waited for up to ${flags["node-timeout"].text})`);
    const results = await withMaintenanceLock(lockScope, { operation, via: "auto", kube: () => openKube(env) }, () => applyToNodes({
      talos,
      nodes,
      clusterName: cluster.name,
      configDir,
      mode: flags.mode as ApplyMode,
      retries,
      dryRun,
      reachTimeoutMs: nodeTimeout.ms,
      signal,
      onResult: (r) => out.log(`${out.mark(r.result === "failed" ? "fail" : "ok")} ${r.hostname}: ${r.detail}`),
    })).finally(() => applying.done());
    const failed = results.filter((r) => r.result === "failed");
    if (json) out.result({ ok: failed.length === 0, dryRun, nodes: results });
    else {
      out.printTable(
        ["node", "ip", "state", "insecure", "mode", "result", "attempts", "detail"],
        results.map((r) => [r.hostname, r.ip, r.state, r.insecure ? "yes" : "no", r.mode, r.result, r.attempts, r.detail]),
      );
      out.line(
        failed.length
          ? `${failed.length} of ${results.length} nodes failed: fix them and run again (nodes already configured are re-applied harmlessly)`
          : dryRun
            ? `dry run: nothing was applied`
            : `applied to ${results.length} node${results.length === 1 ? "" : "s"}`,
      );
    }
    return failed.length ? ExitCode.failed : ExitCode.ok;
  },
});
