/**
 * talos-generate-config, talos-apply-config and talos-bootstrap as processes against the simulated cluster.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startSimulation, type Simulation } from "../../lib/sim/index.ts";
import { simulate } from "../helpers/sim.ts";
import { ROOT, runScript, scratchDir } from "./talos-sim-harness.ts";

const T = 90_000;

function noSecretLeaked(sim: Simulation, ...texts: string[]) {
  const secrets = sim.cluster.vault.allValues().flatMap((v) => [v, ...v.split("\n").filter((l) => l.trim().length > 20)]);
  const argv = sim.cluster.calls.map((c) => c.argv.join(" ")).join("\n");
  for (const s of secrets) {
    expect(argv.includes(s)).toBe(false);
    for (const t of texts) expect(t.includes(s)).toBe(false);
  }
}

describe("bare cluster: generate, apply, bootstrap", () => {
  let sim: Simulation;
  const s = scratchDir();
  const gen = ["--out-dir", s.rel, "--secret-file", `${s.rel}/talsecret.yaml`];
  beforeAll(async () => {
    sim = await simulate({ state: "bare", controllers: false });
  });
  afterAll(async () => {
    await sim?.stop();
    s.cleanup();
  });

  test("generate-config --dry-run reads 1Password but writes nothing", async () => {
    const r = await runScript("talos-generate-config", [...gen, "--dry-run"], { env: sim.env });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("[dry-run] talhelper genconfig");
    expect(existsSync(path.join(s.dir, "talsecret.yaml"))).toBe(false);
    expect(readdirSync(s.dir)).toEqual([]);
    noSecretLeaked(sim, r.stdout, r.stderr);
  }, T);

  test("generate-config with 1Password signed out: exit 2, clear message, nothing written", async () => {
    sim.cluster.faults.add("op-signed-out");
    try {
      const r = await runScript("talos-generate-config", gen, { env: sim.env });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("1Password CLI is signed out");
      expect(r.stderr).toContain("op signin");
      expect(readdirSync(s.dir)).toEqual([]);
    } finally {
      sim.cluster.faults.clear("op-signed-out");
    }
  }, T);

  test("generate-config restores the bundle 0600 and every node gets its config", async () => {
    const r = await runScript("talos-generate-config", [...gen, "--json"], { env: sim.env });
    expect(r.code).toBe(0);
    const j = r.json();
    expect(j.ok).toBe(true);
    expect(j.secretsRestored).toBe(true);
    expect(j.nodes.map((n: any) => n.hostname)).toEqual(["mini01", "mini02", "mini03"]);
    expect(statSync(path.join(s.dir, "talsecret.yaml")).mode & 0o777).toBe(0o600);
    for (const h of ["mini01", "mini02", "mini03"]) expect(statSync(path.join(s.dir, `home-ops-${h}.yaml`)).mode & 0o777).toBe(0o600);
    expect(existsSync(path.join(s.dir, "talosconfig"))).toBe(true);
    // the op call carried only the reference; the value went nowhere but the 0600 file
    const op = sim.cluster.calls.filter((c) => c.tool === "op");
    expect(op.at(-1)!.argv).toEqual(["read", "--no-newline", `op://${sim.env.OP_VAULT ?? "home-ops"}/talos/talsecret`]);
    noSecretLeaked(sim, r.stdout, r.stderr);
  }, T);

  test("generate-config refuses a secret file git does not ignore (exit 2)", async () => {
    const r = await runScript("talos-generate-config", ["--out-dir", s.rel, "--secret-file", "tests/talsecret-leak.yaml"], { env: sim.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("git does not ignore it");
    expect(existsSync(path.join(ROOT, "tests/talsecret-leak.yaml"))).toBe(false);
  }, T);

  describe("--secret-file outside the repository", () => {
    const outside = mkdtempSync(path.join(os.tmpdir(), "home-ops-secret-"));
    afterAll(() => rmSync(outside, { recursive: true, force: true }));
    const genTo = (file: string, ...more: string[]) => runScript("talos-generate-config", ["--out-dir", s.rel, "--secret-file", file, ...more], { env: sim.env });

    test("an existing file is never overwritten without --force: exit 2, its content kept", async () => {
      const file = path.join(outside, "precious.txt");
      writeFileSync(file, "keep me\n", { mode: 0o644 });
      const r = await genTo(file);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("outside the repository and already exists");
      expect(readFileSync(file, "utf8")).toBe("keep me\n");
      // --force without a terminal and without --yes: refused, still kept
      const f = await genTo(file, "--force");
      expect(f.code).toBe(2);
      expect(f.stderr).toContain("without confirmation");
      expect(readFileSync(file, "utf8")).toBe("keep me\n");
      // --force --yes: replaced, owner-only
      const y = await genTo(file, "--force", "--yes");
      expect(y.code, y.stderr).toBe(0);
      expect(readFileSync(file, "utf8")).not.toBe("keep me\n");
      expect(statSync(file).mode & 0o777).toBe(0o600);
      noSecretLeaked(sim, r.stdout, r.stderr, f.stdout, f.stderr, y.stdout, y.stderr);
    }, T);

    test("a path that does not exist yet is written 0600", async () => {
      const file = path.join(outside, "new-talsecret.yaml");
      const r = await genTo(file);
      expect(r.code, r.stderr).toBe(0);
      expect(statSync(file).mode & 0o777).toBe(0o600);
    }, T);

    test("a pipe, a folder or a missing folder is refused (exit 2) and a pipe is never opened", async () => {
      const fifo = path.join(outside, "fifo");
      execFileSync("mkfifo", [fifo]);
      const a = await genTo(fifo, "--force", "--yes");
      expect(a.code).toBe(2);
      expect(a.stderr).toContain("not a regular file");
      const b = await genTo(outside, "--force", "--yes");
      expect(b.code).toBe(2);
      const c = await genTo(path.join(outside, "no-such-folder", "x.yaml"));
      expect(c.code).toBe(2);
      expect(c.stderr).toContain("does not exist");
      for (const r of [a, b, c]) expect(r.stderr).not.toMatch(/\n\s+at /);
    }, T);

    test("a git-ignored folder inside the repo that links outside counts as outside", async () => {
      const link = path.join(s.dir, "link-out");
      symlinkSync(outside, link);
      const file = path.join(outside, "via-link.yaml");
      writeFileSync(file, "keep me too\n");
      const r = await genTo(path.join(s.rel, "link-out", "via-link.yaml"));
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("outside the repository and already exists");
      expect(readFileSync(file, "utf8")).toBe("keep me too\n");
      rmSync(link);
    }, T);
  });

  test("apply-config: unknown node and bad mode are usage errors", async () => {
    const a = await runScript("talos-apply-config", ["--config-dir", s.rel, "--node", "nope"], { env: sim.env });
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('"nope" is not a node of this cluster');
    const b = await runScript("talos-apply-config", ["--config-dir", s.rel, "--mode", "sideways"], { env: sim.env });
    expect(b.code).toBe(2);
    expect(sim.cluster.history.filter((e) => e.type === "apply-config")).toEqual([]);
  }, T);

  test("apply-config --dry-run prints the talosctl lines with --insecure and changes nothing", async () => {
    const r = await runScript("talos-apply-config", ["--config-dir", s.rel, "--dry-run"], { env: sim.env });
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n").filter((l) => l.startsWith("[dry-run] talosctl"));
    expect(lines.length).toBe(3);
    for (const l of lines) expect(l).toMatch(/talosctl --nodes=172\.29\.51\.1[123] apply-config --file=.*home-ops-mini0[123]\.yaml --mode=auto --insecure$/);
    expect(sim.cluster.history.filter((e) => e.type === "apply-config")).toEqual([]);
  }, T);

  test("maintenance mode refuses --mode no-reboot per node (exit 1, nothing applied)", async () => {
    const r = await runScript("talos-apply-config", ["--config-dir", s.rel, "--mode", "no-reboot", "--node", "mini01"], { env: sim.env });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("in maintenance mode, which accepts only --mode auto|reboot|try");
    expect(sim.cluster.history.filter((e) => e.type === "apply-config")).toEqual([]);
  }, T);

  test("apply-config failing once (no retries): exit 1 for that node; the next run continues", async () => {
    sim.cluster.faults.add("apply-config-fails-once=mini02");
    sim.cluster.faults.add("unreachable=mini03");
    const r = await runScript("talos-apply-config", ["--config-dir", s.rel, "--retries", "0", "--node-timeout", "2s", "--json"], { env: sim.env });
    expect(r.code).toBe(1);
    const j = r.json();
    const by = Object.fromEntries(j.nodes.map((n: any) => [n.hostname, n]));
    expect(by.mini01.result).toBe("applied");
    expect(by.mini01.insecure).toBe(true);
    expect(by.mini02.result).toBe("failed");
    expect(by.mini02.detail).toContain("EOF");
    expect(by.mini03.result).toBe("failed");
    expect(by.mini03.detail).toContain("not reachable");
    sim.cluster.faults.clear("unreachable");
    // next run: mini01 is configured now (no --insecure for it), mini02 and mini03 still in maintenance
    const again = await runScript("talos-apply-config", ["--config-dir", s.rel, "--json"], { env: sim.env });
    expect(again.code).toBe(0);
    const j2 = again.json();
    const by2 = Object.fromEntries(j2.nodes.map((n: any) => [n.hostname, n]));
    expect(by2.mini02.insecure).toBe(true);
    expect(by2.mini03.insecure).toBe(true);
    // mini01 was configured by the first run: the second run applied to it without --insecure
    const mini01 = sim.cluster.calls.filter((c) => c.tool === "talosctl" && c.argv.includes("apply-config") && c.argv.includes("--nodes=172.29.51.11"));
    // (a node still installing may refuse the first secure attempt: that retry is secure too)
    const insecure = mini01.map((c) => c.argv.includes("--insecure"));
    expect(insecure[0]).toBe(true);
    expect(insecure.length).toBeGreaterThanOrEqual(2);
    expect(insecure.slice(1).every((x) => !x)).toBe(true);
  }, T);

  test("bootstrap retries 'not available yet', then writes the kubeconfig and sees every node", async () => {
    sim.cluster.faults.add("bootstrap-not-ready=2");
    const r = await runScript("talos-bootstrap", ["--kubeconfig", `${s.rel}/kubeconfig`, "--json"], { env: sim.env });
    expect(r.code).toBe(0);
    const j = r.json();
    expect(j.etcd).toBe("bootstrapped");
    expect(j.attempts).toBeGreaterThanOrEqual(3);
    expect(j.nodes.length).toBe(3);
    expect(statSync(path.join(s.dir, "kubeconfig")).mode & 0o777).toBe(0o600);
    expect(sim.cluster.history.filter((e) => e.type === "bootstrap").length).toBe(1);
  }, T);

  test("bootstrap again: AlreadyExists is success, nothing bootstrapped twice", async () => {
    const r = await runScript("talos-bootstrap", ["--kubeconfig", `${s.rel}/kubeconfig`], { env: sim.env });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("already bootstrapped");
    expect(sim.cluster.history.filter((e) => e.type === "bootstrap").length).toBe(1);
  }, T);

  test("apply-config on configured nodes does not use --insecure", async () => {
    const before = sim.cluster.calls.length;
    const r = await runScript("talos-apply-config", ["--config-dir", s.rel, "--mode", "no-reboot", "--json"], { env: sim.env });
    expect(r.code).toBe(0);
    expect(r.json().nodes.every((n: any) => n.state === "configured" && !n.insecure && n.detail === "applied without a reboot")).toBe(true);
    const applies = sim.cluster.calls.slice(before).filter((c) => c.argv.includes("apply-config"));
    expect(applies.length).toBe(3);
    for (const c of applies) expect(c.argv).not.toContain("--insecure");
  }, T);
});

describe("bootstrap edge cases", () => {
  test("a node in maintenance mode: exit 2 with what to do; --dry-run changes nothing", async () => {
    const sim = await simulate({ state: "bare", controllers: false });
    try {
      const r = await runScript("talos-bootstrap", ["--timeout", "20s"], { env: sim.env });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("mini01 is in maintenance mode");
      expect(r.stderr).toContain("talos-apply-config");
      expect(sim.cluster.history.filter((e) => e.type === "bootstrap")).toEqual([]);
    } finally {
      await sim.stop();
    }
  }, T);

  test("--dry-run on a configured cluster prints the bootstrap line and bootstraps nothing", async () => {
    const sim = await simulate({ state: "talos", controllers: false });
    try {
      const r = await runScript("talos-bootstrap", ["--dry-run"], { env: sim.env });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("[dry-run] talosctl");
      expect(r.stdout).toMatch(/--nodes=172\.29\.51\.11 bootstrap/);
      expect(sim.cluster.history.filter((e) => e.type === "bootstrap")).toEqual([]);
    } finally {
      await sim.stop();
    }
  }, T);
});
