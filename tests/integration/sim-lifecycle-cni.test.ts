/**
 * The Talos half and the in-cluster half of the simulation together (lib/sim/controllers): Nodes are NotReady
 * after the Talos bootstrap, become Ready only once Cilium is installed (through the helm stand-in), and a node
 * reboot takes its Node to Unknown, degrades the Longhorn volumes with a replica there, and both recover after it.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import path from "node:path";
import { loadRepo } from "../../lib/repo/model.ts";
import { type Simulation, startSimulation } from "../../lib/sim/index.ts";

const root = path.resolve(import.meta.dir, "../..");
const haveControllers = existsSync(path.join(root, "lib/sim/controllers/index.ts"));
let sim: Simulation;
// the chart versions this repo pins (a Renovate bump of either must not break this test)
const model = loadRepo(root);
const chartVersion = (chart: string) => model.helmReleases.find((h) => h.chart === chart)?.version ?? "";

beforeAll(async () => {
  if (!haveControllers) return;
  sim = await startSimulation({ root, state: "talos", timing: { scale: 0.002 } });
});
afterAll(async () => {
  await sim?.stop();
});

async function sh(cmd: string, allowFail = false) {
  const p = Bun.spawn(["bash", "-c", cmd], { env: { ...process.env, ...sim.env }, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0 && !allowFail) throw new Error(`${cmd} failed (${code}): ${stderr}`);
  return { stdout, stderr, code };
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    await Bun.sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const readyOf = async () => {
  const r = await sh("kubectl get nodes -o json");
  return Object.fromEntries(
    (JSON.parse(r.stdout).items as any[]).map((n) => [n.metadata.name, n.status.conditions.find((c: any) => c.type === "Ready").status]),
  ) as Record<string, string>;
};

test.skipIf(!haveControllers)("Nodes wait NotReady for the CNI; helm install cilium makes them Ready", async () => {
  expect(Object.values(await readyOf())).toEqual(["False", "False", "False"]);
  await sh("helm repo add cilium https://helm.cilium.io");
  await sh(`helm upgrade --install cilium cilium/cilium --version ${chartVersion("cilium")} --namespace kube-system --wait --timeout 5m`);
  await sh("kubectl wait --for=condition=Ready node --all --timeout=30s");
  const health = await sh(`talosctl -n ${sim.cluster.topology.nodes[0]!.ipv4} health --wait-timeout 10m`);
  expect(health.stderr).toContain("waiting for coredns to report ready: OK");
}, 60_000);

test.skipIf(!haveControllers)("a reboot: Node Unknown, its Longhorn volumes degrade, then Ready and back as before", async () => {
  await sh("helm repo add longhorn https://charts.longhorn.io");
  await sh(`helm upgrade --install longhorn longhorn/longhorn --version ${chartVersion("longhorn")} --namespace longhorn-system --create-namespace --wait --timeout 5m`);
  const volumes = async () =>
    (JSON.parse((await sh("kubectl get volumes.longhorn.io -n longhorn-system -o json")).stdout).items as any[]).map((v) => ({
      name: v.metadata.name as string,
      robustness: v.status?.robustness as string | undefined,
      owner: v.spec?.nodeID as string,
    }));
  // every volume healthy first: the simulated Longhorn schedules each volume's second replica once the managers are
  // up, and a volume still rebuilding would make "worse after the reboot" a race
  const before = await until("Longhorn volumes healthy", async () => {
    const v = await volumes();
    return v.length > 0 && v.every((x) => x.robustness === "healthy") ? v : undefined;
  });
  // the node holding the first volume's engine (it holds a replica of it too)
  const node = sim.cluster.topology.nodes.find((n) => n.hostname === before[0]!.owner)!;
  const affected = before.filter((v) => v.owner === node.hostname).map((v) => v.name);

  // hold the node down long enough to observe it, then bring it back
  const since = sim.cluster.history.length;
  sim.cluster.faults.add(`reboot-never-returns=${node.hostname}`);
  await sh(`talosctl -n ${node.ipv4} reboot --wait=false`);
  await until("Node Unknown", async () => (await readyOf())[node.hostname] === "Unknown");
  // a replica on the down node fails: each of its volumes is worse off than before (healthy -> degraded, ... -> faulted)
  const rank = (r: string | undefined) => ["healthy", "degraded", "faulted"].indexOf(r ?? "");
  await until("its volumes degraded", async () => {
    const v = await volumes();
    return affected.every((name) => rank(v.find((x) => x.name === name)?.robustness) > rank(before.find((x) => x.name === name)?.robustness));
  });
  sim.cluster.powerOn(node.hostname);
  await sh("kubectl wait --for=condition=Ready node --all --timeout=30s");
  await until("volumes back to their robustness before the reboot", async () => {
    const v = await volumes();
    return before.every((b) => v.find((x) => x.name === b.name)?.robustness === b.robustness);
  });
  expect(sim.cluster.maxConcurrentDown(since)).toBe(1);
}, 90_000);
