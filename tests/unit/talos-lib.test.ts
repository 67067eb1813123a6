import { describe, expect, test } from "bun:test";
import {
  checkUpgradeImage,
  installerImageFor,
  kubernetesUpgradePath,
  parseInstallerImage,
  talosSupportsKubernetes,
  talosUpgradePath,
} from "../../lib/talos/versions.ts";
import { backoffDelay, parseDuration, pollUntil, done, notYet, PollTimeoutError } from "../../lib/talos/poll.ts";
import { InterruptedError } from "../../lib/cli/errors.ts";
import { Talosctl } from "../../lib/talos/talosctl.ts";
import { Exec } from "../../lib/exec.ts";

const SCHEMATIC = "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba";

describe("versions", () => {
  test("Talos 1.10 supports Kubernetes 1.28 - 1.33", () => {
    expect(talosSupportsKubernetes("v1.10.5", "1.33.2").ok).toBe(true);
    expect(talosSupportsKubernetes("v1.10.5", "v1.28.0").ok).toBe(true);
    expect(talosSupportsKubernetes("v1.10.5", "1.34.0").reason).toContain("too new to be used with Talos");
    expect(talosSupportsKubernetes("v1.10.5", "1.27.9").reason).toContain("too old to be used with Talos");
    expect(talosSupportsKubernetes("v1.3.0", "1.26.0").ok).toBe(false);
  });
  test("upgrade-k8s: same minor or +1", () => {
    expect(kubernetesUpgradePath("1.32.3", "1.32.5").ok).toBe(true);
    expect(kubernetesUpgradePath("1.32.3", "1.33.0").ok).toBe(true);
    expect(kubernetesUpgradePath("1.32.3", "1.34.0").reason).toContain("unsupported upgrade path");
    expect(kubernetesUpgradePath("1.33.1", "1.32.0").reason).toContain("downgrade");
  });
  test("Talos upgrade path", () => {
    expect(talosUpgradePath("v1.9.5", "v1.10.5").ok).toBe(true);
    expect(talosUpgradePath("v1.8.0", "v1.10.5").ok).toBe(false);
  });
  test("installer images", () => {
    expect(parseInstallerImage(`factory.talos.dev/metal-installer/${SCHEMATIC}:v1.10.5`)).toEqual({
      registry: "factory.talos.dev",
      repository: "metal-installer",
      schematic: SCHEMATIC,
      version: "v1.10.5",
      factory: true,
    });
    expect(parseInstallerImage(`factory.talos.dev/installer/${SCHEMATIC}:v1.10.5`)?.schematic).toBe(SCHEMATIC);
    expect(parseInstallerImage("ghcr.io/siderolabs/installer:v1.10.5")?.schematic).toBeUndefined();
    expect(parseInstallerImage("nonsense")).toBeNull();
    expect(installerImageFor(SCHEMATIC, "1.10.5")).toBe(`factory.talos.dev/metal-installer/${SCHEMATIC}:v1.10.5`);
  });
  test("upgrade image must carry the repo's schematic", () => {
    expect(checkUpgradeImage(`factory.talos.dev/installer/${SCHEMATIC}:v1.10.6`, SCHEMATIC).ok).toBe(true);
    expect(checkUpgradeImage("ghcr.io/siderolabs/installer:v1.10.6", SCHEMATIC).reason).toContain("drop the system extensions");
    expect(checkUpgradeImage(`factory.talos.dev/installer/${"a".repeat(64)}:v1.10.6`, SCHEMATIC).ok).toBe(false);
    expect(checkUpgradeImage(`factory.talos.dev/installer/${SCHEMATIC}:v1.10.6`, undefined).ok).toBe(false);
  });
});

describe("pollUntil", () => {
  const fakeClock = () => {
    let t = 0;
    return { now: () => t, sleep: async (ms: number) => void (t += ms) };
  };
  test("returns the value once done, reporting progress", async () => {
    const clock = fakeClock();
    const seen: string[] = [];
    const v = await pollUntil(async (n) => (n < 3 ? notYet(`try ${n}`) : done(42)), {
      what: "x",
      timeoutMs: 10_000,
      ...clock,
      onProgress: (p) => seen.push(p.detail!),
    });
    expect(v).toBe(42);
    expect(seen).toEqual(["try 1", "try 2"]);
  });
  test("backs off up to the cap", () => {
    expect(backoffDelay(1)).toBe(200);
    expect(backoffDelay(2)).toBe(320);
    expect(backoffDelay(30)).toBe(5000);
  });
  test("deadline: PollTimeoutError with the last detail", async () => {
    const clock = fakeClock();
    const p = pollUntil(async () => notYet("etcd says Preparing"), { what: "etcd", timeoutMs: 3000, ...clock });
    await expect(p).rejects.toBeInstanceOf(PollTimeoutError);
    await expect(p).rejects.toThrow(/gave up waiting for etcd after 3s \(last: etcd says Preparing\)/);
  });
  test("a throwing check counts as not yet unless fatal", async () => {
    const clock = fakeClock();
    let n = 0;
    expect(await pollUntil(async () => (++n < 2 ? Promise.reject(new Error("boom")) : done("ok")), { what: "x", timeoutMs: 1000, ...clock })).toBe("ok");
    await expect(
      pollUntil(async () => Promise.reject(new Error("final")), { what: "x", timeoutMs: 1000, ...clock, fatal: () => true }),
    ).rejects.toThrow("final");
  });
  test("abort stops at once", async () => {
    const ac = new AbortController();
    const p = pollUntil(async () => notYet(), { what: "x", timeoutMs: 60_000, signal: ac.signal, initialDelayMs: 10_000 });
    setTimeout(() => ac.abort(), 20);
    await expect(p).rejects.toBeInstanceOf(InterruptedError);
  });
  test("durations", () => {
    expect(parseDuration("90s")).toBe(90_000);
    expect(parseDuration("10m")).toBe(600_000);
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("5")).toBe(5000);
    expect(parseDuration("soon")).toBeNull();
  });
});

describe("Talosctl argv", () => {
  const t = new Talosctl({ exec: new Exec({ dryRun: true }), talosconfig: "/x/talosconfig" });
  test("secure calls carry the talosconfig and nodes", () => {
    expect(t.argv(["etcd", "members"], { nodes: ["10.0.0.11"] })).toEqual(["--talosconfig=/x/talosconfig", "--endpoints=10.0.0.11", "--nodes=10.0.0.11", "etcd", "members"]);
  });
  test("several nodes go through the talosconfig's endpoints", () => {
    expect(t.argv(["version"], { nodes: ["10.0.0.11", "10.0.0.12"] })).toEqual(["--talosconfig=/x/talosconfig", "--nodes=10.0.0.11,10.0.0.12", "version"]);
  });
  test("insecure calls never carry the talosconfig", () => {
    expect(t.argv(["apply-config", "--file=a.yaml"], { nodes: ["10.0.0.11"], insecure: true })).toEqual([
      "--nodes=10.0.0.11",
      "apply-config",
      "--file=a.yaml",
      "--insecure",
    ]);
  });
  test("maintenance mode refuses modes it does not accept", async () => {
    await expect(t.applyConfig("10.0.0.11", "a.yaml", { mode: "no-reboot", insecure: true })).rejects.toThrow(/not accepted by a node in maintenance mode/);
  });
  test("single-node commands refuse several nodes", async () => {
    await expect(t.bootstrap("10.0.0.11,10.0.0.12")).rejects.toThrow(/single node/);
  });
  test("dry-run prints and does not run", async () => {
    const exec = new Exec({ dryRun: true });
    const tc = new Talosctl({ exec });
    const r = await tc.reboot("10.0.0.11");
    expect(r.dryRun).toBe(true);
    expect(exec.history).toEqual([{ command: "talosctl --endpoints=10.0.0.11 --nodes=10.0.0.11 reboot --wait=true --timeout=10m", dryRun: true }]);
  });
});

describe("a Talos the support table does not cover (a Renovate bump ahead of the table)", () => {
  test("validate says once that the Kubernetes version was not checked, and reports no error", async () => {
    const path = await import("node:path");
    const { loadRepo } = await import("../../lib/repo/load.ts");
    const { talosCheck } = await import("../../lib/checks/talos.ts");
    const { TALOS_KUBERNETES_SUPPORT } = await import("../../lib/talos/versions.ts");
    const model = loadRepo(path.resolve(import.meta.dir, "../.."));
    // the minor after the newest the table knows
    const newest = Object.keys(TALOS_KUBERNETES_SUPPORT).map((m) => m.split(".").map(Number) as [number, number]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).pop()!;
    const ahead = `v${newest[0]}.${newest[1] + 1}.0`;
    const bumped = { ...model, versions: { ...model.versions, talos: { ...model.versions.talos, value: ahead } } };
    const findings = talosCheck(bumped).filter((f) => f.id.startsWith("talos/version") || f.id === "talos/kubernetes-version");
    expect(findings.map((f) => [f.id, f.severity])).toEqual([["talos/version-unknown", "info"]]);
    expect(findings[0]!.message).toContain(ahead);
    expect(findings[0]!.file).toBe(model.versions.talos.source.file);
    // the pinned Talos is in the table: no note
    expect(talosCheck(model).filter((f) => f.id === "talos/version-unknown")).toEqual([]);
  });
});
