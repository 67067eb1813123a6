import path from "node:path";
import { defineScript, ExitCode, UsageError } from "../lib/cli/index.ts";
import { KubeClient } from "../lib/kube/client.ts";
import { waitForNodes } from "../lib/safety/kube-reader.ts";
import { bootstrapEtcd, deadlineIn, fetchKubeconfig, remaining, waitConfiguredRunning } from "../lib/talos/bootstrap.ts";
import { kubeconfigPath, loadCluster, makeTalosctl, selectNodes, shownPath } from "../lib/talos/cluster.ts";
import { formatMs } from "../lib/talos/poll.ts";
import { durationFlag } from "../lib/talos/script-support.ts";

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
    timeout: { type: "string", default: "20m", placeholder: "duration", description: "deadline for the whole bootstrap" },
  },
  examples: ["bun scripts/talos-bootstrap.ts", "bun scripts/talos-bootstrap.ts --dry-run"],
  async run({ flags, out, exec, root, env, json, dryRun, signal }) {
    const timeout = durationFlag("timeout", flags.timeout);
    const cluster = loadCluster(root);
    const [node] = flags.node ? selectNodes(cluster.nodes, [flags.node]) : cluster.nodes.filter((n) => n.controlPlane);
    if (!node) throw new UsageError("no control plane to bootstrap");
    if (!node.controlPlane) throw new UsageError(`${node.hostname} is a worker: etcd is bootstrapped on a control plane`);
    const kubeconfig = path.resolve(flags.kubeconfig ?? kubeconfigPath(root, env));
    const talos = makeTalosctl(exec, root, env);
    const deadline = deadlineIn(timeout.ms);
    const t0 = performance.now();
    const progress = (p: { detail?: string }) => out.progress(`waiting: ${p.detail ?? ""}`);

    await waitConfiguredRunning(talos, node, deadline, { signal, onProgress: progress });
    out.log(`${out.mark("ok")} ${node.hostname} runs with its configuration`);
    const boot = await bootstrapEtcd(talos, node, deadline, { signal, onProgress: progress });
    out.log(
      `${out.mark("ok")} etcd on ${node.hostname}: ${boot.outcome === "already-bootstrapped" ? "already bootstrapped (nothing to do)" : boot.outcome === "would-bootstrap" ? "would bootstrap" : `bootstrapped${boot.attempts > 1 ? ` after ${boot.attempts} attempts` : ""}`}`,
    );
    const kc = await fetchKubeconfig(talos, node, kubeconfig, deadline, { signal });
    if (kc.written) out.log(`${out.mark("ok")} kubeconfig written to ${shownPath(root, kubeconfig)} (0600)`);
    let registered: string[] = [];
    if (!dryRun) {
      const kube = KubeClient.fromKubeconfig(kubeconfig);
      const names = cluster.nodes.map((n) => n.hostname);
      const views = await waitForNodes(kube, names, {
        ready: false,
        timeoutMs: remaining(deadline),
        signal,
        onProgress: (r) => out.progress(`waiting: ${r}`),
      });
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
  },
});
