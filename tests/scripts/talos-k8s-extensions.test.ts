import { afterEach, describe, expect, test } from "bun:test";
import { startSimulation, type Simulation } from "../../lib/sim/index.ts";
import { runScript } from "./talos-sim-harness.ts";

const T = 90_000;
let sim: Simulation | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

describe("talos-check-extensions", () => {
  test("every node runs the repo's schematic: exit 0", async () => {
    sim = await startSimulation({ state: "bootstrapped", controllers: false });
    const r = await runScript("talos-check-extensions", ["--json"], { env: sim.env });
    expect(r.code).toBe(0);
    const j = r.json();
    expect(j.nodes.every((n: any) => n.ok && n.schematicOk && n.missing.length === 0)).toBe(true);
    expect(j.nodes[0].installed).toEqual(["i915", "intel-ucode", "iscsi-tools", "lldpd", "util-linux-tools"]);
  }, T);

  test("a node upgraded with the default installer lost its extensions: exit 1, named", async () => {
    sim = await startSimulation({ state: "bootstrapped", controllers: false });
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
    sim.cluster.talos.upgrade(m, "ghcr.io/siderolabs/installer:v1.10.5");
    await up;
    const r = await runScript("talos-check-extensions", [], { env: sim.env });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/mini02 .*none \(differs\).*iscsi-tools/);
    expect(r.stdout).toMatch(/mini01 .*matches/);
  }, T);

  test("an unreachable node is reported, not skipped", async () => {
    sim = await startSimulation({ state: "bootstrapped", controllers: false, faults: ["unreachable=mini03"] });
    const r = await runScript("talos-check-extensions", ["--json"], { env: sim.env });
    expect(r.code).toBe(1);
    const n3 = r.json().nodes.find((n: any) => n.hostname === "mini03");
    expect(n3.error).toContain("no route to host");
  }, T);
});

describe("talos-upgrade-k8s", () => {
  test("one minor at a time: 1.31 -> 1.33 refused (exit 2); 1.32 works and reminds to bump talenv", async () => {
    sim = await startSimulation({ state: "bootstrapped", controllers: false });
    const skip = await runScript("talos-upgrade-k8s", ["--to", "1.33.1", "--yes"], { env: sim.env });
    expect(skip.code).toBe(2);
    expect(skip.stderr).toContain("skips a minor");
    expect(skip.stderr).toContain("--to 1.32");
    const tooNew = await runScript("talos-upgrade-k8s", ["--to", "1.34.0", "--yes"], { env: sim.env });
    expect(tooNew.code).toBe(2);
    expect(tooNew.stderr).toContain("too new to be used with Talos");
    expect(sim.cluster.kubernetesVersion).toBe("v1.31.1");
    const dry = await runScript("talos-upgrade-k8s", ["--to", "1.32.4", "--dry-run"], { env: sim.env });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("skipped in dry-run");
    expect(sim.cluster.kubernetesVersion).toBe("v1.31.1");
    const refuse = await runScript("talos-upgrade-k8s", ["--to", "1.32.4"], { env: sim.env });
    expect(refuse.code).toBe(2);
    const r = await runScript("talos-upgrade-k8s", ["--to", "1.32.4", "--yes"], { env: sim.env });
    expect(r.code).toBe(0);
    expect(sim.cluster.kubernetesVersion).toBe("v1.32.4");
    expect(r.stderr).toContain("KUBERNETES_VERSION v1.31.1: set it to v1.32.4");
    const again = await runScript("talos-upgrade-k8s", ["--to", "1.32.4", "--yes"], { env: sim.env });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("already runs v1.32.4");
  }, T);

  test("the control plane it runs from does not answer: exit 1, nothing changed", async () => {
    sim = await startSimulation({ state: "bootstrapped", controllers: false, faults: ["unreachable=mini01"] });
    const r = await runScript("talos-upgrade-k8s", ["--to", "1.32.4", "--yes"], { env: sim.env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("172.29.51.11");
    // what it means, not the gRPC text; that is there with --verbose
    expect(r.stderr).toContain("the node does not answer");
    expect(r.stderr).not.toContain("no route to host");
    const verbose = await runScript("talos-upgrade-k8s", ["--to", "1.32.4", "--yes", "--verbose"], { env: sim.env });
    expect(verbose.stderr).toContain("no route to host");
    expect(sim.cluster.kubernetesVersion).toBe("v1.31.1");
    // another control plane works
    const other = await runScript("talos-upgrade-k8s", ["--to", "1.32.4", "--yes", "--node", "mini02"], { env: sim.env });
    expect(other.code).toBe(0);
    expect(sim.cluster.kubernetesVersion).toBe("v1.32.4");
  }, T);
});
