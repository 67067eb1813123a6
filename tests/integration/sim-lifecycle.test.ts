/**
 * The lifecycle of issue 8, driven only through the stand-in executables and the real kubectl, as separate
 * processes against a simulation of this repo's own cluster: three nodes from maintenance mode to a Ready cluster,
 * then a reboot, a reset (rejoin), and a disaster recovery of etcd from a snapshot.
 *
 * The CNI step: Nodes become Ready once Cilium runs. This test does not install Cilium (that is the bootstrap
 * scripts' job, tested with lib/sim/controllers); it flips the simulation's CNI flag directly instead
 * (`cluster.setCniReady(true)`), the one step not done through a tool.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { maxConcurrentDown, type Simulation, startSimulation } from "../../lib/sim/index.ts";
import { parseEtcdMembers, parseMachineStatus, parseSnapshotOutput } from "../../lib/talos/parse.ts";
import { classifyTalosError } from "../../lib/talos/errors.ts";

const root = path.resolve(import.meta.dir, "../..");
let sim: Simulation;
let work: string;
let ips: string[];

beforeAll(async () => {
  sim = await startSimulation({ root, state: "bare", timing: { scale: 0.002 }, controllers: false });
  ips = sim.cluster.topology.nodes.map((n) => n.ipv4);
  work = mkdtempSync(path.join(tmpdir(), "sim-lifecycle-"));
  cpSync(path.join(root, "talos"), work, { recursive: true });
});

afterAll(async () => {
  await sim?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function sh(cmd: string[], opts: { allowFail?: boolean } = {}) {
  const p = Bun.spawn(cmd, { cwd: work, env: { ...process.env, ...sim.env }, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0 && !opts.allowFail) throw new Error(`${cmd.join(" ")} failed (${code}): ${stderr}`);
  return { stdout, stderr, code };
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await Bun.sleep(25);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}

async function stage(ip: string, insecure = false): Promise<string> {
  const r = await sh(["talosctl", "-n", ip, "get", "machinestatus", "-o", "json", ...(insecure ? ["--insecure"] : [])], { allowFail: true });
  if (r.code !== 0) return "unreachable";
  return parseMachineStatus(r.stdout)[0]?.stage ?? "unknown";
}

async function kubeNodes(): Promise<Array<{ name: string; ready: string }>> {
  const r = await sh(["kubectl", "get", "nodes", "-o", "json"]);
  return (JSON.parse(r.stdout).items as any[]).map((n) => ({
    name: n.metadata.name,
    ready: n.status.conditions.find((c: any) => c.type === "Ready")?.status,
  }));
}

async function etcdMembers(ip: string) {
  return parseEtcdMembers((await sh(["talosctl", "-n", ip, "etcd", "members"])).stdout);
}

test("maintenance -> configured -> etcd bootstrapped -> Nodes NotReady -> Ready, through the stand-ins", async () => {
  for (const ip of ips) expect(await stage(ip, true)).toBe("maintenance");

  // the secrets bundle flows op stdout -> git-ignored file; talhelper renders the configs
  const secret = await sh(["bash", "-c", "umask 077 && op read op://home-ops/talos/talsecret > talsecret.yaml"]);
  expect(secret.stdout).toBe("");
  const gen = await sh(["talhelper", "genconfig"]);
  const names = sim.cluster.topology.nodes.map((n) => n.hostname);
  for (const n of names) expect(gen.stdout).toContain(`generated config for ${n} in ./clusterconfig/home-ops-${n}.yaml`);

  for (const [i, ip] of ips.entries()) {
    const noInsecure = await sh(["talosctl", "apply-config", "-n", ip, "--file", `clusterconfig/home-ops-${names[i]}.yaml`], { allowFail: true });
    expect(classifyTalosError(noInsecure.stderr)).toBe("maintenance-needs-insecure");
    const r = await sh(["talosctl", "apply-config", "--insecure", "-n", ip, "--file", `clusterconfig/home-ops-${names[i]}.yaml`]);
    expect(r.stdout + r.stderr).toBe("");
  }
  for (const ip of ips) await until(`${ip} running`, async () => (await stage(ip)) === "running");

  await until("bootstrap", async () => {
    const r = await sh(["talosctl", "--talosconfig", "clusterconfig/talosconfig", "-n", ips[0]!, "bootstrap"], { allowFail: true });
    return r.code === 0 || classifyTalosError(r.stderr) === "already-exists";
  });
  const again = await sh(["talosctl", "-n", ips[0]!, "bootstrap"], { allowFail: true });
  expect(classifyTalosError(again.stderr)).toBe("already-exists");

  const notReady = await until("3 Nodes registered", async () => {
    const nodes = await kubeNodes();
    return nodes.length === 3 ? nodes : undefined;
  });
  expect(notReady.map((n) => n.ready)).toEqual(["False", "False", "False"]);
  await until("3 voting etcd members", async () => {
    const m = await etcdMembers(ips[0]!);
    return m.length === 3 && m.every((x) => !x.learner);
  });

  sim.cluster.setCniReady(true); // the CNI step (see the header)
  await sh(["kubectl", "wait", "--for=condition=Ready", "node", "--all", "--timeout=20s"]);
  const health = await sh(["talosctl", "-n", ips[0]!, "health", "--wait-timeout", "5m"]);
  expect(health.stderr).toContain("waiting for all k8s nodes to report ready: OK");
}, 60_000);

test("reboot one node: down, back, Ready again; never more than one node down", async () => {
  const before = sim.cluster.history.length;
  const r = await sh(["talosctl", "-n", ips[1]!, "reboot"]);
  expect(r.stderr).toContain(`${ips[1]}: post check passed`);
  const events = sim.cluster.history.slice(before).filter((e) => e.node === sim.cluster.topology.nodes[1]!.hostname);
  expect(events.map((e) => e.type)).toContain("down");
  expect(events.map((e) => e.type)).toContain("up");
  await sh(["kubectl", "wait", "--for=condition=Ready", "node", "--all", "--timeout=20s"]);
  expect(sim.cluster.maxConcurrentDown(before)).toBe(1);
}, 60_000);

test("reset one node (graceful, STATE+EPHEMERAL): it leaves etcd, returns to maintenance, rejoins after apply-config", async () => {
  const ip = ips[2]!;
  const host = sim.cluster.topology.nodes[2]!.hostname;
  await sh(["talosctl", "-n", ip, "reset", "--graceful", "--reboot", "--system-labels-to-wipe", "STATE", "--system-labels-to-wipe", "EPHEMERAL"]);
  expect(await stage(ip, true)).toBe("maintenance");
  expect((await etcdMembers(ips[0]!)).map((m) => m.hostname)).not.toContain(host);
  await sh(["talosctl", "apply-config", "--insecure", "-n", ip, "--file", `clusterconfig/home-ops-${host}.yaml`]);
  await until("the reset node back in etcd", async () => {
    const m = await etcdMembers(ips[0]!);
    return m.length === 3 && m.every((x) => !x.learner);
  });
  await sh(["kubectl", "wait", "--for=condition=Ready", "node", "--all", "--timeout=20s"]);
}, 60_000);

test("disaster recovery: snapshot, lose every member's data, bootstrap --recover-from, data back", async () => {
  await sh(["kubectl", "create", "configmap", "before-snapshot", "-n", "default", "--from-literal=k=v"]);
  const snap = await sh(["talosctl", "-n", ips[0]!, "etcd", "snapshot", "db.snapshot"]);
  const info = parseSnapshotOutput(snap.stdout);
  expect(info).not.toBeNull();
  expect(readFileSync(path.join(work, "db.snapshot")).length).toBe(info!.bytes);
  await sh(["kubectl", "delete", "configmap", "before-snapshot", "-n", "default"]);

  await sh(["talosctl", "-n", ips.join(","), "reset", "--graceful=false", "--reboot", "--system-labels-to-wipe", "EPHEMERAL", "--wait=false"]);
  for (const ip of ips)
    await until(`etcd Preparing on ${ip}`, async () => (await sh(["talosctl", "-n", ip, "service", "etcd"], { allowFail: true })).stdout.includes("STATE    Preparing"));
  await sh(["talosctl", "-n", ips[0]!, "bootstrap", "--recover-from", "db.snapshot"]);
  await until("all members rejoined", async () => {
    const m = await etcdMembers(ips[0]!).catch(() => []);
    return m.length === 3 && m.every((x) => !x.learner);
  });
  const cm = await sh(["kubectl", "get", "configmap", "before-snapshot", "-n", "default", "-o", "jsonpath={.data.k}"]);
  expect(cm.stdout).toBe("v");
  await sh(["kubectl", "wait", "--for=condition=Ready", "node", "--all", "--timeout=20s"]);
}, 60_000);

test("no secret ever reached a command line", () => {
  const secrets = sim.cluster.vault.allValues().flatMap((v) => [v, ...v.split("\n").filter((l) => l.trim().length > 20)]);
  expect(secrets.length).toBeGreaterThan(0);
  for (const call of sim.cluster.calls) for (const arg of call.argv) for (const s of secrets) expect(arg.includes(s)).toBe(false);
  expect(existsSync(path.join(work, "talsecret.yaml"))).toBe(true);
});
