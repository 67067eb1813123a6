/**
 * Rehearsal as a new user tries it: every live script with `--simulate` and no other simulation knob starts the
 * state it needs and ends well with a non-vacuous result (destructive ones show their --dry-run plan); every fault
 * of FAULT_HELP gives the diagnosis a user sees; a simulated bootstrap ends in what cluster-status calls healthy.
 * Names (nodes, cluster) come from the repo. Scripts run one at a time (each starts its own simulation).
 */
import { describe, expect, test } from "bun:test";
import path from "node:path";
import { loadRepo } from "../../lib/repo/model.ts";
import { loadCluster } from "../../lib/talos/cluster.ts";
import { FAULT_HELP, startSimulation } from "../../lib/sim/index.ts";
import { SIM_STATES } from "../../lib/sim/cluster.ts";

const ROOT = path.resolve(import.meta.dir, "../..");
const cluster = loadCluster(ROOT);
const repo = loadRepo(ROOT);
const hosts = cluster.nodes.map((n) => n.hostname);
const cps = cluster.nodes.filter((n) => n.controlPlane).map((n) => n.hostname);
const BANNER = /^simulated cluster: (\d+) nodes?, state (\w+), faults: (.+); nothing real is touched$/m;
const CLEAN_ENV = { HOMEOPS_SIM_STATE: "", HOMEOPS_SIM_FAULTS: "", HOMEOPS_SIM_POPULATE: "", ROUTER_SSH: "", NO_COLOR: "1" };

async function run(name: string, args: string[], env: Record<string, string> = {}) {
  const p = Bun.spawn(["bun", path.join(ROOT, "scripts", `${name}.ts`), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...CLEAN_ENV, ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => p.kill("SIGKILL"), 240_000);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr, all: stdout + stderr };
}

/** the live scripts rehearsed below with --simulate and no other simulation knob */
const rehearsed = new Set<string>();
const rehearse = (name: string, args: string[] = []) => {
  if (!args.some((a) => a.startsWith("--sim-"))) rehearsed.add(name);
  return run(name, ["--simulate", ...args]);
};

function expectBanner(text: string, state: string, faults = "none") {
  const m = text.match(BANNER);
  expect(m?.slice(1)).toEqual([String(cluster.nodes.length), state, faults]);
}

describe("every live script rehearses with --simulate alone", () => {
  test("cluster-status: the complete state is all healthy", async () => {
    const r = await rehearse("cluster-status");
    expect({ code: r.code, out: r.all.slice(-1500) }).toMatchObject({ code: 0 });
    expectBanner(r.stderr, "complete");
    expect(r.all).toContain("everything healthy");
    expect(r.all).toMatch(/longhorn\s+\d+ volumes healthy/);
    expect(r.all).toMatch(new RegExp(`flux\\s+(\\d+)/\\1 Kustomizations and HelmReleases Ready`));
    expect(r.all).toContain(`cilium        ${hosts.length}/${hosts.length} agents ready`);
    // cert-manager's chart installed its CRDs and the repo's Certificates were issued
    expect(r.all).toMatch(/certificates\s+[1-9]\d* certificates? valid for \d+\+ days/);
    expect(r.all).not.toContain("not installed");
  }, 300_000);

  test("bgp-verify: expects and finds this repo's routes, every LB IP x family x node x peer", async () => {
    const r = await rehearse("bgp-verify", ["--json"]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { ok: boolean; expectedTotal: number; rows: { node: string; peer: string; family: string; expected: number; advertised?: number; missing: number; ciliumSession: string }[] };
    // the LoadBalancer IPs the repo asks for (the chart-rendered ingress Services included), per family
    const lbIPs = repo.services.filter((s) => s.type === "LoadBalancer").flatMap((s) => s.requestedIPs);
    const byFamily = { ipv4: lbIPs.filter((ip) => !ip.includes(":")).length, ipv6: lbIPs.filter((ip) => ip.includes(":")).length };
    expect(byFamily.ipv4).toBeGreaterThan(0);
    let total = 0;
    for (const h of hosts) {
      for (const [family, n] of Object.entries(byFamily)) {
        if (n === 0) continue;
        const rows = report.rows.filter((row) => row.node === h && row.family === family);
        expect({ h, family, peers: rows.length > 0 }).toEqual({ h, family, peers: true });
        for (const row of rows) {
          expect(row).toMatchObject({ expected: n, advertised: n, missing: 0, ciliumSession: "established" });
          total += n;
        }
      }
    }
    expect(report.expectedTotal).toBe(total);
    expect(report.ok).toBe(true);
    expect(r.all).not.toContain("x509");
  }, 300_000);

  test("storage-validate-usb-ssd and network-check-ipv6 run every check (none 'not checked')", async () => {
    for (const name of ["storage-validate-usb-ssd", "network-check-ipv6"]) {
      const r = await rehearse(name);
      expect({ name, code: r.code }).toEqual({ name, code: 0 });
      expect(r.all).not.toContain("not checked");
      expect(r.all).toMatch(/all \d+ checks passed\n/);
      expect(r.all).not.toContain("warning(s)");
    }
  }, 300_000);

  test("storage-check-longhorn: every volume healthy", async () => {
    const r = await rehearse("storage-check-longhorn");
    expect(r.code).toBe(0);
    expect((r.all.match(/robustness\s+│ healthy/g) ?? []).length).toBeGreaterThan(0);
  }, 300_000);

  test("etcd-snapshot: a verified snapshot in the simulation's folder", async () => {
    const r = await rehearse("etcd-snapshot", ["--json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.ok).toBe(true);
    expect(j.file).toContain("home-ops-sim-");
    expect(cps).toContain(j.node);
    expect(j.info.totalKeys).toBeGreaterThan(0);
  }, 300_000);

  test("cluster-safe-reset --dry-run: the plan shows the snapshot and the STATE + EPHEMERAL wipe of every node", async () => {
    const r = await rehearse("cluster-safe-reset", ["--dry-run"]);
    expect(r.code).toBe(0);
    expect(r.all).toMatch(/etcd snapshot would be saved to \S+home-ops-sim-\S+\.snapshot/);
    expect((r.all.match(/--system-labels-to-wipe=STATE --system-labels-to-wipe=EPHEMERAL/g) ?? []).length).toBe(hosts.length);
    for (const h of hosts) expect(r.all).toContain(`${h}: would reset`);
  }, 300_000);

  test("cluster-emergency-recovery --dry-run: restores from the simulation's newest snapshot", async () => {
    const r = await rehearse("cluster-emergency-recovery", ["--dry-run"]);
    expect(r.code).toBe(0);
    expect(r.all).toMatch(/would bootstrap etcd on \S+ from \S+home-ops-sim-\S+\.snapshot/);
  }, 300_000);

  test("talos-reboot, talos-upgrade, talos-upgrade-k8s --dry-run: a plan over every node, gates green", async () => {
    const reboot = await rehearse("talos-reboot", ["--dry-run"]);
    expect(reboot.code).toBe(0);
    for (const h of hosts) expect(reboot.all).toMatch(new RegExp(`${h}\\s+│ \\S+\\s+│ planned`));
    const upgrade = await rehearse("talos-upgrade", ["--dry-run"]);
    expect(upgrade.code).toBe(0);
    for (const h of hosts) expect(upgrade.all).toContain(`${h} `);
    const k8s = await rehearse("talos-upgrade-k8s", ["--dry-run"]);
    expect(k8s.code).toBe(0);
    expect(k8s.all).toContain(`already runs ${cluster.kubernetesVersion}`);
  }, 300_000);

  test("talos-generate-config, talos-apply-config (bare) and talos-bootstrap (configured) each succeed on their own", async () => {
    const gen = await rehearse("talos-generate-config");
    expect(gen.code).toBe(0);
    expectBanner(gen.stderr, "bare");
    expect(gen.all).toContain(`generated ${hosts.length} node configs`);
    const apply = await rehearse("talos-apply-config");
    expect(apply.code).toBe(0);
    expectBanner(apply.stderr, "bare");
    expect(apply.all).toContain(`applied to ${hosts.length} nodes`);
    const boot = await rehearse("talos-bootstrap");
    expect(boot.code).toBe(0);
    expectBanner(boot.stderr, "configured");
    expect(boot.all).toContain(`${hosts.length} of ${hosts.length} nodes registered`);
  }, 300_000);

  test("the bootstrap phase scripts and the day-2 helpers succeed on the complete cluster", async () => {
    const expectations: Array<[string, RegExp]> = [
      ["apps-deploy-cilium", new RegExp(`${hosts.length} nodes Ready`)],
      ["apps-deploy-core", /ClusterSecretStore Ready/],
      ["flux-bootstrap", /cluster-meta, cluster-apps Ready/],
      ["flux-reconcile", /Kustomization flux-system\/cluster-apps: Ready/],
      ["bootstrap-1password-secrets", /secrets are in place/],
      ["talos-check-extensions", /matches/],
    ];
    for (const [name, want] of expectations) {
      const r = await rehearse(name);
      expect({ name, code: r.code, tail: r.code === 0 ? "" : r.all.slice(-800) }).toEqual({ name, code: 0, tail: "" });
      expect(r.all).toMatch(want);
    }
  }, 300_000);

  test("bootstrap-phased --dry-run starts from bare nodes and plans every phase", async () => {
    const r = await rehearse("bootstrap-phased", ["--dry-run"]);
    expect({ code: r.code, tail: r.code === 0 ? "" : r.all.slice(-800) }).toEqual({ code: 0, tail: "" });
    expectBanner(r.stderr, "bare");
    for (const h of hosts) expect(r.all).toContain(`${h} (${cluster.nodes.find((n) => n.hostname === h)!.ip}) is in maintenance mode`);
    expect((r.all.match(/--insecure$/gm) ?? []).length).toBe(hosts.length);
    expect(r.all).toMatch(/phase 3\/6 networking \(Cilium\)/);
  }, 300_000);

  test("bgp-migrate: what the repo's and the cluster's BGP v1 policies say (here: nothing to migrate, said so)", async () => {
    const policies = repo.bgp.peeringPolicies.length;
    const fromRepo = await rehearse("bgp-migrate", ["--dry-run"]);
    expect(fromRepo.code).toBe(0);
    if (policies === 0) expect(fromRepo.all).toContain("nothing to migrate: the repo declares no CiliumBGPPeeringPolicy");
    else expect(fromRepo.all).toContain("CiliumBGPClusterConfig");
    const live = await rehearse("bgp-migrate", ["--live", "--dry-run"]);
    expect(live.code).toBe(0);
    // the complete cluster holds what the repo declares
    if (policies === 0) expect(live.all).toContain("nothing to migrate: the cluster has no CiliumBGPPeeringPolicy");
  }, 300_000);

  test("--help of every live script lists --simulate, --sim-state with its states and --sim-fault with every fault", async () => {
    const scripts = new Bun.Glob("*.ts").scanSync(path.join(ROOT, "scripts"));
    let live = 0;
    for (const file of scripts) {
      const mod = await import(path.join(ROOT, "scripts", file));
      if (!mod.default?.def?.live) continue;
      live++;
      const { renderHelp } = await import("../../lib/cli/index.ts");
      const help = renderHelp(mod.default.def);
      expect(help).toContain("--simulate");
      expect(help).toContain(`(${SIM_STATES.join("|")})`);
      for (const f of Object.keys(FAULT_HELP)) expect(help).toContain(f);
    }
    expect(live).toBeGreaterThan(10);
  });

  test("HOMEOPS_SIM_POPULATE is an alias, never silently ignored", async () => {
    const alias = await run("cluster-status", ["--simulate"], { HOMEOPS_SIM_STATE: "bootstrapped", HOMEOPS_SIM_POPULATE: "1" });
    expectBanner(alias.stderr, "complete");
    const bad = await run("cluster-status", ["--simulate"], { HOMEOPS_SIM_POPULATE: "yes please" });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("HOMEOPS_SIM_POPULATE must be 1 or 0");
    const contradiction = await run("cluster-status", ["--simulate"], { HOMEOPS_SIM_STATE: "bare", HOMEOPS_SIM_POPULATE: "1" });
    expect(contradiction.code).toBe(2);
    expect(contradiction.stderr).toContain("--sim-state complete");
  }, 300_000);
});

describe("each fault shows the diagnosis a user sees", () => {
  const [first, second, third] = [hosts[0]!, hosts[1] ?? hosts[0]!, hosts[2] ?? hosts[0]!];
  const covered = new Set<string>();
  const fault = (name: string, title: string, fn: () => Promise<void>) => {
    covered.add(name);
    test(`${name}: ${title}`, fn, 300_000);
  };

  fault("unreachable", "cluster-status names the node and the Talos API error, exit 1", async () => {
    const r = await rehearse("cluster-status", ["--sim-fault", `unreachable=${second}`]);
    expectBanner(r.stderr, "complete", `unreachable=${second}`);
    expect(r.code).toBe(1);
    // one problem, said once, under its root cause (the raw "no route to host" only with --verbose)
    expect(r.all).toMatch(new RegExp(`FAIL ${second}: Talos API not answering: .*etcd peer, 2 BGP sessions`));
    expect(r.all, "the Talos API is the cause, not again what follows from it").not.toMatch(/Talos API not answering: .*Talos API/);
    expect(r.all).toMatch(new RegExp(`etcd on ${second} does not answer`));
  });
  fault("partitioned", "cluster-status shows the node NotReady, its etcd silent and degraded volumes", async () => {
    const r = await rehearse("cluster-status", ["--sim-fault", `partitioned=${third}`]);
    expect(r.code).toBe(1);
    expect(r.all).toMatch(new RegExp(`FAIL ${third} .*NotReady \\(NodeStatusUnknown\\)`));
    expect(r.all).toMatch(new RegExp(`FAIL etcd .*etcd on ${third} does not answer`));
    expect(r.all).toMatch(/FAIL longhorn .*volume \S+ is degraded/);
    // what follows from the node being down is grouped under it, once
    expect(r.all).toMatch(new RegExp(`FAIL ${third} down: .*kubelet, etcd peer, 2 BGP sessions, 3 volumes`));
  });
  fault("apply-config-fails-once", "talos-apply-config retries the node and applies everywhere", async () => {
    const r = await rehearse("talos-apply-config", ["--json", "--sim-fault", `apply-config-fails-once=${first}`]);
    expect(r.code).toBe(0);
    const nodes = JSON.parse(r.stdout).nodes as { hostname: string; attempts: number; result: string }[];
    expect(nodes.find((n) => n.hostname === first)).toMatchObject({ attempts: 2, result: "applied" });
  });
  fault("bootstrap-not-ready", "talos-bootstrap retries until etcd bootstraps", async () => {
    const r = await rehearse("talos-bootstrap", ["--sim-fault", "bootstrap-not-ready=2"]);
    expect(r.code).toBe(0);
    expect(r.all).toMatch(/etcd on \S+: bootstrapped after 3 attempts/);
  });
  fault("time-not-in-sync", "talos-bootstrap retries until the clock is in sync", async () => {
    const r = await rehearse("talos-bootstrap", ["--sim-fault", "time-not-in-sync=1"]);
    expect(r.code).toBe(0);
    expect(r.all).toMatch(/etcd on \S+: bootstrapped after 2 attempts/);
  });
  fault("crds-slow", "flux-bootstrap fails with Flux's own timeout on CRDs that never become Established", async () => {
    const r = await rehearse("flux-bootstrap", ["--sim-state", "bootstrapped", "--sim-fault", "crds-slow=3600000", "--timeout", "3s"]);
    expect(r.code).not.toBe(0);
    expect(r.all).toContain("timeout waiting for CustomResourceDefinitions to become Established");
  });
  fault("op-signed-out", "bootstrap-1password-secrets says to sign in, exit 2", async () => {
    const r = await rehearse("bootstrap-1password-secrets", ["--sim-fault", "op-signed-out"]);
    expect(r.code).toBe(2);
    expect(r.all).toContain("the 1Password CLI is not signed in");
    expect(r.all).toContain("op signin");
  });
  fault("reboot-never-returns", "talos-reboot stops at the node and says what to check and how to continue", async () => {
    const r = await rehearse("talos-reboot", ["--yes", "--node", second, "--node-timeout", "20s", "--sim-fault", `reboot-never-returns=${second}`]);
    expect(r.code).toBe(1);
    expect(r.all).toContain(`${second} did not come back from its reboot`);
    expect(r.all).toContain(`continue with: bun scripts/talos-reboot.ts --node ${second}`);
  });
  fault("router-rejects-routes", "bgp-verify shows the router's sessions held by policy", async () => {
    const r = await rehearse("bgp-verify", ["--router-cmd", "vtysh", "--sim-fault", "router-rejects-routes"]);
    expect(r.code).toBe(1);
    expect(r.all).toContain("Established (Policy)");
    // the cause and the fix, once per node and session
    for (const h of hosts) expect(r.all).toMatch(new RegExp(`FAIL ${h} -> \\S+ ipv4: cause 11: the router holds its session with node\\s+${h}`));
    expect(r.all).toContain("fix: upload the router config from `bun scripts/bgp-router-config.ts`");
    expect(r.all).toMatch(/FAIL (\d+) of \1 expected route\(s\) missing, \d+ router session\(s\) in \(Policy\)/);
  });

  test("every fault of FAULT_HELP has a rehearsal above", () => {
    expect([...covered].sort()).toEqual(Object.keys(FAULT_HELP).sort());
  });
});

test("a simulated bootstrap from bare nodes ends in what cluster-status calls healthy", async () => {
  const sim = await startSimulation({ root: ROOT, state: "bare" });
  try {
    const env = { ...sim.env, ...CLEAN_ENV };
    const boot = await run("bootstrap-phased", ["--yes"], env);
    expect({ code: boot.code, tail: boot.code === 0 ? "" : boot.all.slice(-1500) }).toEqual({ code: 0, tail: "" });
    const status = await run("cluster-status", [], env);
    expect({ code: status.code, tail: status.code === 0 ? "" : status.all.slice(-1500) }).toEqual({ code: 0, tail: "" });
    expect(status.all).toContain("everything healthy");
    expect(status.all).toMatch(/longhorn\s+\d+ volumes healthy/);
  } finally {
    await sim.stop();
  }
}, 300_000);

test("every live script is rehearsed above with --simulate and no other simulation knob", async () => {
  const live: string[] = [];
  for (const file of new Bun.Glob("*.ts").scanSync(path.join(ROOT, "scripts"))) {
    const mod = await import(path.join(ROOT, "scripts", file));
    if (mod.default?.def?.live) live.push(file.replace(/\.ts$/, ""));
  }
  expect(live.length).toBeGreaterThan(10);
  expect(live.filter((n) => !rehearsed.has(n)).sort()).toEqual([]);
});
