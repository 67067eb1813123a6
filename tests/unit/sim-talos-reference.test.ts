/**
 * Dev check: the talosctl stand-in prints the formats and error texts quoted in the shared reference
 * (../shared/reference/talos.md), read from that file itself so a change on either side shows up here. Skipped
 * in a clone without the reference folder (the project never depends on it at run time).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { SimCluster } from "../../lib/sim/cluster.ts";
import type { SimTopology } from "../../lib/sim/topology.ts";

const REF = path.resolve(import.meta.dir, "../../../shared/reference/talos.md");
const have = existsSync(REF);
const ref = have ? readFileSync(REF, "utf8").replace(/\n\s+/g, " ") : "";

/** The backticked text that follows `marker` in talos.md. */
function quoted(marker: string, nth = 0): string {
  const at = ref.indexOf(marker);
  if (at < 0) throw new Error(`talos.md no longer mentions ${marker}`);
  const parts = ref.slice(at + marker.length).split("`");
  return parts[1 + nth * 2]!;
}

const SCHEMATIC = "ab".repeat(32);
const topology: SimTopology = {
  clusterName: "ref",
  endpoint: "https://10.9.0.10:6443",
  talosVersion: "v1.10.5",
  kubernetesVersion: "v1.31.1",
  schematic: { id: SCHEMATIC, extensions: ["siderolabs/iscsi-tools"] },
  installerImage: `factory.talos.dev/installer/${SCHEMATIC}:v1.10.5`,
  nodes: [1, 2, 3].map((i) => ({ hostname: `cp${i}`, ipv4: `10.9.0.1${i}`, controlPlane: true, installDisk: "/dev/sda" })),
};

let dir: string;
let cluster: SimCluster;
const talosctl = (...argv: string[]) => cluster.tools.call("talosctl", { argv, env: { TALOSCONFIG: path.join(dir, "tc") }, cwd: dir });
function boot(state: "bare" | "bootstrapped", opts: { talosctlVersion?: string; cps?: number } = {}) {
  void cluster?.stop();
  cluster = new SimCluster({
    topology: { ...topology, nodes: topology.nodes.slice(0, opts.cps ?? 3) },
    timing: { scale: 0 },
    state,
    ...(opts.talosctlVersion ? { talosctlVersion: opts.talosctlVersion } : {}),
  });
  writeFileSync(path.join(dir, "tc"), cluster.talosconfig());
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "sim-ref-"));
});
afterAll(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const norm = (s: string) => s.trim().split(/\s+/).join(" ");

describe.skipIf(!have)("talosctl stand-in vs talos.md", () => {
  test("table headers", async () => {
    boot("bootstrapped");
    expect(norm((await talosctl("-n", "10.9.0.11", "etcd", "members")).stdout.split("\n")[0]!)).toBe(quoted("`etcd members` table:"));
    expect(norm((await talosctl("-n", "10.9.0.11", "etcd", "status")).stdout.split("\n")[0]!)).toBe(quoted("`etcd status` table:"));
    expect(norm((await talosctl("-n", "10.9.0.11", "get", "members")).stdout.split("\n")[0]!)).toBe(quoted("`get members` table:"));
  });

  test("etcd snapshot: the two lines", async () => {
    const out = (await talosctl("-n", "10.9.0.11", "etcd", "snapshot", "db.snapshot")).stdout.split("\n");
    const saved = quoted("`etcd snapshot <path>`:").replace("<path>", "db.snapshot").replace("<n>", "\\d+");
    expect(out[0]).toMatch(new RegExp(`^${saved.replace(/[()]/g, "\\$&")}$`));
    const info = quoted("`etcd snapshot <path>`:", 1).replace("%08x", "[0-9a-f]{8}").replaceAll("%d", "\\d+");
    expect(out[1]).toMatch(new RegExp(`^${info}$`));
  });

  test("multi-node refusal", async () => {
    const template = quoted("reject several nodes:");
    for (const cmd of ["health", "bootstrap", "upgrade-k8s"]) {
      const r = await talosctl("-n", "10.9.0.11,10.9.0.12", cmd);
      expect(r.stderr.split("\n")[0]).toBe(template.replace("X", cmd));
    }
  });

  test("per-node error block", async () => {
    cluster.faults.add("unreachable=cp2");
    const r = await talosctl("-n", "10.9.0.12", "version");
    const template = quoted("Per-node errors:").replaceAll("\\n", "\n").replaceAll("\\t", "\t");
    const [head, tail] = template.split("<node>");
    expect(r.stderr.startsWith(head! + "10.9.0.12" + tail!.split("...")[0]!)).toBe(true);
    cluster.faults.clear("unreachable");
  });

  test("bootstrap texts and upgrade quorum refusal", async () => {
    const again = await talosctl("-n", "10.9.0.11", "bootstrap");
    expect(again.stderr).toContain(quoted("on an already bootstrapped cluster:"));
    boot("bootstrapped", { cps: 2 });
    const up = await talosctl("-n", "10.9.0.11", "upgrade", "--image", topology.installerImage);
    expect(up.stderr).toContain(quoted("refuses when it would break etcd quorum (").replace("...", ""));
  });

  test("maintenance mode texts", async () => {
    boot("bare");
    expect((await talosctl("-n", "10.9.0.11", "get", "machinestatus")).stderr).toContain(quoted("needs `--insecure`; without it:", 0));
    expect((await talosctl("-n", "10.9.0.11", "--insecure", "version")).stderr).toContain(quoted("answer"));
  });

  test("version skew warning", async () => {
    boot("bootstrapped", { talosctlVersion: "v1.10.7" });
    const template = quoted("the client warns");
    const r = await talosctl("-n", "10.9.0.11", "version");
    expect(r.stderr.trim()).toBe(template.replace("<node>", "10.9.0.11").replace(" X ", " 1.10.5 ").replace(/ Y$/, " 1.10.7"));
  });

  test("Kubernetes version errors", async () => {
    boot("bootstrapped");
    const tooNew = await talosctl("-n", "10.9.0.11", "upgrade-k8s", "--from", "1.33.0", "--to", "1.34.0");
    const template = quoted("(errors:").replace("X", "1.34.0").replace("too old/new", "too new").replace("Y", "1.10.5");
    expect(tooNew.stderr.trim()).toBe(template);
    const skip = await talosctl("-n", "10.9.0.11", "upgrade-k8s", "--to", "1.33.0");
    expect(skip.stderr).toContain(quoted("allows only the same minor or +1 ("));
  });

  test("machine config validation errors", async () => {
    boot("bare");
    const bad = (keys: string) => `version: v1alpha1
machine:
  type: controlplane
  systemDiskEncryption:
    state:
      provider: luks2
      keys: ${keys}
cluster:
  clusterName: ref
`;
    writeFileSync(path.join(dir, "nokeys.yaml"), bad("[]"));
    writeFileSync(path.join(dir, "dupslot.yaml"), bad("[{slot: 0, nodeID: {}}, {slot: 0, tpm: {}}]"));
    const a = await talosctl("apply-config", "--insecure", "-n", "10.9.0.11", "-f", "nokeys.yaml");
    expect(a.stderr).toContain(quoted("Validation errors:", 0));
    const b = await talosctl("apply-config", "--insecure", "-n", "10.9.0.11", "-f", "dupslot.yaml");
    expect(b.stderr).toContain(quoted("Validation errors:", 1).replace("%d", "0"));
    expect(cluster.machine("cp1")!.stage).toBe("maintenance");
  });
});
