// The simulated Kubernetes API: how long it takes to start (per-run PKI + HTTPS listener + kubeconfig), as a process
// (start and stop; then start, answer one mTLS request through lib/kube, stop) against a bare `bun -e ''` in the
// same run, and in process; and how long a
// list of 300 nodes takes through lib/kube (HTTPS + JSON) against the in-process store list it wraps.
// Run: bun bench/sim-api.ts [--rounds N] [--nodes N]
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { compare, median, ratio, runCommand, timeOnce } from "../lib/bench/index.ts";
import { KubeClient } from "../lib/kube/index.ts";
import { startKubeApi } from "../lib/sim/kube-api.ts";
import { SimStore } from "../lib/sim/store.ts";

const root = path.resolve(import.meta.dir, "..");
const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) || dflt : dflt;
};
const rounds = arg("--rounds", 11);
const nodes = arg("--nodes", 300);

const dir = mkdtempSync(path.join(tmpdir(), "home-ops-bench-sim-"));
const starter = path.join(dir, "start-api.ts");
const startOnly = path.join(dir, "start-only.ts");
writeFileSync(
  startOnly,
  [
    `import { SimStore } from ${JSON.stringify(path.join(root, "lib/sim/store.ts"))};`,
    `import { startKubeApi } from ${JSON.stringify(path.join(root, "lib/sim/kube-api.ts"))};`,
    "const api = await startKubeApi({ store: new SimStore() });",
    "await api.stop();",
    "",
  ].join("\n"),
);
writeFileSync(
  starter,
  [
    `import { SimStore } from ${JSON.stringify(path.join(root, "lib/sim/store.ts"))};`,
    `import { startKubeApi } from ${JSON.stringify(path.join(root, "lib/sim/kube-api.ts"))};`,
    `import { KubeClient } from ${JSON.stringify(path.join(root, "lib/kube/index.ts"))};`,
    "const api = await startKubeApi({ store: new SimStore() });",
    "const c = KubeClient.fromKubeconfig(api.kubeconfigPath);",
    "await c.list({ apiVersion: 'v1', kind: 'Namespace' });",
    "c.close();",
    "await api.stop();",
    "",
  ].join("\n"),
);

try {
  // 1. startup, as processes
  const proc = await compare(
    {
      "bun -e ''": () => runCommand(["bun", "-e", ""], root),
      "start API + stop": () => runCommand(["bun", startOnly], root),
      "start API + first request + stop": () => runCommand(["bun", starter], root),
    },
    rounds,
  );
  const base = proc["bun -e ''"]!;
  const start = proc["start API + stop"]!;
  const withRequest = proc["start API + first request + stop"]!;

  // 2. startup, in process (what --simulate pays on top of the script)
  const inproc: number[] = [];
  for (let i = 0; i < rounds; i++) {
    inproc.push(
      await timeOnce(async () => {
        const api = await startKubeApi({ store: new SimStore() });
        await api.stop();
      }),
    );
  }

  // 3. list latency at N nodes
  const store = new SimStore();
  for (let i = 0; i < nodes; i++) {
    store.create({
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: `node-${String(i).padStart(3, "0")}`, labels: { "kubernetes.io/hostname": `node-${i}`, "node-role.kubernetes.io/worker": "" } },
      spec: { podCIDR: `10.244.${i % 256}.0/24` },
      status: {
        conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", lastTransitionTime: "2026-01-01T00:00:00Z" }],
        addresses: [{ type: "InternalIP", address: `10.0.${Math.floor(i / 256)}.${i % 256}` }],
        nodeInfo: { kubeletVersion: "v1.31.1", osImage: "Talos (v1.10.5)", containerRuntimeVersion: "containerd://2.0.5" },
      },
    });
  }
  const api = await startKubeApi({ store });
  const client = KubeClient.fromKubeconfig(api.kubeconfigPath);
  const kind = { apiVersion: "v1", kind: "Node" };
  const lists = await compare(
    {
      "store.list": () => store.list("nodes"),
      "lib/kube list (HTTPS)": async () => {
        const r = await client.list(kind);
        if (r.items.length !== nodes) throw new Error(`listed ${r.items.length} nodes, expected ${nodes}`);
      },
    },
    rounds * 3,
  );
  client.close();
  await api.stop();

  const inprocMs = median(inproc);
  const figures = {
    rounds,
    bunE_ms: +base.toFixed(1),
    apiProcess_ms: +start.toFixed(1),
    apiProcessRatio: +(start / base).toFixed(2),
    apiProcessWithClient_ms: +withRequest.toFixed(1),
    apiProcessWithClientRatio: +(withRequest / base).toFixed(2),
    apiInProcess_ms: +inprocMs.toFixed(1),
    nodes,
    storeList_ms: +lists["store.list"]!.toFixed(2),
    httpsList_ms: +lists["lib/kube list (HTTPS)"]!.toFixed(2),
    httpsListRatio: +(lists["lib/kube list (HTTPS)"]! / lists["store.list"]!).toFixed(2),
  };
  if (process.argv.includes("--json")) console.log(JSON.stringify(figures));
  else {
    console.log(`rounds: ${rounds} (medians, interleaved)`);
    console.log(`bun -e ''                                 ${base.toFixed(1)} ms`);
    console.log(`process: start API + stop                 ${start.toFixed(1)} ms   ${ratio(start, base)} of bun -e '' (target: starts in under a second)`);
    console.log(`process: + first lib/kube mTLS request    ${withRequest.toFixed(1)} ms   ${ratio(withRequest, base)} of bun -e ''`);
    console.log(`in process: PKI + listener + kubeconfig   ${inprocMs.toFixed(1)} ms`);
    console.log(`list ${nodes} nodes: store                     ${lists["store.list"]!.toFixed(2)} ms`);
    console.log(`list ${nodes} nodes: lib/kube over HTTPS       ${lists["lib/kube list (HTTPS)"]!.toFixed(2)} ms   ${ratio(lists["lib/kube list (HTTPS)"]!, lists["store.list"]!)} of the store list`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
