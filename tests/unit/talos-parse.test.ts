import { describe, expect, test } from "bun:test";
import {
  parseBytes,
  parseEtcdMembers,
  parseEtcdStatus,
  parseExtensions,
  parseGencommand,
  parseGenconfig,
  parseHealth,
  parseJsonStream,
  parseMachineStatus,
  parseMembers,
  parseSnapshotOutput,
  parseApplyOutput,
  parseVersionOutput,
  splitShellWords,
  TalosParseError,
} from "../../lib/talos/parse.ts";
import { classifyTalosError, parseNodeErrors, talosErrorSummary } from "../../lib/talos/errors.ts";

// Samples as talosctl 1.10 prints them (tabwriter-aligned tables; JSON streams of indented objects).
const ETCD_MEMBERS = `NODE         ID                 HOSTNAME   PEER URLS                  CLIENT URLS                LEARNER
10.0.0.11    2c6ba5ad43f18d4c   cp-1       https://10.0.0.11:2380     https://10.0.0.11:2379     false
10.0.0.11    8d2a1a04a02e7c2b   cp-2       https://10.0.0.12:2380     https://10.0.0.12:2379     false
10.0.0.11    fd6a3c1b9e0f2a11   cp-3       https://10.0.0.13:2380     https://10.0.0.13:2379     true
`;

const ETCD_STATUS = `NODE         MEMBER             DB SIZE   IN USE            LEADER             RAFT INDEX   RAFT TERM   RAFT APPLIED INDEX   LEARNER   ERRORS
10.0.0.11    2c6ba5ad43f18d4c   7.9 MB    2.6 MB (33.08%)   2c6ba5ad43f18d4c   40721        2           40721                false
10.0.0.12    8d2a1a04a02e7c2b   7.9 MB    2.6 MB (33.12%)   2c6ba5ad43f18d4c   40721        2           40721                false
10.0.0.13    fd6a3c1b9e0f2a11   12 kB     4.1 kB (34.00%)   2c6ba5ad43f18d4c   40720        2           40720                false     etcdserver: no leader, alarm: NOSPACE
`;

const MEMBERS = `NODE        NAMESPACE   TYPE     ID     VERSION   HOSTNAME   MACHINE TYPE   OS                ADDRESSES
10.0.0.11   cluster     Member   cp-1   2         cp-1       controlplane   Talos (v1.10.5)   ["10.0.0.11","fd00::11"]
10.0.0.11   cluster     Member   w-1    1         w-1        worker         Talos (v1.10.4)   ["10.0.0.21"]
`;

const MACHINESTATUS = `{
    "node": "10.0.0.11",
    "metadata": {
        "namespace": "runtime",
        "type": "MachineStatuses.runtime.talos.dev",
        "id": "machine",
        "version": 5,
        "owner": "runtime.MachineStatusController",
        "phase": "running"
    },
    "spec": {
        "stage": "running",
        "status": {
            "ready": false,
            "unmetConditions": [
                {
                    "name": "staticPods",
                    "reason": "static pods \\"kube-apiserver\\" not ready {x}"
                }
            ]
        }
    }
}
{
    "node": "10.0.0.12",
    "metadata": {"id": "machine"},
    "spec": {"stage": "maintenance", "status": {"ready": true, "unmetConditions": []}}
}
`;

describe("parseJsonStream", () => {
  test("splits a stream of indented objects, braces inside strings included", () => {
    const objs = parseJsonStream(MACHINESTATUS);
    expect(objs.length).toBe(2);
    expect(objs[1]!.node).toBe("10.0.0.12");
  });
  test("empty output is no objects", () => {
    expect(parseJsonStream("")).toEqual([]);
  });
  test("a cut-off stream is an error", () => {
    expect(() => parseJsonStream('{"node": "a", "spec": {')).toThrow(TalosParseError);
  });
});

describe("etcd tables", () => {
  test("members: columns with spaces in the header, learner flag", () => {
    const m = parseEtcdMembers(ETCD_MEMBERS);
    expect(m.length).toBe(3);
    expect(m[0]).toEqual({
      node: "10.0.0.11",
      id: "2c6ba5ad43f18d4c",
      hostname: "cp-1",
      peerUrls: ["https://10.0.0.11:2380"],
      clientUrls: ["https://10.0.0.11:2379"],
      learner: false,
    });
    expect(m[2]!.learner).toBe(true);
  });
  test("status: sizes with spaces, percentages, errors list", () => {
    const s = parseEtcdStatus(ETCD_STATUS);
    expect(s.length).toBe(3);
    expect(s[0]!.dbSize).toBe(7_900_000);
    expect(s[0]!.inUse).toBe(2_600_000);
    expect(s[0]!.leader).toBe("2c6ba5ad43f18d4c");
    expect(s[0]!.raftAppliedIndex).toBe(40721);
    expect(s[0]!.errors).toEqual([]);
    expect(s[2]!.dbSize).toBe(12_000);
    expect(s[2]!.errors).toEqual(["etcdserver: no leader", "alarm: NOSPACE"]);
  });
  test("a warning line before the table is skipped", () => {
    const s = parseEtcdStatus("WARNING: 10.0.0.11: server version 1.10.4 is older than client version 1.10.5\n" + ETCD_STATUS);
    expect(s.length).toBe(3);
  });
  test("output without the header is a parse error", () => {
    expect(() => parseEtcdMembers("error: nope")).toThrow(/no table header/);
  });
  test("a garbled learner column is a parse error", () => {
    expect(() => parseEtcdMembers(ETCD_MEMBERS.replace("true", "maybe"))).toThrow(/LEARNER/);
  });
  test("snapshot: both lines required", () => {
    const text = `etcd snapshot saved to "backups/etcd-20260101T000000Z.snapshot" (4202528 bytes)\nsnapshot info: hash 1a2b3c4d, revision 31337, total keys 1204, total size 4202528\n`;
    expect(parseSnapshotOutput(text)).toEqual({
      path: "backups/etcd-20260101T000000Z.snapshot",
      bytes: 4202528,
      hash: "1a2b3c4d",
      revision: 31337,
      totalKeys: 1204,
      totalSize: 4202528,
    });
    expect(parseSnapshotOutput(text.split("\n")[0]!)).toBeNull();
    expect(parseSnapshotOutput("snapshot info: hash 1a2b3c4d, revision 1, total keys 1, total size 1")).toBeNull();
  });
});

describe("resources", () => {
  test("get members: OS with spaces and version, JSON address list", () => {
    const m = parseMembers(MEMBERS);
    expect(m[0]).toMatchObject({ hostname: "cp-1", machineType: "controlplane", talosVersion: "v1.10.5", addresses: ["10.0.0.11", "fd00::11"] });
    expect(m[1]).toMatchObject({ hostname: "w-1", machineType: "worker", talosVersion: "v1.10.4" });
  });
  test("machinestatus: stage, ready, unmet conditions", () => {
    const s = parseMachineStatus(MACHINESTATUS);
    expect(s[0]).toEqual({
      node: "10.0.0.11",
      stage: "running",
      ready: false,
      unmetConditions: [{ name: "staticPods", reason: 'static pods "kube-apiserver" not ready {x}' }],
    });
    expect(s[1]!.stage).toBe("maintenance");
  });
  test("extensions", () => {
    const text = `{
    "node": "10.0.0.11",
    "metadata": {"namespace": "runtime", "type": "ExtensionStatuses.runtime.talos.dev", "id": "0"},
    "spec": {
        "image": "iscsi-tools.sqsh",
        "metadata": {"name": "iscsi-tools", "version": "v0.2.0", "author": "Sidero Labs", "description": "iSCSI"}
    }
}
{
    "node": "10.0.0.11",
    "metadata": {"id": "1"},
    "spec": {"image": "", "metadata": {"name": "schematic", "version": "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"}}
}`;
    const e = parseExtensions(text);
    expect(e.map((x) => x.name)).toEqual(["iscsi-tools", "schematic"]);
    expect(e[0]!.version).toBe("v0.2.0");
  });
  test("version: server tags per node", () => {
    const text = `Client:\n\tTag:         v1.10.5\n\tSHA:         abc\nServer:\n\tNODE:        10.0.0.11\n\tTag:         v1.10.5\n\tSHA:         abc\nServer:\n\tNODE:        10.0.0.12\n\tTag:         v1.10.4\n`;
    expect(parseVersionOutput(text)).toEqual({
      client: "v1.10.5",
      servers: [
        { node: "10.0.0.11", tag: "v1.10.5" },
        { node: "10.0.0.12", tag: "v1.10.4" },
      ],
    });
  });
});

describe("health", () => {
  test("all OK", () => {
    const text = `discovered nodes: ["10.0.0.11" "10.0.0.12"]\nwaiting for etcd to be healthy: ...\nwaiting for etcd to be healthy: OK\nwaiting for all k8s nodes to report ready: OK\nwaiting for kube-proxy to report ready: SKIP\n`;
    const h = parseHealth(text);
    expect(h.ok).toBe(true);
    expect(h.discovered).toEqual(["10.0.0.11", "10.0.0.12"]);
    expect(h.checks.length).toBe(3);
  });
  test("failure", () => {
    const text = `discovered nodes: ["10.0.0.11"]\nwaiting for etcd to be healthy: 1 error occurred:\nhealthcheck error: rpc error: code = DeadlineExceeded desc = context deadline exceeded\n`;
    const h = parseHealth(text);
    expect(h.ok).toBe(false);
    expect(h.error).toContain("DeadlineExceeded");
  });
});

describe("apply and talhelper", () => {
  test("apply-config messages", () => {
    expect(parseApplyOutput("Applied configuration without a reboot\n")).toBe("applied-no-reboot");
    expect(parseApplyOutput("Applied configuration with a reboot\n")).toBe("applied-with-reboot");
    expect(parseApplyOutput("")).toBe("applied");
  });
  test("genconfig lines", () => {
    const text = "generated config for cp-1 in ./clusterconfig/home-cp-1.yaml\ngenerated config for w-1 in ./clusterconfig/home-w-1.yaml\n";
    expect(parseGenconfig(text)).toEqual([
      { host: "cp-1", file: "./clusterconfig/home-cp-1.yaml" },
      { host: "w-1", file: "./clusterconfig/home-w-1.yaml" },
    ]);
  });
  test("gencommand lines become argv", () => {
    const text = "talosctl apply-config --talosconfig=./clusterconfig/talosconfig --nodes=10.0.0.11 --file=./clusterconfig/home-cp-1.yaml;\n";
    expect(parseGencommand(text)).toEqual([
      ["talosctl", "apply-config", "--talosconfig=./clusterconfig/talosconfig", "--nodes=10.0.0.11", "--file=./clusterconfig/home-cp-1.yaml"],
    ]);
    expect(splitShellWords(`a 'b c' "d" ''`)).toEqual(["a", "b c", "d", ""]);
  });
  test("sizes", () => {
    expect(parseBytes("512 B")).toBe(512);
    expect(parseBytes("1.5 MiB")).toBe(1572864);
    expect(() => parseBytes("lots")).toThrow();
  });
});

describe("errors", () => {
  const multi = "1 error occurred:\n\t* 10.0.0.12: rpc error: code = Unavailable desc = connection error: desc = \"transport: Error while dialing: dial tcp 10.0.0.12:50000: connect: connection refused\"\n\n";
  test("per-node error block", () => {
    const errs = parseNodeErrors(multi);
    expect(errs).toEqual([
      {
        node: "10.0.0.12",
        code: "Unavailable",
        message: 'rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp 10.0.0.12:50000: connect: connection refused"',
      },
    ]);
    expect(classifyTalosError(multi)).toBe("unreachable");
    expect(talosErrorSummary(multi)).toStartWith("10.0.0.12: connection error");
  });
  test.each([
    ["error executing bootstrap: 1 error occurred:\n\t* 10.0.0.11: rpc error: code = AlreadyExists desc = etcd data directory is not empty", "already-exists"],
    ["1 error occurred:\n\t* 10.0.0.11: rpc error: code = FailedPrecondition desc = bootstrap is not available yet", "not-available-yet"],
    ["1 error occurred:\n\t* 10.0.0.11: rpc error: code = FailedPrecondition desc = time is not in sync yet", "time-not-in-sync"],
    ["error: rpc error: code = Unavailable desc = connection error: desc = \"transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority\"", "maintenance-needs-insecure"],
    ["1 error occurred:\n\t* 10.0.0.11: rpc error: code = Unimplemented desc = API is not implemented in maintenance mode", "not-implemented-in-maintenance"],
    ['command "health" is not supported with multiple nodes', "multiple-nodes"],
    ["1 error occurred:\n\t* 10.0.0.11: rpc error: code = Unknown desc = etcd member count(2) is insufficient to maintain quorum if upgrade commences", "quorum"],
    ["error: something else entirely", "other"],
  ])("classifies %#", (text, kind) => {
    expect(classifyTalosError(text)).toBe(kind as ReturnType<typeof classifyTalosError>);
  });
});
