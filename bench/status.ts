// cluster-status's reads against the simulated cluster with 50 ms added to every Kubernetes API response, at 3, 30
// and 300 nodes: the concurrent reads cluster-status does (talosctl calls batching nodes in chunks, Kubernetes lists
// in parallel) next to a sequential baseline doing the same reads one after another, in the same run.
// Run: bun bench/status.ts [--rounds N] [--latency MS] [--sizes 3,30,300]
import { compare, ratio } from "../lib/bench/index.ts";
import { Exec } from "../lib/exec.ts";
import { KubeClient } from "../lib/kube/client.ts";
import { startSimulation } from "../lib/sim/index.ts";
import { inventoryFromModel } from "../lib/talos/cluster.ts";
import { collectStatus, KINDS } from "../lib/talos/status.ts";
import { LONGHORN_NAMESPACE, LONGHORN_VOLUME_KIND, NODE_KIND } from "../lib/safety/kube-reader.ts";
import { Talosctl } from "../lib/talos/talosctl.ts";
import { loadRepo } from "../lib/repo/model.ts";
import path from "node:path";

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? (process.argv[i + 1] ?? dflt) : dflt;
};
const rounds = Number(arg("--rounds", "5"));
const latencyMs = Number(arg("--latency", "50"));
const sizes = arg("--sizes", "3,30,300").split(",").map(Number);
const root = path.resolve(import.meta.dir, "..");
const repoNodes = inventoryFromModel(loadRepo(root, { mode: "lenient" }));

const rows: string[] = [];
for (const n of sizes) {
  const sim = await startSimulation({ state: "bootstrapped", controllers: false, nodes: n, latencyMs });
  try {
    const store = sim.cluster.store;
    const ds = store.create({
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: { name: "cilium", namespace: "kube-system" },
      spec: { selector: { matchLabels: { app: "cilium" } }, template: { metadata: { labels: { app: "cilium" } }, spec: { containers: [{ name: "agent", image: "cilium" }] } } },
    });
    store.updateStatus({ ...ds, status: { desiredNumberScheduled: n, numberReady: n } });
    const exec = new Exec({ env: { ...process.env, ...sim.env } });
    const talos = new Talosctl({ exec, talosconfig: sim.env.TALOSCONFIG });
    const kube = KubeClient.fromKubeconfig(sim.env.KUBECONFIG!);
    const opts = { talos, kube, cluster: "home-ops", nodes: repoNodes };
    const check = await collectStatus(opts);
    if (!check.ok || check.nodes.length !== n) throw new Error(`status at ${n} nodes is not healthy: ${check.problems.slice(0, 3).join("; ")}`);
    const t = await compare(
      {
        concurrent: () => collectStatus(opts),
        sequential: () => collectStatus({ ...opts, sequential: true }),
      },
      rounds,
    );
    // the Kubernetes half alone (the 7 lists), where the 50 ms latency is what concurrency hides; the talosctl half is
    // bounded by starting the stand-in processes on this machine's CPUs
    const lists = [
      () => kube.list(NODE_KIND),
      () => kube.list(KINDS.daemonSet, { namespace: "kube-system" }),
      () => kube.list(KINDS.bgpNodeConfig).catch(() => null),
      () => kube.list(KINDS.kustomization).catch(() => null),
      () => kube.list(KINDS.helmRelease).catch(() => null),
      () => kube.list(LONGHORN_VOLUME_KIND, { namespace: LONGHORN_NAMESPACE }).catch(() => null),
      () => kube.list(KINDS.certificate).catch(() => null),
    ];
    const k = await compare(
      {
        concurrent: () => Promise.all(lists.map((f) => f())),
        sequential: async () => {
          for (const f of lists) await f();
        },
      },
      rounds,
    );
    rows.push(
      `${String(n).padStart(4)} nodes: concurrent ${t.concurrent!.toFixed(0).padStart(6)} ms, sequential ${t.sequential!.toFixed(0).padStart(6)} ms, ` +
        `sequential/concurrent ${ratio(t.sequential!, t.concurrent!)}  ` +
        `(Kubernetes lists alone: ${k.concurrent!.toFixed(0)} vs ${k.sequential!.toFixed(0)} ms, ${ratio(k.sequential!, k.concurrent!)})`,
    );
    console.log(rows.at(-1));
  } finally {
    await sim.stop();
  }
}
console.log(`\ncluster-status reads, ${latencyMs} ms Kubernetes API latency, median of ${rounds} rounds each:`);
for (const r of rows) console.log(r);
