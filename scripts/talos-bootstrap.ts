import { defineScript, ExitCode, UsageError, displayPath, LOCK_FLAGS } from "../lib/cli/index.ts";

export default defineScript(import.meta, {
  name: "talos-bootstrap",
  area: "talos",
  summary: "bootstrap etcd on one control plane (once), fetch the kubeconfig, wait for the API and every node",
  description: `
Bootstraps etcd on exactly one control plane (the first of talconfig, or --node): waits until that node runs with
its configuration, runs talosctl bootstrap (AlreadyExists counts as done, so a re-run continues; "not available
yet" and "time is not in sync yet" are retried with backoff), writes the admin kubeconfig (mode 0600), then watches
the API until every node of the repo has registered (NotReady is expected until the CNI runs).`,
  replaces: ["talos:bootstrap"],
  live: true,
  simState: "configured",
  mutates: true,
  flags: {
    node: { type: "string", placeholder: "host|ip", description: "the control plane to bootstrap (default: the first one)" },
    kubeconfig: { type: "string", placeholder: "path", description: "where to write the kubeconfig [default: $KUBECONFIG or clusterconfig/kubeconfig]" },
    timeout: { type: "duration", default: "20m", placeholder: "duration", description: "deadline for the whole bootstrap" },
    ...LOCK_FLAGS,
  },
  examples: ["bun scripts/talos-bootstrap.ts", "bun scripts/talos-bootstrap.ts --dry-run"],
  async run({ flags, out, exec, root, env, json, dryRun, signal, confirm }) {
    // loaded here, not at the top: --help and flag errors answer without the library
    const path = await import("node:path");
    const [
      { KubeClient },
      { waitForNodes },
      { bootstrapEtcd, deadlineIn, fetchKubeconfig, remaining, waitConfiguredRunning },
      { kubeconfigPath, loadCluster, makeTalosctl, selectNodes },
      { formatMs },
      { withMaintenanceLock },
    ] = await Promise.all([
      import("../lib/kube/client.ts"),
      import("../lib/safety/kube-reader.ts"),
      import("../lib/talos/bootstrap.ts"),
      import("../lib/talos/cluster.ts"),
      import("../lib/talos/poll.ts"),
      import("../lib/safety/lock.ts"),
    ]);
    const { timeout } = flags;
    const cluster = loadCluster(root);
    const [node] = flags.node ? selectNodes(cluster.nodes, [flags.node]) : cluster.nodes.filter((n) => n.controlPlane);
    if (!node) throw new UsageError("no control plane to bootstrap");
    if (!node.controlPlane) throw new UsageError(`${node.hostname} is a worker: etcd is bootstrapped on a control plane`);
    const kubeconfig = path.resolve(flags.kubeconfig ?? kubeconfigPath(root, env));
    const talos = makeTalosctl(exec, root, env);
    const deadline = deadlineIn(timeout.ms);
    const t0 = performance.now();
    // each wait shows what it waits for, for how long, and the deadline of the whole bootstrap
    const step = async <T>(what: string, fn: (onProgress: (p: { detail?: string }) => void) => Promise<T>): Promise<T> => {
      const w = out.wait(what, { deadlineMs: timeout.ms });
      try {
        return await fn((p) => w.update(p.detail ?? ""));
      } finally {
        w.done();
      }
    };

    const lockScope = { root, env, out, dryRun, signal, confirm, breakLock: flags["break-lock"] };
    // before etcd exists there is no Lease to take: the lock file stands in (the Lease when rerun on a live cluster)
    return withMaintenanceLock(lockScope, { operation: `talos-bootstrap on ${node.hostname}`, via: "auto", kube: () => KubeClient.fromEnv(env) }, async () => {
      await step(`${node.hostname} to run with its configuration`, (onProgress) => waitConfiguredRunning(talos, node, deadline, { signal, onProgress }));
      out.log(`${out.mark("ok")} ${node.hostname} runs with its configuration`);
      const boot = await step(`etcd to bootstrap on ${node.hostname}`, (onProgress) => bootstrapEtcd(talos, node, deadline, { signal, onProgress }));
      out.log(
        `${out.mark("ok")} etcd on ${node.hostname}: ${boot.outcome === "already-bootstrapped" ? "already bootstrapped (nothing to do)" : boot.outcome === "would-bootstrap" ? "would bootstrap" : `bootstrapped${boot.attempts > 1 ? ` after ${boot.attempts} attempts` : ""}`}`,
      );
      const kc = await fetchKubeconfig(talos, node, kubeconfig, deadline, { signal });
      if (kc.written) out.log(`${out.mark("ok")} kubeconfig written to ${displayPath(root, kubeconfig)} (0600)`);
      let registered: string[] = [];
      if (!dryRun) {
        const kube = KubeClient.fromKubeconfig(kubeconfig);
        const names = cluster.nodes.map((n) => n.hostname);
        const views = await step(`the API server and ${names.length} nodes to register`, (onProgress) =>
          waitForNodes(kube, names, { ready: false, timeoutMs: remaining(deadline), signal, onProgress: (r) => onProgress({ detail: r }) }),
        );
        registered = views.filter((v) => names.includes(v.name)).map((v) => `${v.name}${v.ready ? "" : " (NotReady until the CNI runs)"}`);
        out.log(`${out.mark("ok")} API server answers; ${names.length} of ${names.length} nodes registered`);
      }
      const result = {
        ok: true,
        dryRun,
        node: node.hostname,
        etcd: boot.outcome,
        attempts: boot.attempts,
        kubeconfig: kc.written ? kubeconfig : null,
        nodes: registered,
        elapsed: formatMs(performance.now() - t0),
      };
      if (json) out.result(result);
      else out.line(dryRun ? "dry run: nothing was bootstrapped" : `cluster ${cluster.name} bootstrapped in ${result.elapsed}; next: install the CNI (bootstrap phase 3)`);
      return ExitCode.ok;
    });
  },
});
