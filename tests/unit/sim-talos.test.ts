/**
 * The Talos side of the simulated cluster, in-process (timing scale 0: every transition happens inside the call):
 * the talosctl / talhelper / op stand-ins print the verbatim formats and error texts of talos.md, and the machine
 * lifecycle behaves as on real nodes. The outputs are also read back with lib/talos's parsers (the code the scripts
 * use), so the stand-ins and the parsers cannot drift apart unnoticed.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { SimCluster, maxConcurrentDown } from "../../lib/sim/cluster.ts";
import { Faults, FaultError, parseFault } from "../../lib/sim/faults.ts";
import { decodeSnapshot, encodeSnapshot, parseInstallerImage } from "../../lib/sim/talos.ts";
import { goQuoteList, humanizeBytes, multiError, tabwrite } from "../../lib/sim/talos-format.ts";
import { Timing, parseGoDuration } from "../../lib/sim/timing.ts";
import { type SimTopology, scaleTopology, topologyFromRepo } from "../../lib/sim/topology.ts";
import { parsePflags } from "../../lib/sim/tools.ts";
import {
  parseEtcdMembers,
  parseEtcdStatus,
  parseExtensions,
  parseHealth,
  parseJsonStream,
  parseMachineStatus,
  parseMembers,
  parseSnapshotOutput,
  parseVersionOutput,
} from "../../lib/talos/parse.ts";
import { classifyTalosError, parseNodeErrors } from "../../lib/talos/errors.ts";

const SCHEMATIC = "c0ffee".padEnd(64, "0");
const OTHER_SCHEMATIC = "beef".padEnd(64, "1");

function topology(cps = 3, workers = 0): SimTopology {
  const nodes = [];
  for (let i = 1; i <= cps + workers; i++)
    nodes.push({
      hostname: `node${String(i).padStart(2, "0")}`,
      ipv4: `10.5.0.${10 + i}`,
      ipv6: `fd00:5::${10 + i}`,
      controlPlane: i <= cps,
      installDisk: "/dev/sda",
    });
  return {
    clusterName: "lab",
    endpoint: "https://10.5.0.10:6443",
    talosVersion: "v1.10.5",
    kubernetesVersion: "v1.31.1",
    schematic: { id: SCHEMATIC, extensions: ["siderolabs/iscsi-tools", "siderolabs/util-linux-tools"] },
    installerImage: `factory.talos.dev/installer/${SCHEMATIC}:v1.10.5`,
    nodes,
    nodeSubnetV4: "10.5.0.0/24",
    nodeSubnetV6: "fd00:5::/64",
    reserved: ["10.5.0.10", "10.5.0.1"],
  };
}

const TALCONFIG = (t: SimTopology) => `
clusterName: ${t.clusterName}
talosVersion: \${TALOS_VERSION}
kubernetesVersion: ${t.kubernetesVersion}
endpoint: ${t.endpoint}
controlPlane:
  talosImageURL: factory.talos.dev/installer/${SCHEMATIC}
nodes:
${t.nodes
  .map(
    (n) => `  - hostname: ${n.hostname}
    ipAddress: ${n.ipv4}
    controlPlane: ${n.controlPlane}
    installDisk: /dev/sda
${n.controlPlane ? "" : `    talosImageURL: factory.talos.dev/installer/${SCHEMATIC}\n`}`,
  )
  .join("")}`;

let dir: string;
let cluster: SimCluster;

function start(opts: { cps?: number; workers?: number; state?: "bare" | "talos" | "bootstrapped"; faults?: string[]; talosctlVersion?: string } = {}) {
  cluster = new SimCluster({
    topology: topology(opts.cps ?? 3, opts.workers ?? 0),
    timing: { scale: 0 },
    faults: opts.faults ?? [],
    state: opts.state ?? "bare",
    ...(opts.talosctlVersion ? { talosctlVersion: opts.talosctlVersion } : {}),
  });
  cluster.kubeconfigText = "apiVersion: v1\nkind: Config\nclusters: []\n";
  writeFileSync(path.join(dir, "talosconfig"), cluster.talosconfig());
  return cluster;
}

async function talosctl(...argv: string[]) {
  return cluster.tools.call("talosctl", { argv, env: { TALOSCONFIG: path.join(dir, "talosconfig"), HOME: dir }, cwd: dir });
}

async function tool(name: string, argv: string[], env: Record<string, string> = {}) {
  return cluster.tools.call(name, { argv, env: { HOME: dir, ...env }, cwd: dir });
}

/** talhelper genconfig with the cluster's own secrets bundle (read from the vault, as the scripts do). */
async function genconfig() {
  writeFileSync(path.join(dir, "talconfig.yaml"), TALCONFIG(cluster.topology));
  writeFileSync(path.join(dir, "talenv.yaml"), `TALOS_VERSION: ${cluster.topology.talosVersion}\n`);
  const secret = await tool("op", ["read", "op://home-ops/talos/talsecret"]);
  expect(secret.exitCode).toBe(0);
  writeFileSync(path.join(dir, "talsecret.yaml"), secret.stdout, { mode: 0o600 });
  return tool("talhelper", ["genconfig"]);
}

async function configureAll() {
  expect((await genconfig()).exitCode).toBe(0);
  for (const n of cluster.topology.nodes) {
    const r = await talosctl("apply-config", "--insecure", "-n", n.ipv4, "--file", `clusterconfig/lab-${n.hostname}.yaml`);
    expect(r).toEqual({ stdout: "", stderr: "", exitCode: 0 });
  }
}

async function until(cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await Bun.sleep(5);
  }
  return cond();
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "sim-talos-test-"));
});
afterEach(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("output format helpers", () => {
  test("tabwrite pads every column but the last by three spaces (Go tabwriter 0,0,3,' ')", () => {
    expect(tabwrite([["NODE", "ID"], ["10.5.0.11", "abc"]])).toBe("NODE        ID\n10.5.0.11   abc\n");
  });
  test("humanizeBytes matches go-humanize", () => {
    expect(humanizeBytes(5)).toBe("5 B");
    expect(humanizeBytes(2_400_000)).toBe("2.4 MB");
    expect(humanizeBytes(22_044_672)).toBe("22 MB");
    expect(humanizeBytes(1_000)).toBe("1.0 kB");
  });
  test("multiError is go-multierror's block", () => {
    expect(multiError(["a: x"])).toBe("1 error occurred:\n\t* a: x\n\n");
    expect(multiError(["a", "b"])).toBe("2 errors occurred:\n\t* a\n\t* b\n\n");
  });
  test("goQuoteList is Go's %q of a string slice", () => {
    expect(goQuoteList(["10.5.0.11", "10.5.0.12"])).toBe('["10.5.0.11" "10.5.0.12"]');
  });
  test("parseGoDuration", () => {
    expect(parseGoDuration("1h30m")).toBe(5_400_000);
    expect(parseGoDuration("500ms")).toBe(500);
    expect(parseGoDuration("10")).toBeNull();
    expect(parseGoDuration("abc")).toBeNull();
  });
  test("parsePflags takes pflag's forms and rejects unknown flags", () => {
    const specs = [
      { name: "nodes", short: "n", type: "strings" as const },
      { name: "wait", type: "bool" as const },
      { name: "file", short: "f", type: "string" as const },
    ];
    const r = parsePflags(["-n", "a,b", "--nodes=c", "--wait=false", "-f=x.yaml", "pos"], specs);
    expect(r.flags).toEqual({ nodes: ["a", "b", "c"], wait: false, file: "x.yaml" });
    expect(r.positionals).toEqual(["pos"]);
    expect(() => parsePflags(["--bogus"], specs)).toThrow("unknown flag: --bogus");
    expect(() => parsePflags(["--file"], specs)).toThrow("flag needs an argument: --file");
  });
});

describe("faults, timing, topology", () => {
  test("faults parse, match nodes by name or IP, and are consumed once", () => {
    const f = new Faults(["apply-config-fails-once=10.5.0.11", "bootstrap-not-ready=2", "op-signed-out"]);
    const node = { hostname: "node01", ipv4: "10.5.0.11" };
    expect(f.takeApplyConfigFailure(node)).toBe(true);
    expect(f.takeApplyConfigFailure(node)).toBe(false);
    expect(f.takeBootstrapFault()).toBe("not-available-yet");
    expect(f.takeBootstrapFault()).toBe("not-available-yet");
    expect(f.takeBootstrapFault()).toBeUndefined();
    expect(f.opSignedOut).toBe(true);
    expect(f.list()).toEqual(["op-signed-out"]);
  });
  test("a bad fault is a clear error", () => {
    expect(() => parseFault("bogus")).toThrow(FaultError);
    expect(() => parseFault("unreachable")).toThrow('fault "unreachable" needs a node');
    expect(() => parseFault("bootstrap-not-ready=x")).toThrow("needs a whole number");
  });
  test("timing scales real delays and runs zero delays synchronously", () => {
    const t = new Timing({ scale: 0.01 });
    expect(t.ms("install")).toBe(900);
    const z = new Timing({ scale: 0 });
    let ran = false;
    z.after("boot", () => (ran = true));
    expect(ran).toBe(true);
    expect(() => new Timing({ scale: -1 })).toThrow();
  });
  test("scaleTopology adds workers after the naming pattern and the next free addresses", () => {
    const t = scaleTopology(topology(3), 5);
    expect(t.nodes.map((n) => n.hostname)).toEqual(["node01", "node02", "node03", "node04", "node05"]);
    expect(t.nodes[3]).toMatchObject({ ipv4: "10.5.0.14", ipv6: "fd00:5::14", controlPlane: false });
    expect(scaleTopology(topology(3), 1).nodes.map((n) => n.hostname)).toEqual(["node01"]);
  });
  test("scaleTopology to 300 nodes: unique names and addresses, a warning once past the /24", () => {
    const t = scaleTopology(topology(3), 300);
    expect(t.nodes).toHaveLength(300);
    expect(new Set(t.nodes.map((n) => n.hostname)).size).toBe(300);
    expect(new Set(t.nodes.map((n) => n.ipv4)).size).toBe(300);
    expect(t.nodes.some((n) => n.ipv4 === "10.5.0.10")).toBe(false);
    expect(t.warnings?.[0]).toContain("beyond the node subnet 10.5.0.0/24");
  });
});

describe("snapshots and installer images", () => {
  test("a snapshot file has the etcd sha256 trailer (size % 512 == 32) and round-trips", () => {
    const { bytes, hash } = encodeSnapshot({ cluster: "lab", takenAt: "t", revision: 7, keys: 190, members: ["node01"] });
    expect(bytes.length % 512).toBe(32);
    expect(hash).toBeGreaterThan(0);
    expect(decodeSnapshot(bytes).revision).toBe(7);
    const broken = new Uint8Array(bytes);
    broken[40] = broken[40]! ^ 1;
    expect(() => decodeSnapshot(broken)).toThrow("hash mismatch");
    expect(decodeSnapshot(bytes.subarray(0, bytes.length - 32), { skipHashCheck: true }).revision).toBe(7);
    expect(() => decodeSnapshot(bytes.subarray(0, bytes.length - 32))).toThrow("--recover-skip-hash-check");
  });
  test("installer images: factory (metal-)installer carries the schematic, the default one does not", () => {
    expect(parseInstallerImage(`factory.talos.dev/metal-installer/${SCHEMATIC}:v1.10.5`)).toEqual({
      schematic: SCHEMATIC,
      version: "v1.10.5",
      factory: true,
    });
    expect(parseInstallerImage("ghcr.io/siderolabs/installer:v1.10.6")).toEqual({ version: "v1.10.6", factory: false });
  });
});

describe("talosctl: maintenance mode and connections", () => {
  test("a maintenance node without --insecure: x509 certificate signed by unknown authority", async () => {
    start();
    const r = await talosctl("-n", "10.5.0.11", "get", "machinestatus");
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("x509: certificate signed by unknown authority");
    expect(classifyTalosError(r.stderr)).toBe("maintenance-needs-insecure");
  });

  test("--insecure in maintenance: get works, version/upgrade/reset answer `API is not implemented in maintenance mode`", async () => {
    start();
    const ms = await talosctl("-n", "10.5.0.11", "get", "machinestatus", "--insecure", "-o", "json");
    expect(ms.exitCode).toBe(0);
    expect(parseMachineStatus(ms.stdout)).toEqual([{ node: "10.5.0.11", stage: "maintenance", ready: false, unmetConditions: [] }]);
    for (const argv of [["version"], ["upgrade", "--image", "x"], ["reset"]]) {
      const r = await talosctl("-n", "10.5.0.11", "--insecure", ...argv);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toBe(
        "1 error occurred:\n\t* 10.5.0.11: rpc error: code = Unimplemented desc = API is not implemented in maintenance mode\n\n",
      );
    }
  });

  test("apply-config in maintenance prints nothing; afterwards --insecure gets `certificate required`", async () => {
    start();
    await configureAll();
    const m = cluster.machine("node01")!;
    expect(m.stage).toBe("running");
    expect(m.etcdService).toBe("Preparing");
    expect(m.schematicId).toBe(SCHEMATIC);
    const again = await talosctl("apply-config", "--insecure", "-n", "10.5.0.11", "--file", "clusterconfig/lab-node01.yaml");
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toContain("certificate required");
    expect(classifyTalosError(again.stderr)).toBe("certificate-required");
    const applied = await talosctl("apply-config", "-n", "10.5.0.11", "--file", "clusterconfig/lab-node01.yaml");
    expect(applied).toEqual({ stdout: "Applied configuration without a reboot\n", stderr: "", exitCode: 0 });
    const reboot = await talosctl("apply-config", "-n", "10.5.0.11", "--file", "clusterconfig/lab-node01.yaml", "--mode", "reboot");
    expect(reboot.stdout).toBe("Applied configuration with a reboot\n");
  });

  test("maintenance accepts only auto, reboot and try modes", async () => {
    start();
    await genconfig();
    const r = await talosctl("apply-config", "--insecure", "-n", "10.5.0.11", "-f", "clusterconfig/lab-node01.yaml", "-m", "no-reboot");
    expect(r.exitCode).toBe(1);
    expect(cluster.machine("node01")!.stage).toBe("maintenance");
  });

  test("a missing config file fails before connecting; bad flags print usage", async () => {
    start();
    const r = await talosctl("apply-config", "--insecure", "-n", "10.5.0.11", "--file", "nope.yaml");
    expect(r).toEqual({ stdout: "", stderr: "open nope.yaml: no such file or directory\n", exitCode: 1 });
    const bad = await talosctl("apply-config", "--bogus");
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toStartWith("unknown flag: --bogus\n");
  });

  test("a talosconfig with another CA is not trusted (secrets regenerated by talhelper)", async () => {
    start({ state: "talos" });
    const cfg = parseYaml(readFileSync(path.join(dir, "talosconfig"), "utf8"));
    cfg.contexts.lab.ca = Buffer.from("another CA").toString("base64");
    writeFileSync(path.join(dir, "other"), JSON.stringify(cfg));
    const r = await talosctl("--talosconfig", "other", "-n", "10.5.0.11", "version");
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("x509: certificate signed by unknown authority");
  });

  test("an unreachable node gives a per-node Unavailable error; the others still answer", async () => {
    start({ state: "talos", faults: ["unreachable=node02"] });
    const r = await talosctl("-n", "10.5.0.11,10.5.0.12", "get", "machinestatus", "-o", "json");
    expect(r.exitCode).toBe(1);
    expect(parseMachineStatus(r.stdout).map((s) => s.node)).toEqual(["10.5.0.11"]);
    expect(r.stderr).toBe(
      '1 error occurred:\n\t* 10.5.0.12: rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp 10.5.0.12:50000: connect: no route to host"\n\n',
    );
    expect(parseNodeErrors(r.stderr)).toEqual([{ node: "10.5.0.12", code: "Unavailable", message: expect.stringContaining("no route to host") }]);
    expect(classifyTalosError(r.stderr)).toBe("unreachable");
  });

  test("a partitioned node: Talos API unreachable, its etcd member unhealthy, its Node Unknown; healed afterwards", async () => {
    start({ state: "bootstrapped" });
    cluster.faults.add("partitioned=node03");
    expect(cluster.k8sNode("node03")?.ready).toBe(false);
    expect(cluster.talos.healthyMembers().map((m) => m.hostname)).toEqual(["node01", "node02"]);
    expect(cluster.talos.hasQuorum()).toBe(true);
    const h = await talosctl("-n", "10.5.0.11", "health", "--wait-timeout", "1s");
    expect(h.exitCode).toBe(1);
    expect(h.stderr).toContain("waiting for etcd to be healthy: 1 error occurred:\n\t* 10.5.0.13: rpc error: code = Unavailable");
    cluster.faults.add("partitioned=node02");
    expect(cluster.talos.hasQuorum()).toBe(false);
    const st = parseEtcdStatus((await talosctl("-n", "10.5.0.11", "etcd", "status")).stdout);
    expect(st[0]!.errors).toEqual(["etcdserver: no leader"]);
    cluster.faults.clear("partitioned");
    expect(cluster.talos.hasQuorum()).toBe(true);
    expect(cluster.k8sNode("node03")?.ready).toBe(true);
  });

  test("version: Client/Server blocks and the skew warning when the server is older", async () => {
    start({ state: "talos", talosctlVersion: "v1.10.6" });
    const r = await talosctl("-n", "10.5.0.11", "version");
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toStartWith("Client:\n\tTag:         v1.10.6\n");
    expect(r.stdout).toContain("Server:\n\tNODE:        10.5.0.11\n\tTag:         v1.10.5\n");
    expect(r.stderr).toBe("WARNING: 10.5.0.11: server version 1.10.5 is older than client version 1.10.6\n");
    expect(parseVersionOutput(r.stdout)).toEqual({ client: "v1.10.6", servers: [{ node: "10.5.0.11", tag: "v1.10.5" }] });
    expect((await talosctl("version", "--client", "--short")).stdout).toBe("Client:\nTalos v1.10.6\n");
  });
});

describe("talosctl: bootstrap and etcd", () => {
  test("health, etcd snapshot, upgrade-k8s and bootstrap refuse several nodes", async () => {
    start({ state: "talos" });
    for (const [cmd, argv] of [
      ["health", ["health"]],
      ["etcd snapshot", ["etcd", "snapshot", "db.snapshot"]],
      ["upgrade-k8s", ["upgrade-k8s", "--to", "1.32.0"]],
      ["bootstrap", ["bootstrap"]],
    ] as const) {
      const r = await talosctl("-n", "10.5.0.11,10.5.0.12", ...argv);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toStartWith(`command "${cmd}" is not supported with multiple nodes\n`);
      expect(classifyTalosError(r.stderr)).toBe("multiple-nodes");
    }
  });

  test("a second bootstrap while etcd is still starting is AlreadyExists, not a second bootstrap", async () => {
    start();
    await configureAll();
    cluster.timing.scale = 1;
    cluster.timing.delays.bootstrap = 60_000;
    expect(await talosctl("-n", "10.5.0.11", "bootstrap")).toEqual({ stdout: "", stderr: "", exitCode: 0 });
    const again = await talosctl("-n", "10.5.0.11", "bootstrap");
    expect(classifyTalosError(again.stderr)).toBe("already-exists");
    expect(cluster.history.filter((e) => e.type === "bootstrap").length).toBe(1);
  });

  test("bootstrap: `not available yet` N times (fault), then once, then AlreadyExists; nodes register NotReady", async () => {
    start({ faults: ["bootstrap-not-ready=2"] });
    await configureAll();
    for (let i = 0; i < 2; i++) {
      const r = await talosctl("-n", "10.5.0.11", "bootstrap");
      expect(r.stderr).toBe(
        "error executing bootstrap: 1 error occurred:\n\t* 10.5.0.11: rpc error: code = FailedPrecondition desc = bootstrap is not available yet\n\n",
      );
      expect(classifyTalosError(r.stderr)).toBe("not-available-yet");
    }
    expect(await talosctl("-n", "10.5.0.11", "bootstrap")).toEqual({ stdout: "", stderr: "", exitCode: 0 });
    const again = await talosctl("-n", "10.5.0.12", "bootstrap");
    expect(again.stderr).toContain("rpc error: code = AlreadyExists desc = etcd data directory is not empty");
    expect(classifyTalosError(again.stderr)).toBe("already-exists");
    const nodes = cluster.store.list("nodes").items;
    expect(nodes.map((n) => n.metadata.name)).toEqual(["node01", "node02", "node03"]);
    for (const n of nodes) {
      const ready = (n.status!.conditions as Array<{ type: string; status: string; message: string }>).find((c) => c.type === "Ready")!;
      expect(ready.status).toBe("False");
      expect(ready.message).toContain("cni plugin not initialized");
    }
    cluster.setCniReady(true);
    expect(cluster.k8sNode("node02")).toEqual({ ready: true, schedulable: true });
  });

  test("time is not in sync yet (fault) is retryable", async () => {
    start({ faults: ["time-not-in-sync=1"] });
    await configureAll();
    const r = await talosctl("-n", "10.5.0.11", "bootstrap");
    expect(classifyTalosError(r.stderr)).toBe("time-not-in-sync");
  });

  test("etcd members and status tables parse with lib/talos", async () => {
    start({ state: "bootstrapped" });
    const members = await talosctl("-n", "10.5.0.11", "etcd", "members");
    expect(members.stdout.split("\n")[0]).toMatch(/^NODE +ID +HOSTNAME +PEER URLS +CLIENT URLS +LEARNER$/);
    const parsed = parseEtcdMembers(members.stdout);
    expect(parsed.map((m) => [m.hostname, m.learner, m.peerUrls[0]])).toEqual([
      ["node01", false, "https://10.5.0.11:2380"],
      ["node02", false, "https://10.5.0.12:2380"],
      ["node03", false, "https://10.5.0.13:2380"],
    ]);
    expect(parsed[0]!.id).toMatch(/^[0-9a-f]{16}$/);
    const status = await talosctl("-n", "10.5.0.11,10.5.0.12", "etcd", "status");
    expect(status.stdout.split("\n")[0]).toMatch(
      /^NODE +MEMBER +DB SIZE +IN USE +LEADER +RAFT INDEX +RAFT TERM +RAFT APPLIED INDEX +LEARNER +ERRORS$/,
    );
    const st = parseEtcdStatus(status.stdout);
    expect(st).toHaveLength(2);
    expect(st[0]!.leader).toBe(st[1]!.leader);
    expect(st[0]!.inUseText).toMatch(/^[\d.]+ [kM]B \(\d+\.\d\d%\)$/);
  });

  test("etcd on a worker node is an error", async () => {
    start({ cps: 1, workers: 1, state: "talos" });
    const r = await talosctl("-n", "10.5.0.12", "etcd", "members");
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("* 10.5.0.12: rpc error:");
  });

  test("etcd snapshot: the two lines, a 0600 file with the etcd trailer, verifiable; restore brings data back", async () => {
    // small real delays: the three resets must overlap, as in the disaster-recovery procedure
    cluster = new SimCluster({ topology: topology(3), timing: { scale: 0.0005 }, state: "bootstrapped" });
    writeFileSync(path.join(dir, "talosconfig"), cluster.talosconfig());
    cluster.store.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "keep", namespace: "default" }, data: { a: "1" } });
    const r = await talosctl("-n", "10.5.0.11", "etcd", "snapshot", "db.snapshot");
    expect(r.exitCode).toBe(0);
    const info = parseSnapshotOutput(r.stdout);
    expect(info).not.toBeNull();
    expect(r.stdout.split("\n").filter(Boolean)).toHaveLength(2);
    expect(r.stdout).toMatch(/^etcd snapshot saved to "db\.snapshot" \(\d+ bytes\)\nsnapshot info: hash [0-9a-f]{8}, revision \d+, total keys \d+, total size \d+\n$/);
    const file = path.join(dir, "db.snapshot");
    expect(statSync(file).size).toBe(info!.bytes);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(existsSync(file + ".part")).toBe(false);
    expect(decodeSnapshot(readFileSync(file)).data).toBeDefined();

    // disaster: all control planes lose EPHEMERAL; the data changes meanwhile
    cluster.store.delete("configmaps", "keep", "default");
    const reset = await talosctl("-n", "10.5.0.11,10.5.0.12,10.5.0.13", "reset", "--graceful=false", "--reboot", "--system-labels-to-wipe", "EPHEMERAL", "--wait=false");
    expect(reset).toEqual({ stdout: "", stderr: "", exitCode: 0 });
    expect(await until(() => cluster.talos.machines.every((m) => m.running && m.etcdService === "Preparing"))).toBe(true);
    expect(cluster.talos.bootstrapped).toBe(false);
    const svc = await talosctl("-n", "10.5.0.11", "service", "etcd");
    expect(svc.stdout).toContain("STATE    Preparing");
    const rec = await talosctl("-n", "10.5.0.11", "bootstrap", "--recover-from", "db.snapshot");
    expect(rec).toEqual({ stdout: "", stderr: "", exitCode: 0 });
    expect(await until(() => cluster.talos.members.size === 3 && cluster.talos.healthyMembers().length === 3)).toBe(true);
    expect(cluster.store.tryGet("configmaps", "keep", "default")?.data).toEqual({ a: "1" });
  });

  test("bootstrap --recover-from a corrupt file fails clearly and changes nothing", async () => {
    start({ state: "talos" });
    writeFileSync(path.join(dir, "bad.snapshot"), "garbage");
    const r = await talosctl("-n", "10.5.0.11", "bootstrap", "--recover-from", "bad.snapshot");
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("--recover-skip-hash-check");
    const missing = await talosctl("-n", "10.5.0.11", "bootstrap", "--recover-from", "none.snapshot");
    expect(missing.stderr).toBe("open none.snapshot: no such file or directory\n");
  });
});

describe("talosctl: reboot, upgrade, reset", () => {
  test("reboot takes the node down and back; Node goes Unknown then Ready", async () => {
    start({ state: "bootstrapped" });
    const seen: string[] = [];
    cluster.store.watch("nodes", {}, (ev) => {
      if (ev.object.metadata.name !== "node02") return;
      const c = (ev.object.status?.conditions as Array<{ type: string; status: string }> | undefined)?.find((x) => x.type === "Ready");
      if (c && seen.at(-1) !== c.status) seen.push(c.status);
    });
    const r = await talosctl("-n", "10.5.0.12", "reboot");
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain("10.5.0.12: post check passed");
    expect(seen).toEqual(["True", "Unknown", "True"]);
    const types = cluster.history.filter((e) => e.node === "node02").map((e) => e.type);
    expect(types).toContain("down");
    expect(types.at(-1)).not.toBe("down");
    expect(maxConcurrentDown(cluster.history)).toBe(1);
  });

  test("a reboot that never returns: --wait times out, the node stays down", async () => {
    cluster = new SimCluster({ topology: topology(3), timing: { scale: 0.0001 }, faults: ["reboot-never-returns=node03"], state: "bootstrapped" });
    writeFileSync(path.join(dir, "talosconfig"), cluster.talosconfig());
    const r = await talosctl("-n", "10.5.0.13", "reboot", "--timeout", "10m");
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("10.5.0.13: timeout waiting for the node to come back");
    expect(cluster.machine("node03")!.up).toBe(false);
    expect(cluster.k8sNode("node03")?.ready).toBe(false);
  });

  test("upgrade refuses to break quorum, changes version and schematic, drops extensions without a schematic", async () => {
    start({ cps: 2, state: "bootstrapped" });
    const refused = await talosctl("-n", "10.5.0.11", "upgrade", "--image", `factory.talos.dev/installer/${SCHEMATIC}:v1.10.6`);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain("etcd member count(2) is insufficient to maintain quorum if upgrade commences");
    expect(classifyTalosError(refused.stderr)).toBe("quorum");
    await cluster.stop();

    start({ state: "bootstrapped" });
    cluster.talos.schematics.set(OTHER_SCHEMATIC, ["siderolabs/iscsi-tools"]);
    const up = await talosctl("-n", "10.5.0.11", "upgrade", "--image", `factory.talos.dev/metal-installer/${OTHER_SCHEMATIC}:v1.10.6`, "--wait=false");
    expect(up.exitCode).toBe(0);
    expect(up.stdout).toMatch(/^NODE +ACK +STARTED\n10\.5\.0\.11 +Upgrade request received +\S+\n$/);
    const m = cluster.machine("node01")!;
    expect([m.version, m.schematicId, m.extensions]).toEqual(["v1.10.6", OTHER_SCHEMATIC, ["siderolabs/iscsi-tools"]]);
    const ext = parseExtensions((await talosctl("-n", "10.5.0.11", "get", "extensions", "-o", "json")).stdout);
    expect(ext.map((e) => e.name)).toEqual(["iscsi-tools", "schematic"]);
    expect(ext[1]!.version).toBe(OTHER_SCHEMATIC);
    const members = parseMembers((await talosctl("-n", "10.5.0.12", "get", "members")).stdout);
    expect(members.find((x) => x.hostname === "node01")!.talosVersion).toBe("v1.10.6");

    const plain = await talosctl("-n", "10.5.0.12", "upgrade", "--image", "ghcr.io/siderolabs/installer:v1.10.6");
    expect(plain.exitCode).toBe(0);
    expect(cluster.machine("node02")!.extensions).toEqual([]);
  });

  test("graceful reset leaves etcd; wiping STATE returns the node to maintenance", async () => {
    start({ state: "bootstrapped" });
    const r = await talosctl("-n", "10.5.0.13", "reset", "--reboot", "--system-labels-to-wipe", "STATE", "--system-labels-to-wipe", "EPHEMERAL");
    expect(r.exitCode).toBe(0);
    expect([...cluster.talos.members.keys()]).toEqual(["node01", "node02"]);
    expect(cluster.machine("node03")!.stage).toBe("maintenance");
    const ms = await talosctl("-n", "10.5.0.13", "--insecure", "get", "machinestatus", "-o", "yaml");
    expect(ms.stdout).toContain("node: 10.5.0.13\nmetadata:\n    namespace: runtime\n");
    expect(ms.stdout).toContain("spec:\n    stage: maintenance\n");
  });

  test("a graceful reset that would lose quorum is refused", async () => {
    start({ state: "bootstrapped", faults: [] });
    cluster.talos.reboot(cluster.machine("node01")!); // with scale 0 it is back at once: take it down for real
    cluster.faults.add("reboot-never-returns=node02");
    cluster.talos.reboot(cluster.machine("node02")!);
    const r = await talosctl("-n", "10.5.0.13", "-e", "10.5.0.13", "reset", "--reboot");
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("etcdserver: unhealthy cluster");
    expect(cluster.machine("node03")!.stage).toBe("running");
  });
});

describe("talosctl: get, health, upgrade-k8s, kubeconfig", () => {
  test("get -o json is a stream of indented objects with sorted keys; -o yaml separates with ---", async () => {
    start({ state: "bootstrapped" });
    const r = await talosctl("-n", "10.5.0.11,10.5.0.12", "get", "machinestatus", "-o", "json");
    expect(r.stdout.startsWith("{\n    \"metadata\": {\n")).toBe(true);
    expect(r.stdout.trim().startsWith("[")).toBe(false);
    const objs = parseJsonStream(r.stdout);
    expect(objs.map((o) => o.node)).toEqual(["10.5.0.11", "10.5.0.12"]);
    expect(Object.keys(objs[0]!)).toEqual(["metadata", "node", "spec"]);
    expect(parseMachineStatus(r.stdout).every((s) => s.stage === "running" && s.ready)).toBe(true);
    const y = await talosctl("-n", "10.5.0.11,10.5.0.12", "get", "ms", "-o", "yaml");
    expect(y.stdout.split("\n---\n")).toHaveLength(2);
    const disks = await talosctl("-n", "10.5.0.11", "get", "disks");
    expect(disks.stdout.split("\n")[0]).toMatch(/^NODE +NAMESPACE +TYPE +ID +VERSION +SIZE +READ ONLY +TRANSPORT +ROTATIONAL +WWID +MODEL +SERIAL$/);
    expect(disks.stdout).toContain("usb");
    const unknown = await talosctl("-n", "10.5.0.11", "get", "bogus");
    expect(unknown.exitCode).toBe(1);
  });

  test("machinestatus lists unmet conditions until the node is Ready", async () => {
    start({ state: "talos" });
    const [s] = parseMachineStatus((await talosctl("-n", "10.5.0.11", "get", "machinestatus", "-o", "json")).stdout);
    expect(s!.ready).toBe(false);
    expect(s!.unmetConditions).toContainEqual({ name: "nodeReady", reason: "node is not ready" });
  });

  test("health: every check OK on a Ready cluster; `healthcheck error` while nodes are NotReady", async () => {
    start({ state: "bootstrapped" });
    const ok = await talosctl("-n", "10.5.0.11", "health", "--wait-timeout", "1s");
    expect(ok.exitCode).toBe(0);
    expect(ok.stderr).toStartWith('discovered nodes: ["10.5.0.11" "10.5.0.12" "10.5.0.13"]\nwaiting for etcd to be healthy: ...\nwaiting for etcd to be healthy: OK\n');
    expect(ok.stderr).toContain("waiting for kube-proxy to report ready: SKIP\n");
    const h = parseHealth(ok.stderr);
    expect(h.ok).toBe(true);
    expect(h.discovered).toEqual(["10.5.0.11", "10.5.0.12", "10.5.0.13"]);
    cluster.setCniReady(false);
    const bad = await talosctl("-n", "10.5.0.11", "health", "--wait-timeout", "1s");
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toContain("waiting for all k8s nodes to report ready: some nodes are not ready:");
    expect(bad.stderr).toMatch(/\nhealthcheck error: some nodes are not ready: \[.*\]\n$/);
    expect(parseHealth(bad.stderr).ok).toBe(false);
  });

  test("upgrade-k8s: one minor at a time inside Talos' range, then kubelets report the new version", async () => {
    start({ state: "bootstrapped" });
    const skip = await talosctl("-n", "10.5.0.11", "upgrade-k8s", "--to", "1.33.0");
    expect(skip.stderr).toBe('unsupported upgrade path 1.31->1.33 (from "1.31.1" to "1.33.0")\n');
    const tooNew = await talosctl("-n", "10.5.0.11", "upgrade-k8s", "--from", "1.33.0", "--to", "1.34.0");
    expect(tooNew.stderr).toBe("version of Kubernetes 1.34.0 is too new to be used with Talos 1.10.5\n");
    expect(classifyTalosError(tooNew.stderr)).toBe("unsupported-version");
    const dry = await talosctl("-n", "10.5.0.11", "upgrade-k8s", "--to", "1.32.0", "--dry-run");
    expect(dry.exitCode).toBe(0);
    expect(cluster.kubernetesVersion).toBe("v1.31.1");
    const ok = await talosctl("-n", "10.5.0.11", "upgrade-k8s", "--to", "1.32.0");
    expect(ok.stdout).toContain('updating kubelet to version "1.32.0"');
    expect(cluster.store.get("nodes", "node02").status!.nodeInfo.kubeletVersion).toBe("v1.32.0");
  });

  test("kubeconfig: written 0600 once bootstrapped, refused before", async () => {
    start({ state: "talos" });
    const r = await talosctl("-n", "10.5.0.11", "kubeconfig", "kc");
    expect(r.exitCode).toBe(0);
    expect(statSync(path.join(dir, "kc")).mode & 0o777).toBe(0o600);
    await cluster.stop();
    start();
    await configureAll();
    const early = await talosctl("-n", "10.5.0.11", "kubeconfig", "kc2");
    expect(early.exitCode).toBe(1);
    expect(existsSync(path.join(dir, "kc2"))).toBe(false);
  });

  test("apply-config fails once (fault) with an EOF, then works", async () => {
    start({ faults: ["apply-config-fails-once=node01"] });
    await genconfig();
    const first = await talosctl("apply-config", "--insecure", "-n", "10.5.0.11", "-f", "clusterconfig/lab-node01.yaml");
    expect(first.stderr).toBe(
      "error applying new configuration: 1 error occurred:\n\t* 10.5.0.11: rpc error: code = Unavailable desc = error reading from server: EOF\n\n",
    );
    expect(cluster.machine("node01")!.stage).toBe("maintenance");
    const second = await talosctl("apply-config", "--insecure", "-n", "10.5.0.11", "-f", "clusterconfig/lab-node01.yaml");
    expect(second.exitCode).toBe(0);
  });
});

describe("talhelper and op stand-ins", () => {
  test("genconfig writes a config per node, talosconfig and .gitignore, with talhelper's lines", async () => {
    start();
    const r = await genconfig();
    expect(r.stdout).toBe(
      [
        "generated config for node01 in ./clusterconfig/lab-node01.yaml",
        "generated config for node02 in ./clusterconfig/lab-node02.yaml",
        "generated config for node03 in ./clusterconfig/lab-node03.yaml",
        "generated client config in ./clusterconfig/talosconfig",
        "generated .gitignore file in ./clusterconfig/.gitignore",
        "",
      ].join("\n"),
    );
    const cfg = parseYaml(readFileSync(path.join(dir, "clusterconfig/lab-node02.yaml"), "utf8"));
    expect(cfg.machine.install.image).toBe(`factory.talos.dev/installer/${SCHEMATIC}:v1.10.5`);
    expect(cfg.machine.network.hostname).toBe("node02");
    const tc = parseYaml(readFileSync(path.join(dir, "clusterconfig/talosconfig"), "utf8"));
    expect(tc.context).toBe("lab");
    expect(tc.contexts.lab.endpoints).toEqual(["10.5.0.11", "10.5.0.12", "10.5.0.13"]);
    expect(tc.contexts.lab.ca).toBe(cluster.talosCa);
    expect(statSync(path.join(dir, "clusterconfig/lab-node02.yaml")).mode & 0o777).toBe(0o600);
  });

  test("genconfig: an unset variable is an error", async () => {
    start();
    writeFileSync(path.join(dir, "talconfig.yaml"), TALCONFIG(cluster.topology));
    const r = await tool("talhelper", ["genconfig"]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("${TALOS_VERSION} not set");
    expect(existsSync(path.join(dir, "clusterconfig"))).toBe(false);
  });

  test("gencommand prints one talosctl line per node ending with ;", async () => {
    start();
    writeFileSync(path.join(dir, "talconfig.yaml"), TALCONFIG(cluster.topology));
    const r = await tool("talhelper", ["gencommand", "apply", "--extra-flags", "--insecure"], { TALOS_VERSION: "v1.10.5" });
    expect(r.stdout.split("\n")[0]).toBe(
      "talosctl apply-config --talosconfig=./clusterconfig/talosconfig --nodes=10.5.0.11 --file=./clusterconfig/lab-node01.yaml --insecure;",
    );
    const b = await tool("talhelper", ["gencommand", "bootstrap"], { TALOS_VERSION: "v1.10.5" });
    expect(b.stdout).toBe("talosctl bootstrap --talosconfig=./clusterconfig/talosconfig --nodes=10.5.0.11;\n");
  });

  test("op read prints only the value; errors look like op's; signed out fails everything", async () => {
    start();
    cluster.vault.setItem("home-ops", "cloudflare", { token: "s3cr3t-value" });
    expect(await tool("op", ["read", "op://home-ops/cloudflare/token"])).toEqual({ stdout: "s3cr3t-value\n", stderr: "", exitCode: 0 });
    expect((await tool("op", ["read", "--no-newline", "op://home-ops/cloudflare/token"])).stdout).toBe("s3cr3t-value");
    const missing = await tool("op", ["read", "op://home-ops/nope/token"]);
    expect(missing.stderr).toMatch(/^\[ERROR\] \d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d could not read secret 'op:\/\/home-ops\/nope\/token': .*"nope" isn't an item in the "home-ops" vault/);
    const json = JSON.parse((await tool("op", ["item", "get", "cloudflare", "--vault", "home-ops", "--format", "json"])).stdout);
    expect(json.fields[0]).toMatchObject({ label: "token", value: "s3cr3t-value", type: "CONCEALED" });
    expect((await tool("op", ["whoami"])).exitCode).toBe(0);
    cluster.faults.add("op-signed-out");
    const out = await tool("op", ["read", "op://home-ops/cloudflare/token"]);
    expect(out.exitCode).toBe(1);
    expect(out.stdout).toBe("");
    expect(out.stderr).toMatch(/^\[ERROR\] \S+ \S+ You are not currently signed in\. Please run `op signin --help` for instructions\n$/);
    expect((await tool("op", ["whoami"])).exitCode).toBe(1);
  });

  test("every call is recorded with its argv", async () => {
    start();
    await tool("op", ["whoami"]);
    expect(cluster.calls.at(-1)).toMatchObject({ tool: "op", argv: ["whoami"], exitCode: 0 });
  });
});

describe("the repo's own topology", () => {
  test("nodes, versions and schematic from the ClusterModel; stand-ins report the .mise.toml pins", async () => {
    const root = path.resolve(import.meta.dir, "../..");
    const topo = await topologyFromRepo(root);
    const mise = Bun.TOML.parse(readFileSync(path.join(root, ".mise.toml"), "utf8")) as { tools: Record<string, string> };
    expect(topo.nodes.length).toBeGreaterThan(0);
    expect(topo.installerImage).toContain(topo.schematic.id ?? "installer");
    expect(topo.toolVersions?.talosctl).toBe(`v${mise.tools.talosctl!.replace(/^v/, "")}`);
    cluster = new SimCluster({ topology: topo, timing: { scale: 0 } });
    expect((await tool("talosctl", ["version", "--client", "--short"])).stdout).toBe(`Client:\nTalos ${topo.toolVersions!.talosctl}\n`);
    expect((await tool("talhelper", ["--version"])).stdout).toBe(`talhelper version ${mise.tools.talhelper}\n`);
    expect((await tool("op", ["--version"])).stdout).toBe(`${mise.tools["1password"]}\n`);
  });
});

describe("scale", () => {
  test("300 nodes bootstrapped: 300 Ready Nodes, get members lists all", async () => {
    cluster = new SimCluster({ topology: scaleTopology(topology(3), 300), timing: { scale: 0 }, state: "bootstrapped" });
    writeFileSync(path.join(dir, "talosconfig"), cluster.talosconfig());
    expect(cluster.store.list("nodes").items).toHaveLength(300);
    expect(cluster.talos.members.size).toBe(3);
    const r = await talosctl("-n", "10.5.0.11", "get", "members");
    expect(parseMembers(r.stdout)).toHaveLength(300);
    const h = await talosctl("-n", "10.5.0.11", "health", "--wait-timeout", "1s");
    expect(h.exitCode).toBe(0);
  });
});
