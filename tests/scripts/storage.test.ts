/**
 * storage-check-longhorn and storage-validate-usb-ssd as processes against the simulated cluster (Talos machines
 * with their USB SSD and user volume, Longhorn emulated): happy paths, a node whose USB SSD is gone, an
 * unreachable node, and a node that never comes back from a reboot (its replicas fail: degraded volumes).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { deployed, runScript, type Deployed } from "../fixtures/frr/sim-harness.ts";
import { until } from "../fixtures/frr/lab.ts";

/**
 * A `talosctl` in front of the stand-in that hides one node's USB disk (and leaves its user volume waiting), as
 * Talos reports a node whose USB SSD was unplugged before boot.
 */
function unpluggedUsbShim(env: Record<string, string>, nodeIp: string): { dir: string; env: Record<string, string> } {
  const real = Bun.which("talosctl", { PATH: env.PATH ?? "" });
  if (!real) throw new Error("no talosctl stand-in on the simulation's PATH");
  const dir = mkdtempSync(path.join(tmpdir(), "home-ops-usb-shim-"));
  const shim = path.join(dir, "talosctl");
  writeFileSync(
    shim,
    `#!/usr/bin/env bun
import { parseJsonStream } from ${JSON.stringify(path.resolve(import.meta.dir, "../../lib/talos/parse.ts"))};
const args = process.argv.slice(2);
const p = Bun.spawnSync([${JSON.stringify(real)}, ...args], { stdin: "inherit" });
let out = p.stdout.toString();
const forNode = args.some((a) => a === "--nodes=${nodeIp}" || a === "${nodeIp}");
if (p.exitCode === 0 && forNode && args.includes("get") && args.includes("json")) {
  const objs = parseJsonStream(out).filter((o) => !(o.spec && o.spec.transport === "usb"));
  for (const o of objs) if (o.metadata && o.metadata.id && String(o.metadata.id).startsWith("u-")) Object.assign(o.spec, { phase: "waiting", location: "", mountLocation: "", size: 0, prettySize: "" });
  out = objs.map((o) => JSON.stringify(o, null, 4)).join("\\n") + (objs.length ? "\\n" : "");
}
process.stdout.write(out);
process.stderr.write(p.stderr.toString());
process.exit(p.exitCode ?? 1);
`,
  );
  chmodSync(shim, 0o755);
  return { dir, env: { ...env, PATH: `${dir}:${env.PATH}` } };
}

describe("storage scripts against the simulated cluster", () => {
  let d: Deployed;
  beforeAll(async () => {
    d = await deployed();
  }, 120_000);
  afterAll(async () => {
    await d?.stop();
  });

  test("storage-check-longhorn happy path: nodes, disks at /var/mnt/longhorn, healthy volumes, settings, exit 0", async () => {
    const r = await runScript(d, "storage-check-longhorn", ["--json"]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.ok).toBe(true);
    expect(j.failed).toBe(0);
    const disks = j.checks.filter((c: any) => c.check === "disk");
    expect(disks).toHaveLength(3);
    expect(disks.every((c: any) => c.status === "ok" && c.detail.startsWith("/var/mnt/longhorn: "))).toBe(true);
    expect(j.checks.filter((c: any) => c.check === "extensions").map((c: any) => c.status)).toEqual(["ok", "ok", "ok"]);
    expect(j.checks.find((c: any) => c.subject === "setting default-data-path").status).toBe("ok");
    const human = await runScript(d, "storage-check-longhorn", []);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain("checks passed");
  }, 60_000);

  test("storage-validate-usb-ssd happy path: every node's USB SSD and XFS user volume, exit 0", async () => {
    const r = await runScript(d, "storage-validate-usb-ssd", ["--json"]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    const usb = j.checks.filter((c: any) => c.check === "usb disk");
    expect(usb.map((c: any) => c.subject)).toEqual(["mini01", "mini02", "mini03"]);
    expect(usb.every((c: any) => c.status === "ok" && /\/dev\/sda: .*T5, 1\.0 TB/.test(c.detail))).toBe(true);
    expect(j.checks.filter((c: any) => c.check === "volume u-longhorn" && c.detail === "filesystem xfs")).toHaveLength(3);
  }, 60_000);

  test("storage-validate-usb-ssd for one node, and an unknown node is exit 2", async () => {
    const r = await runScript(d, "storage-validate-usb-ssd", ["mini02", "--json"]);
    expect(r.code).toBe(0);
    expect(new Set(JSON.parse(r.stdout).checks.map((c: any) => c.subject))).toEqual(new Set(["mini02"]));
    const bad = await runScript(d, "storage-validate-usb-ssd", ["mini09"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown node mini09");
  }, 60_000);

  test("USB SSD missing on mini02: that node fails (no usb disk, volume waiting), exit 1", async () => {
    const shim = unpluggedUsbShim(d.env, "172.29.51.12");
    try {
      const r = await runScript({ env: shim.env }, "storage-validate-usb-ssd", ["--json"]);
      expect(r.code).toBe(1);
      const fails = JSON.parse(r.stdout).checks.filter((c: any) => c.status === "fail");
      expect(fails.map((c: any) => `${c.subject} ${c.check}`)).toEqual(["mini02 usb disk", "mini02 volume u-longhorn"]);
      expect(fails[0].detail).toContain("no USB disk seen");
      expect(fails[1].detail).toContain("phase waiting");
      const human = await runScript({ env: shim.env }, "storage-validate-usb-ssd", []);
      expect(human.stdout).toContain("FAIL 2 check(s) failed");
    } finally {
      rmSync(shim.dir, { recursive: true, force: true });
    }
  }, 60_000);

  test("an unreachable node: one failure naming it, exit 1", async () => {
    d.sim.cluster.faults.add("unreachable=mini01");
    try {
      const r = await runScript(d, "storage-validate-usb-ssd", ["--json"]);
      expect(r.code).toBe(1);
      const fails = JSON.parse(r.stdout).checks.filter((c: any) => c.status === "fail");
      expect(fails.map((c: any) => `${c.subject} ${c.check}`)).toEqual(["mini01 talosctl"]);
    } finally {
      d.sim.cluster.faults.clear("unreachable");
    }
  }, 60_000);

  // last: the node does not come back
  test("a node that never returns from a reboot: degraded volumes and its Longhorn node down, exit 1", async () => {
    d.sim.cluster.faults.add("reboot-never-returns=mini03");
    const p = Bun.spawn(["talosctl", "-n", "172.29.51.13", "reboot", "--wait=false"], { env: d.env, stdout: "pipe", stderr: "pipe" });
    expect(await p.exited).toBe(0);
    await until("a degraded Longhorn volume", 30_000, async () => {
      const vols = await d.client.list({ apiVersion: "longhorn.io/v1beta2", kind: "Volume" }, { namespace: "longhorn-system" });
      return vols.items.some((v) => v.status?.robustness === "degraded") ? true : undefined;
    });
    const r = await runScript(d, "storage-check-longhorn", ["--json"]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    const fails = j.checks.filter((c: any) => c.status === "fail");
    expect(fails.some((c: any) => c.subject === "mini03" && c.check === "node ready")).toBe(true);
    const degraded = fails.filter((c: any) => c.check === "robustness");
    expect(degraded.length).toBeGreaterThan(0);
    expect(degraded[0].detail).toStartWith("degraded");
    expect(degraded[0].fix).toContain("do not reboot another node");
    expect(r.stderr).toContain("extensions of mini03 not read");
  }, 90_000);
});
