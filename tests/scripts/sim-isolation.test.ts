/**
 * A rehearsal never touches the real cluster's files: every live script's --simulate run (finished, or interrupted
 * with SIGINT or SIGTERM) leaves the repo byte-identical — backups/ and clusterconfig/ included — and removes its
 * /tmp/home-ops-sim-* folder (TMPDIR is a private folder here, so "of that run" is exact). Decoys in the real
 * backups/etcd/ and clusterconfig/ prove they are not read either: a newer decoy snapshot would be restored and a
 * pruned one would be gone; a broken decoy machine config would fail talos-apply-config.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadCluster } from "../../lib/talos/cluster.ts";
import { snapshotName } from "../../lib/talos/snapshot.ts";

const ROOT = path.resolve(import.meta.dir, "../..");
const SKIP = new Set(["node_modules", ".git", ".home-ops"]);

function fingerprint(dir = ROOT, into = new Map<string, string>()): Map<string, string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (dir === ROOT && SKIP.has(e.name)) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) fingerprint(p, into);
    else if (e.isFile()) into.set(path.relative(ROOT, p), createHash("sha256").update(readFileSync(p)).digest("hex") + ":" + statSync(p).mode);
  }
  return into;
}

function diff(a: Map<string, string>, b: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of a) if (b.get(k) !== v) out.push(b.has(k) ? `changed ${k}` : `removed ${k}`);
  for (const k of b.keys()) if (!a.has(k)) out.push(`added ${k}`);
  return out;
}

const cluster = loadCluster(ROOT);
const DECOY_SNAPSHOT = snapshotName(cluster.name, new Date(Date.now() + 86_400_000));
let tmp = "";
const created: string[] = [];
let before = new Map<string, string>();

/** Writes a decoy into the real repo, only where nothing exists (removed in afterAll). */
function decoy(rel: string, text: string) {
  const file = path.join(ROOT, rel);
  if (existsSync(file)) return;
  for (let d = path.dirname(file); !existsSync(d); d = path.dirname(d)) created.unshift(d);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text, { mode: 0o600 });
  created.push(file);
}

beforeAll(() => {
  tmp = mkdtempSync(path.join(tmpdir(), "home-ops-isolation-"));
  // a decoy snapshot newer than any the rehearsal takes, and a broken machine config for every node
  decoy(path.join("backups", "etcd", DECOY_SNAPSHOT), "not an etcd snapshot\n");
  for (const n of cluster.nodes) decoy(path.join("clusterconfig", `${cluster.name}-${n.hostname}.yaml`), "decoy: [not a machine config\n");
});

// taken before each run (not once for the file): an edit made elsewhere while the suite runs is not the rehearsal's
beforeEach(() => {
  before = fingerprint();
});

afterAll(() => {
  for (const p of [...created].reverse()) rmSync(p, { recursive: true, force: true });
  rmSync(tmp, { recursive: true, force: true });
});

function simFolders(): string[] {
  return readdirSync(tmp).filter((n) => n.startsWith("home-ops-sim-"));
}

function spawn(name: string, args: string[]) {
  return Bun.spawn(["bun", path.join(ROOT, "scripts", `${name}.ts`), "--simulate", ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: "1", TMPDIR: tmp, HOMEOPS_SIM_STATE: "", HOMEOPS_SIM_FAULTS: "", HOMEOPS_SIM_POPULATE: "" },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
}

async function finish(p: ReturnType<typeof spawn>) {
  const timer = setTimeout(() => p.kill("SIGKILL"), 240_000);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  return { stdout, stderr, code };
}

function expectUntouched(what: string) {
  expect({ what, changes: diff(before, fingerprint()) }).toEqual({ what, changes: [] });
  expect({ what, left: simFolders() }).toEqual({ what, left: [] });
}

// each rehearsal as a user runs it; the mutating ones with --yes where the change itself is the point (snapshots
// and resets write files), --dry-run where the rehearsal of the plan is enough
const RUNS: Array<[string, string[]]> = [
  ["etcd-snapshot", ["--keep", "1", "--yes"]],
  ["cluster-safe-reset", ["--yes", "--node", cluster.nodes[cluster.nodes.length - 1]!.hostname]],
  ["cluster-emergency-recovery", ["--dry-run"]],
  ["talos-generate-config", []],
  ["talos-apply-config", []],
  ["talos-bootstrap", []],
  ["bootstrap-phased", ["--dry-run"]],
  ["bootstrap-1password-secrets", []],
  ["cluster-status", []],
  ["storage-check-longhorn", []],
  ["talos-reboot", ["--dry-run"]],
  ["talos-upgrade", ["--dry-run"]],
  ["talos-upgrade-k8s", ["--dry-run"]],
  ["talos-check-extensions", []],
  ["apps-deploy-cilium", []],
  ["apps-deploy-core", []],
  ["flux-bootstrap", []],
  ["flux-reconcile", []],
  ["bgp-verify", []],
  ["bgp-migrate", ["--live"]],
  ["network-check-ipv6", []],
  ["storage-validate-usb-ssd", []],
];

describe("a rehearsal leaves the real repo alone", () => {
  for (const [name, args] of RUNS) {
    test(`${name} --simulate ${args.join(" ")}`.trim(), async () => {
      const r = await finish(spawn(name, args));
      expect({ code: r.code, stderr: r.stderr.slice(-2000) }).toMatchObject({ code: 0 });
      expect(r.stderr).toContain("nothing real is touched");
      expectUntouched(name);
    }, 300_000);
  }

  test("every live script is rehearsed above", async () => {
    const live: string[] = [];
    for (const file of new Bun.Glob("*.ts").scanSync(path.join(ROOT, "scripts"))) {
      const mod = await import(path.join(ROOT, "scripts", file));
      if (mod.default?.def?.live) live.push(mod.default.def.name);
    }
    expect([...new Set(RUNS.map(([n]) => n))].sort()).toEqual(live.sort());
  });

  test("the decoys were not read: recovery plans from the simulation's snapshot, not the newer real one", async () => {
    const r = await finish(spawn("cluster-emergency-recovery", ["--dry-run", "--json"]));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).snapshot).toStartWith(path.join(tmp, "home-ops-sim-"));
    expect(r.stdout + r.stderr).not.toContain(DECOY_SNAPSHOT);
  }, 300_000);

  test("interrupted (SIGTERM) while the simulation is still starting: exit 143, nothing left", async () => {
    const p = spawn("cluster-status", []);
    const stderr = new Response(p.stderr).text();
    const stdout = new Response(p.stdout).text();
    while (simFolders().length === 0 && p.exitCode === null) await Bun.sleep(10);
    p.kill("SIGTERM");
    const timer = setTimeout(() => p.kill("SIGKILL"), 240_000);
    const code = await p.exited;
    clearTimeout(timer);
    await Promise.all([stderr, stdout]);
    expect(code).toBe(143);
    expectUntouched("cluster-status SIGTERM while starting");
  }, 300_000);

  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    test(`interrupted with ${sig} mid-run: exit ${sig === "SIGINT" ? 130 : 143}, the folder with the simulated secrets is gone`, async () => {
      // a rolling reboot waits on every node: long enough to be interrupted in the middle
      const p = spawn("talos-reboot", ["--yes"]);
      const reader = p.stderr.getReader();
      let stderr = "";
      const drained = (async () => {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          stderr += new TextDecoder().decode(value);
        }
      })();
      const stdout = new Response(p.stdout).text();
      while (!stderr.includes("nothing real is touched") && p.exitCode === null) await Bun.sleep(20);
      expect(simFolders().length).toBe(1);
      expect(existsSync(path.join(tmp, simFolders()[0]!, "talsecret.yaml"))).toBe(true);
      p.kill(sig);
      const timer = setTimeout(() => p.kill("SIGKILL"), 240_000);
      const r = { code: await p.exited, stdout: await stdout };
      clearTimeout(timer);
      await drained;
      expect(stderr).toContain(sig === "SIGINT" ? "interrupted" : "terminated");
      expect(r.code).toBe(sig === "SIGINT" ? 130 : 143);
      expectUntouched(`talos-reboot ${sig}`);
    }, 300_000);
  }
});
