/**
 * bootstrap-phased as a process against the simulated cluster (lib/sim): bare nodes to every Flux Kustomization
 * Ready, a second run that changes nothing, a run killed in each phase in turn that a rerun finishes, --dry-run,
 * faults, and no secret value in any argv, the output or the files.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { expectedFluxObjects, fluxReport } from "../../lib/flux/index.ts";
import { loadRepo } from "../../lib/repo/model.ts";
import { Journal } from "../../lib/bootstrap/journal.ts";
import type { SimCluster } from "../../lib/sim/index.ts";
import { fileContains, filesUnder, run, setup, tempRepo, type Env } from "./bootstrap-harness.ts";

const TIMING = { scale: 0.005 };
const model = loadRepo(path.resolve(import.meta.dir, "../.."));
const envs: Env[] = [];
afterAll(async () => {
  await Promise.all(envs.map((e) => e.stop()));
});
async function sim(opts: Parameters<typeof setup>[0] = {}) {
  const e = await setup({ timing: TIMING, ...opts });
  envs.push(e);
  return e;
}

/** Tool calls that change something (reads — get, list, version, whoami, read — do not). */
const MUTATING: Record<string, string[]> = {
  talosctl: ["apply-config", "bootstrap", "kubeconfig", "reset", "reboot", "upgrade", "upgrade-k8s"],
  helm: ["install", "upgrade", "uninstall", "rollback"],
  flux: ["install", "bootstrap", "reconcile", "suspend", "resume", "create", "delete"],
  talhelper: ["genconfig"],
  op: ["item", "signin"],
};
function mutatingCalls(cluster: SimCluster, from = 0): string[] {
  return cluster.tools.calls.slice(from).flatMap((c) => {
    const sub = c.argv.find((a) => !a.startsWith("-"));
    return sub && MUTATING[c.tool]?.includes(sub) ? [`${c.tool} ${c.argv.join(" ")}`] : [];
  });
}

/** What the toolkit wrote through the API (field manager home-ops), with what identifies a change. */
function toolkitObjects(cluster: SimCluster): Map<string, string> {
  const out = new Map<string, string>();
  for (const k of cluster.store.kinds.all()) {
    let items;
    try {
      items = cluster.store.list(k).items;
    } catch {
      continue;
    }
    for (const o of items) {
      if (!o.metadata.managedFields?.some((m) => m.manager === "home-ops")) continue;
      out.set(`${k.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`, `${o.metadata.generation}:${JSON.stringify(o.data ?? null)}`);
    }
  }
  return out;
}

function endState(cluster: SimCluster) {
  const ks = cluster.store.list("kustomizations.kustomize.toolkit.fluxcd.io").items;
  const hr = cluster.store.list("helmreleases.helm.toolkit.fluxcd.io").items;
  return fluxReport(expectedFluxObjects(model), [...ks, ...hr] as never);
}

function secretValues(e: Env): string[] {
  return Object.values(e.secrets);
}

describe("bootstrap-phased against the simulated cluster", () => {
  test(
    "bare nodes -> every Kustomization Ready; a second run changes nothing; no secret in argv, output or files",
    async () => {
      const e = await sim();
      const r1 = await run(e, "bootstrap-phased", ["--timeout", "120s"], { timeoutMs: 400_000 });
      expect(r1.stderr).not.toContain("error:");
      expect(r1.code).toBe(0);
      const report = endState(e.sim.cluster);
      expect(report.notReady.map((n) => `${n.kind} ${n.name}: ${n.reason}`)).toEqual([]);
      expect(report.items.filter((i) => i.kind === "Kustomization").length).toBe(model.kustomizations.length);
      for (const n of [2, 3, 4, 5]) expect(r1.stderr).toMatch(new RegExp(`ok phase ${n}/6 .*: done in`));
      expect(r1.stdout).toMatch(/total time \d/);
      // the waits say what they wait for
      expect(r1.stderr).toContain("all 3 nodes Ready (");

      // secrets: never in a stand-in's argv, the output, or a file (the Talos bundle only in its 0600 file)
      const values = secretValues(e);
      expect(values.length).toBeGreaterThan(3);
      const argvHits = e.sim.cluster.tools.calls.filter((c) => values.some((v) => c.argv.join(" ").includes(v)));
      expect(argvHits.map((c) => c.tool)).toEqual([]);
      // nor in the environment any tool was started with
      const envHits = e.sim.cluster.tools.calls.filter((c) => Object.entries(c.env ?? {}).some(([, x]) => values.some((v) => x.includes(v))));
      expect(envHits.map((c) => `${c.tool} ${c.argv[0]}`)).toEqual([]);
      expect(e.sim.cluster.tools.calls.every((c) => c.env !== undefined)).toBe(true);
      for (const v of values) {
        expect(r1.stdout.includes(v) || r1.stderr.includes(v)).toBe(false);
      }
      // the rehearsal wrote the bundle and the configs into the simulation's folder, never into the repo
      const talsecret = e.env.HOMEOPS_TALSECRET_FILE!;
      expect(talsecret.startsWith(e.sim.dir)).toBe(true);
      expect(statSync(talsecret).mode & 0o777).toBe(0o600);
      expect(existsSync(path.join(e.root, "talos", "talsecret.yaml"))).toBe(false);
      const repoConfigs = path.join(e.root, "clusterconfig");
      expect(existsSync(repoConfigs) ? readdirSync(repoConfigs).filter((f) => f !== "README.md") : []).toEqual([]);
      const bundleFiles = (rel: string) => rel === "talsecret.yaml" || rel.startsWith("clusterconfig");
      const leaked = [
        ...filesUnder(e.root, (rel) => rel === ".git"),
        ...filesUnder(e.sim.dir, bundleFiles),
      ].filter((f) => fileContains(f, values));
      expect(leaked).toEqual([]);

      // second run: every phase detected done, no tool call or API write that changes anything
      const callsBefore = e.sim.cluster.tools.calls.length;
      const written = toolkitObjects(e.sim.cluster);
      expect(written.size).toBeGreaterThan(5);
      const r2 = await run(e, "bootstrap-phased", [], { timeoutMs: 200_000 });
      expect(r2.code).toBe(0);
      for (const n of [1, 2, 3, 4, 5, 6]) expect(r2.stderr).toMatch(new RegExp(`skip phase ${n}/6 .*: already done`));
      expect(r2.stdout).toContain("every phase was already done: nothing changed");
      expect(mutatingCalls(e.sim.cluster, callsBefore)).toEqual([]);
      expect(toolkitObjects(e.sim.cluster)).toEqual(written);

      // --status --json: every phase done, the journal's last run shown
      const st = await run(e, "bootstrap-phased", ["--status", "--json"]);
      expect(st.code).toBe(0);
      const doc = JSON.parse(st.stdout) as { done: boolean; phases: Array<{ n: number; result: string; lastRun: { event: string } | null }> };
      expect(doc.done).toBe(true);
      expect(doc.phases.map((p) => p.result)).toEqual(["done", "done", "done", "done", "done", "done"]);
      expect(doc.phases[1]!.lastRun?.event).toBe("done");
    },
    600_000,
  );

  test(
    "killed in each phase in turn (SIGKILL, and Ctrl-C once), every rerun continues; the last reaches the same end state",
    async () => {
      const e = await sim();
      for (const n of [2, 3, 4, 5, 6]) {
        const ctrlC = n === 4;
        const r = await run(e, "bootstrap-phased", ["--timeout", "120s"], {
          killWhen: new RegExp(`(▶|skip) phase ${n}/6`),
          signal: ctrlC ? "SIGINT" : "SIGKILL",
          delayMs: 150,
          timeoutMs: 300_000,
        });
        // phases before n were done by earlier runs or this one; nothing before n is ever redone
        for (let m = 2; m < n - 1; m++) expect(r.stderr).toMatch(new RegExp(`skip phase ${m}/6`));
        if (ctrlC) {
          expect(r.code).toBe(130);
          expect(r.stderr).toMatch(/interrupted/);
          expect(r.stderr).not.toMatch(/\n\s+at /);
        } else if (n < 6) {
          // killed mid-phase (phase 6 may already be done when reached: Flux finishes during phase 5)
          expect(r.code).not.toBe(0);
          expect(r.stderr).toMatch(new RegExp(`▶ phase ${n}/6`));
        }
      }
      const last = await run(e, "bootstrap-phased", ["--timeout", "120s"], { timeoutMs: 400_000 });
      expect(last.stderr).not.toContain("error:");
      expect(last.code).toBe(0);
      expect(endState(e.sim.cluster).notReady).toEqual([]);
      // talosctl apply-config reached each node once: a configured node was never configured again
      const applies = e.sim.cluster.tools.calls.filter((c) => c.tool === "talosctl" && c.argv.includes("apply-config") && c.exitCode === 0);
      expect(applies.length).toBe(model.nodes.length);
    },
    900_000,
  );

  test(
    "--dry-run on bare nodes prints every command and API write and changes nothing",
    async () => {
      const e = await sim();
      const r = await run(e, "bootstrap-phased", ["--dry-run"], { timeoutMs: 200_000 });
      expect(r.stderr).not.toContain("error:");
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/\[dry-run\] talhelper genconfig/);
      expect(r.stdout).toMatch(/\[dry-run\] talosctl .*apply-config .*--insecure/);
      expect(r.stdout).toMatch(/\[dry-run\] talosctl .*bootstrap/);
      expect(r.stdout).toMatch(/\[dry-run\] helm upgrade --install cilium cilium .*--values - < \(stdin\)/);
      expect(r.stdout).toMatch(/\[dry-run\] apply v1 Secret external-secrets\/onepassword-connect-token \(keys: token; values not shown\)/);
      expect(r.stdout).toContain(`[dry-run] flux install --version=v${model.versions.flux.value.replace(/^v/, "")}`);
      expect(r.stdout).toMatch(/\[dry-run\] apply cilium\.io\/v2\S* CiliumLoadBalancerIPPool/);
      expect(r.stdout).toContain("dry run: nothing was changed");
      expect(mutatingCalls(e.sim.cluster)).toEqual([]);
      expect(e.sim.cluster.talos.machines.every((m) => m.stage === "maintenance")).toBe(true);
      expect(e.sim.cluster.store.list("nodes").items).toEqual([]);
      expect(toolkitObjects(e.sim.cluster).size).toBe(0);
      for (const v of secretValues(e)) expect(r.stdout.includes(v) || r.stderr.includes(v)).toBe(false);
    },
    300_000,
  );
});

describe("the README's main command", () => {
  test(
    "`bun scripts/bootstrap-phased.ts --simulate` takes a simulated copy of this repo from bare nodes to every Kustomization Ready",
    async () => {
      const root = tempRepo();
      try {
        const env: Record<string, string> = { ...(process.env as Record<string, string>), NO_COLOR: "1" };
        for (const k of ["KUBECONFIG", "TALOSCONFIG", "OP_ACCOUNT", "OP_VAULT", "HOMEOPS_SIM_URL", "HOMEOPS_SIM_TOKEN"]) delete env[k];
        const proc = Bun.spawn(["bun", path.join(root, "scripts", "bootstrap-phased.ts"), "--simulate"], { cwd: root, env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
        const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
        expect(stderr).not.toContain("error:");
        expect(code).toBe(0);
        expect(stdout).toMatch(/6 applications\s*│ (ran|done)\s*│ (\d+)\/\2 Kustomizations and (\d+)\/\3 HelmReleases Ready/);
        expect(stdout).toMatch(/total time \d/);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
    400_000,
  );
});

describe("state is observed, not remembered", () => {
  test("a journal saying every phase is done (a cluster reset since) changes nothing: the phases show what the cluster shows", async () => {
    const e = await sim();
    const journal = new Journal(e.root, e.env);
    for (let n = 1; n <= 6; n++) journal.record({ phase: n, event: "done", ms: 1 });
    const r = await run(e, "bootstrap-phased", ["--status", "--json"], { timeoutMs: 120_000 });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { done: boolean; phases: Array<{ n: number; result: string; lastRun: { event: string } | null }> };
    expect(doc.done).toBe(false);
    expect(doc.phases.filter((p) => p.n >= 2).every((p) => p.result === "pending")).toBe(true);
    expect(doc.phases.every((p) => p.lastRun?.event === "done")).toBe(true);
  }, 120_000);
});

describe("--dry-run before the cluster exists", () => {
  test(
    "no kubeconfig yet (a first run): every phase is planned from the repo, nothing fails on the missing API",
    async () => {
      const e = await sim();
      e.env = { ...e.env, KUBECONFIG: path.join(e.root, "clusterconfig", "kubeconfig") };
      const r = await run(e, "bootstrap-phased", ["--dry-run"], { timeoutMs: 200_000 });
      expect(r.stderr).not.toContain("error:");
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/no kubeconfig at clusterconfig\/kubeconfig/);
      for (const chart of ["cilium", "external-secrets", "onepassword-connect", "longhorn"])
        expect(r.stdout).toMatch(new RegExp(`\\[dry-run\\] helm upgrade --install ${chart} `));
      expect(r.stdout).toMatch(/\[dry-run\] talosctl .*kubeconfig/);
      expect(mutatingCalls(e.sim.cluster)).toEqual([]);
    },
    200_000,
  );
});

describe("faults", () => {
  test(
    "op signed out: phase 4 stops with `run \\`op signin\\``, exit 2, no Secret written",
    async () => {
      const e = await sim({ state: "talos", faults: ["op-signed-out"] });
      const r = await run(e, "bootstrap-phased", ["--from", "2", "--timeout", "120s"], { timeoutMs: 300_000 });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/ok phase 3\/6/);
      expect(r.stderr).toMatch(/FAIL phase 4\/6 core services failed/);
      expect(r.stderr).toContain("error: the 1Password CLI is not signed in");
      expect(r.stderr).toContain("run `op signin`");
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(e.sim.cluster.store.list("secrets", { namespace: "external-secrets" }).items).toEqual([]);
    },
    300_000,
  );

  test(
    "a node unreachable: phase 2 names it and touches no node",
    async () => {
      const e = await sim({ faults: ["unreachable=mini02"] });
      const r = await run(e, "bootstrap-phased", ["--from", "2", "--talos-timeout", "3s"], { timeoutMs: 200_000 });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/error: node mini02 \(172\.29\.51\.12\) does not answer on the Talos API/);
      expect(r.stderr).toContain("powered on");
      expect(mutatingCalls(e.sim.cluster).filter((c) => c.startsWith("talosctl"))).toEqual([]);
    },
    200_000,
  );

  test(
    "Cilium CRDs slow to establish: phase 3 waits for them, then applies the pools and BGP objects",
    async () => {
      // 300 s of real time at the tests' scale (0.005) is 1.5 s
      const e = await sim({ state: "talos", faults: ["crds-slow=300000"] });
      const r = await run(e, "bootstrap-phased", ["--only", "3", "--timeout", "60s"], { timeoutMs: 200_000 });
      expect(r.stderr).not.toContain("error:");
      expect(r.code).toBe(0);
      const waited = /ok Cilium LB-IPAM and BGP CRDs to be Established \(([\d.]+)(ms|s)\)/.exec(r.stderr);
      expect(waited).not.toBeNull();
      const ms = Number(waited![1]) * (waited![2] === "s" ? 1000 : 1);
      expect(ms).toBeGreaterThan(500);
      const pools = e.sim.cluster.store.list("ciliumloadbalancerippools.cilium.io").items;
      expect(pools.length).toBe(model.pools.length);
      // applied only once its CRD was Established
      const crd = e.sim.cluster.store.events.find(
        (ev) => ev.kind.kind === "CustomResourceDefinition" && ev.object.metadata.name === "ciliumloadbalancerippools.cilium.io" &&
          (ev.object.status?.conditions as Array<{ type: string; status: string }> | undefined)?.some((c) => c.type === "Established" && c.status === "True"),
      );
      const pool = e.sim.cluster.store.events.find((ev) => ev.kind.kind === "CiliumLoadBalancerIPPool" && ev.type === "ADDED");
      expect(crd && pool && crd.rv < pool.rv).toBe(true);
    },
    200_000,
  );

  test("phase 1: an incomplete .env stops the bootstrap before anything changes (exit 2, what to do)", async () => {
    const e = await sim();
    e.env = { ...e.env, OP_VAULT: "" };
    const r = await run(e, "bootstrap-phased", [], { timeoutMs: 60_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("OP_VAULT is not set (.env)");
    expect(r.stderr).toContain("error: the environment is not ready to bootstrap");
    expect(r.stderr).toContain("`cp .env.example .env` and fill it in");
    expect(mutatingCalls(e.sim.cluster)).toEqual([]);
  }, 60_000);

  test("bad flags: exit 2, nothing changed", async () => {
    const e = await sim();
    for (const args of [["--from", "9"], ["--only", "x"], ["--from", "2", "--only", "3"], ["--timeout", "soon"]]) {
      const r = await run(e, "bootstrap-phased", args);
      expect(r.code).toBe(2);
      expect(r.stderr.split("\n")[0]).toMatch(/^error: /);
    }
    expect(e.sim.cluster.tools.calls.length).toBe(0);
  }, 120_000);
});
