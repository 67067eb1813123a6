/**
 * The cluster's one maintenance lock, end to end against one simulated cluster: two rolling operations on different
 * nodes started together (and 50 ms apart) never run at once: one runs, the other exits 2 naming the holder, and the
 * simulation's own history never shows two nodes down. A holder killed with SIGKILL leaves a lock that expires and
 * is then taken over (at once when its process provably is gone from this host).
 */
import { afterEach, describe, expect, test } from "bun:test";
import path from "node:path";
import { HOLDER_ANNOTATION, holderFromLease, MAINTENANCE_LEASE, type Lease } from "../../lib/safety/lock.ts";
import { maxConcurrentDown, startSimulation, type Simulation } from "../../lib/sim/index.ts";
import { loadCluster } from "../../lib/talos/cluster.ts";
import { ROOT, runScript, type ScriptRun } from "./talos-sim-harness.ts";

const T = 120_000;
const cps = loadCluster(ROOT).nodes.filter((n) => n.controlPlane).map((n) => n.hostname);

let sim: Simulation | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

async function bootstrapped(scale = 0.1): Promise<Simulation> {
  sim = await startSimulation({ state: "bootstrapped", controllers: false, timing: { scale } });
  return sim;
}
/** a slower clock: each reboot lasts about ten seconds, so an operation started with it surely meets the holder */
const SLOW = 0.25;

function lease(s: Simulation): Lease | undefined {
  return s.cluster.store.tryGet({ apiVersion: MAINTENANCE_LEASE.apiVersion, kind: MAINTENANCE_LEASE.kind }, MAINTENANCE_LEASE.name, MAINTENANCE_LEASE.namespace) as Lease | undefined;
}

const reboots = (s: Simulation) => s.cluster.history.filter((e) => e.type === "reboot").map((e) => e.node);

function oneRanOneRefused(s: Simulation, runs: Array<{ node: string; r: ScriptRun }>) {
  const codes = runs.map((x) => x.r.code).sort();
  expect(codes, runs.map((x) => x.r.stderr).join("\n----\n")).toEqual([0, 2]);
  const winner = runs.find((x) => x.r.code === 0)!;
  const loser = runs.find((x) => x.r.code === 2)!;
  expect(loser.r.stderr).toContain("the cluster is under maintenance");
  expect(loser.r.stderr).toContain(`"talos-reboot --node ${winner.node}"`);
  expect(loser.r.stderr).toMatch(/ by \S+@\S+ \(pid \d+\) since /);
  expect(reboots(s)).toEqual([winner.node]);
  expect(maxConcurrentDown(s.cluster.history)).toBe(1);
  // released on the way out
  const l = lease(s)!;
  expect(l).toBeDefined();
  expect(holderFromLease(l)).toBeUndefined();
}

describe("maintenance lock between two operators", () => {
  test("two reboots of different nodes started at the same moment: one runs, the other exits 2 naming it", async () => {
    const s = await bootstrapped(SLOW);
    const [a, b] = [cps[0]!, cps[1]!];
    const runs = await Promise.all(
      [a, b].map(async (node) => ({ node, r: await runScript("talos-reboot", ["--node", node, "--yes"], { env: s.env }) })),
    );
    oneRanOneRefused(s, runs);
  }, T);

  test("the second started 50 ms after the first: the same", async () => {
    const s = await bootstrapped(SLOW);
    const [a, b] = [cps[0]!, cps[1]!];
    const first = runScript("talos-reboot", ["--node", a, "--yes"], { env: s.env });
    await Bun.sleep(50);
    const second = runScript("talos-reboot", ["--node", b, "--yes"], { env: s.env });
    oneRanOneRefused(s, [
      { node: a, r: await first },
      { node: b, r: await second },
    ]);
  }, T);

  test("a reset while a reboot holds the lock is refused (exit 2), nothing reset", async () => {
    const s = await bootstrapped();
    const holder = spawnHolder(s.env, `talos-reboot --node ${cps[0]}`);
    try {
      await waitLocked(holder);
      const r = await runScript("cluster-safe-reset", ["--node", cps[1]!, "--yes", "--skip-snapshot"], { env: s.env });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`"talos-reboot --node ${cps[0]}"`);
      expect(s.cluster.history.filter((e) => e.type === "reset")).toEqual([]);
    } finally {
      holder.kill("SIGKILL");
      await holder.exited;
    }
  }, T);
});

describe("--break-lock", () => {
  test("a dry run names the holder; without confirmation nothing is broken; confirmed, it takes the lock from a live holder", async () => {
    const s = await bootstrapped();
    const holder = spawnHolder(s.env, "a stuck operation");
    try {
      const identity = await waitLocked(holder);
      const dry = await runScript("talos-reboot", ["--node", cps[1]!, "--break-lock", "--dry-run"], { env: s.env });
      expect(dry.code).toBe(0);
      expect(dry.stdout).toContain('now held by "a stuck operation"');
      // --yes answers the reboot's question, not the lock's
      const held = await runScript("talos-reboot", ["--node", cps[1]!, "--yes"], { env: s.env });
      expect(held.code).toBe(2);
      // no terminal, no --yes: refused before anything
      const unconfirmed = await runScript("talos-reboot", ["--node", cps[1]!, "--break-lock"], { env: s.env });
      expect(unconfirmed.code).toBe(2);
      expect(lease(s)!.spec?.holderIdentity).toBe(identity);
      expect(reboots(s)).toEqual([]);
      const r = await runScript("talos-reboot", ["--node", cps[1]!, "--yes", "--break-lock"], { env: s.env });
      expect(r.code, r.stderr).toBe(0);
      expect(reboots(s)).toEqual([cps[1]!]);
      const l = lease(s)!;
      expect(l.spec?.leaseTransitions).toBe(1);
      expect(holderFromLease(l)).toBeUndefined();
    } finally {
      holder.kill("SIGKILL");
      await holder.exited;
    }
  }, T);
});

async function waitLocked(p: Bun.Subprocess<"ignore" | "pipe" | "inherit", "pipe", "pipe">): Promise<string> {
  const reader = p.stdout.getReader();
  let text = "";
  while (!/locked .+\n/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the lock holder ended before taking the lock: ${await new Response(p.stderr).text()}`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return /locked (.+)\n/.exec(text)![1]!;
}

function spawnHolder(env: Record<string, string>, operation: string) {
  return Bun.spawn(["bun", path.join(import.meta.dir, "hold-lock.ts"), operation], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
}

describe("a holder killed with SIGKILL", () => {
  test("on another machine: refused while fresh, then it expires and is taken over after a whole duration unchanged", async () => {
    const s = await bootstrapped();
    const env = { ...s.env, HOMEOPS_LOCK_SECONDS: "3" };
    const holder = spawnHolder(env, "held by a test process");
    let identity: string;
    try {
      identity = await waitLocked(holder);
      const refused = await runScript("talos-reboot", ["--node", cps[1]!, "--yes"], { env });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('"held by a test process"');
    } finally {
      holder.kill("SIGKILL");
      await holder.exited;
    }
    // nothing released it: the dead holder is still named. Say it ran on another machine (its pid cannot be checked)
    const left = lease(s)!;
    expect(left.spec?.holderIdentity).toBe(identity);
    s.cluster.store.update({ ...left, metadata: { ...left.metadata, annotations: { ...left.metadata.annotations, [HOLDER_ANNOTATION]: "someone@another-machine pid 4242" } } });
    // wait until the lease, by its own renewTime, is older than its duration (observed, not a fixed sleep)
    for (;;) {
      const renewed = Date.parse(lease(s)?.spec?.renewTime ?? "");
      if (Date.now() - renewed > 3_500) break;
      await Bun.sleep(200);
    }
    const r = await runScript("talos-reboot", ["--node", cps[1]!, "--yes"], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("someone@another-machine");
    expect(r.stderr).toContain("was not renewed; taking it over if it stays unchanged for 3s");
    expect(reboots(s)).toEqual([cps[1]!]);
    const l = lease(s)!;
    expect(l.spec?.leaseTransitions).toBe(1);
    expect(holderFromLease(l)).toBeUndefined();
  }, T);

  test("on this machine: its process is gone, so the next run takes over at once (an interrupted run continues)", async () => {
    const s = await bootstrapped();
    const holder = spawnHolder(s.env, "held by a test process");
    try {
      await waitLocked(holder);
    } finally {
      holder.kill("SIGKILL");
      await holder.exited;
    }
    const r = await runScript("talos-reboot", ["--node", cps[1]!, "--yes"], { env: s.env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("a process that is gone from this host: taking it over");
    expect(reboots(s)).toEqual([cps[1]!]);
    expect(lease(s)!.spec?.leaseTransitions).toBe(1);
  }, T);
});
