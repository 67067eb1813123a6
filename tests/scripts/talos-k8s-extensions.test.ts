import { afterEach, describe, expect, test } from "bun:test";
import { startSimulation, type Simulation } from "../../lib/sim/index.ts";
import { simulate } from "../helpers/sim.ts";
import { loadRepo } from "../../lib/repo/model.ts";
import { talosSupportsKubernetes } from "../../lib/talos/versions.ts";
import { ROOT, runScript } from "./talos-sim-harness.ts";

// Versions relative to what the repo pins (a Renovate bump moves them): the next minor, one that skips a minor, and
// the first minor this Talos release does not support.
const { versions } = loadRepo(ROOT);
const TALOS = versions.talos.value;
const CURRENT = versions.kubernetes.value;
const [MAJOR, MINOR] = CURRENT.replace(/^v/, "").split(".").map(Number) as [number, number];
const NEXT = `${MAJOR}.${MINOR + 1}.4`;
const SKIPPING = `${MAJOR}.${MINOR + 2}.1`;
let unsupported = MINOR + 1;
while (talosSupportsKubernetes(TALOS, `${MAJOR}.${unsupported}.0`).ok && unsupported < MINOR + 50) unsupported++;
const TOO_NEW = `${MAJOR}.${unsupported}.0`;

const T = 90_000;
let sim: Simulation | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

describe("talos-check-extensions", () => {
  test("every node runs the repo's schematic: exit 0", async () => {
    sim = await simulate({ state: "bootstrapped", controllers: false });
    const r = await runScript("talos-check-extensions", ["--json"], { env: sim.env });
    expect(r.code).toBe(0);
    const j = r.json();
    expect(j.nodes.every((n: any) => n.ok && n.schematicOk && n.missing.length === 0)).toBe(true);
    expect(j.nodes[0].installed).toEqual(["i915", "intel-ucode", "iscsi-tools", "lldpd", "util-linux-tools"]);
  }, T);

  test("a node upgraded with the default installer lost its extensions: exit 1, named", async () => {
    sim = await simulate({ state: "bootstrapped", controllers: false });
    const m = sim.cluster.machine("mini02")!;
    // the upgrade's callback fires while the node is still down: wait until it has booted the new image
    const up = new Promise<void>((resolve) => {
      const off = sim!.cluster.on("node-up", (node) => {
        if (node === "mini02") {
          off();
          resolve();
        }
      });
    });
    sim.cluster.talos.upgrade(m, `ghcr.io/siderolabs/installer:${TALOS}`);
    await up;
    const r = await runScript("talos-check-extensions", [], { env: sim.env });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/mini02 .*none \(differs\).*iscsi-tools/);
    expect(r.stdout).toMatch(/mini01 .*matches/);
  }, T);

  test("an unreachable node is reported, not skipped", async () => {
    sim = await simulate({ state: "bootstrapped", controllers: false, faults: ["unreachable=mini03"] });
    const r = await runScript("talos-check-extensions", ["--json"], { env: sim.env });
    expect(r.code).toBe(1);
    const n3 = r.json().nodes.find((n: any) => n.hostname === "mini03");
    expect(n3.error).toContain("no route to host");
  }, T);
});

describe("talos-upgrade-k8s", () => {
  test("one minor at a time: skipping a minor is refused (exit 2); the next minor works and reminds to bump talenv", async () => {
    sim = await simulate({ state: "bootstrapped", controllers: false });
    const skip = await runScript("talos-upgrade-k8s", ["--to", SKIPPING, "--yes"], { env: sim.env });
    expect(skip.code).toBe(2);
    expect(skip.stderr).toContain("skips a minor");
    expect(skip.stderr).toContain(`--to ${MAJOR}.${MINOR + 1}`);
    const tooNew = await runScript("talos-upgrade-k8s", ["--to", TOO_NEW, "--yes"], { env: sim.env });
    expect(tooNew.code).toBe(2);
    expect(tooNew.stderr).toContain("too new to be used with Talos");
    expect(sim.cluster.kubernetesVersion).toBe(CURRENT);
    const dry = await runScript("talos-upgrade-k8s", ["--to", NEXT, "--dry-run"], { env: sim.env });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("skipped in dry-run");
    expect(sim.cluster.kubernetesVersion).toBe(CURRENT);
    const refuse = await runScript("talos-upgrade-k8s", ["--to", NEXT], { env: sim.env });
    expect(refuse.code).toBe(2);
    const r = await runScript("talos-upgrade-k8s", ["--to", NEXT, "--yes"], { env: sim.env });
    expect(r.code).toBe(0);
    expect(sim.cluster.kubernetesVersion).toBe(`v${NEXT}`);
    expect(r.stderr).toContain(`KUBERNETES_VERSION ${CURRENT}: set it to v${NEXT}`);
    const again = await runScript("talos-upgrade-k8s", ["--to", NEXT, "--yes"], { env: sim.env });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`already runs v${NEXT}`);
  }, T);

  test("the control plane it runs from does not answer: exit 1, nothing changed", async () => {
    sim = await simulate({ state: "bootstrapped", controllers: false, faults: ["unreachable=mini01"] });
    const r = await runScript("talos-upgrade-k8s", ["--to", NEXT, "--yes"], { env: sim.env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("172.29.51.11");
    // what it means, not the gRPC text; that is there with --verbose
    expect(r.stderr).toContain("the node does not answer");
    expect(r.stderr).not.toContain("no route to host");
    const verbose = await runScript("talos-upgrade-k8s", ["--to", NEXT, "--yes", "--verbose"], { env: sim.env });
    expect(verbose.stderr).toContain("no route to host");
    expect(sim.cluster.kubernetesVersion).toBe(CURRENT);
    // another control plane works
    const other = await runScript("talos-upgrade-k8s", ["--to", NEXT, "--yes", "--node", "mini02"], { env: sim.env });
    expect(other.code).toBe(0);
    expect(sim.cluster.kubernetesVersion).toBe(`v${NEXT}`);
  }, T);
});
