import { describe, expect, test } from "bun:test";
import { canRemoveMembers, canTakeDownTemporarily, faultTolerance, quorumSize } from "../../lib/safety/quorum.ts";
import { etcdGate, longhornGate, nodesGate, waitForGates, type EtcdView, type GateNode } from "../../lib/safety/gates.ts";
import { rollingOrder, runRolling } from "../../lib/safety/rolling.ts";
import type { EtcdMemberStatus } from "../../lib/talos/parse.ts";
import type { Talosctl } from "../../lib/talos/talosctl.ts";

describe("quorum math", () => {
  test.each([
    [1, 1, 0],
    [2, 2, 0],
    [3, 2, 1],
    [4, 3, 1],
    [5, 3, 2],
    [7, 4, 3],
  ])("%i members: quorum %i, tolerate %i", (n, q, t) => {
    expect(quorumSize(n)).toBe(q);
    expect(faultTolerance(n)).toBe(t);
  });
  test("taking one down temporarily", () => {
    expect(canTakeDownTemporarily(3, 3).ok).toBe(true);
    expect(canTakeDownTemporarily(3, 2).ok).toBe(false);
    expect(canTakeDownTemporarily(5, 4).ok).toBe(true);
    expect(canTakeDownTemporarily(5, 3).ok).toBe(false);
    expect(canTakeDownTemporarily(2, 2).ok).toBe(false);
    const single = canTakeDownTemporarily(1, 1);
    expect(single.ok).toBe(true);
    expect(single.outage).toBe(true);
  });
  test("removing members for good", () => {
    expect(canRemoveMembers(3, 3, 1).ok).toBe(true);
    expect(canRemoveMembers(1, 1, 1).ok).toBe(false);
    expect(canRemoveMembers(3, 3, 3).ok).toBe(false);
    expect(canRemoveMembers(3, 1, 1, 0).ok).toBe(false); // quorum already lost
    expect(canRemoveMembers(5, 4, 1, 1).ok).toBe(true); // 4 left, 3 healthy, quorum 3
    expect(canRemoveMembers(3, 2, 1, 1).ok).toBe(false); // 2 left, 1 healthy, quorum 2
    expect(canRemoveMembers(3, 2, 1, 0).ok).toBe(true); // removing the broken one: 2 left, both healthy
  });
  test("bad counts are errors", () => {
    expect(() => quorumSize(-1)).toThrow();
    expect(() => quorumSize(1.5)).toThrow();
  });
});

const cps: GateNode[] = [
  { hostname: "cp-1", ip: "10.0.0.11", controlPlane: true },
  { hostname: "cp-2", ip: "10.0.0.12", controlPlane: true },
  { hostname: "cp-3", ip: "10.0.0.13", controlPlane: true },
];
const workers: GateNode[] = [{ hostname: "w-1", ip: "10.0.0.21", controlPlane: false }];

function status(node: string, over: Partial<EtcdMemberStatus> = {}): EtcdMemberStatus {
  return {
    node,
    memberId: node,
    dbSize: 1,
    dbSizeText: "1 B",
    inUse: 1,
    inUseText: "1 B",
    leader: "aaaa",
    raftIndex: 1,
    raftTerm: 1,
    raftAppliedIndex: 1,
    learner: false,
    errors: [],
    ...over,
  };
}
function view(over: Partial<EtcdView> = {}): EtcdView {
  return {
    members: cps.map((c) => ({ node: "10.0.0.11", id: c.hostname, hostname: c.hostname, peerUrls: [], clientUrls: [], learner: false })),
    status: cps.map((c) => status(c.ip)),
    unreachable: [],
    ...over,
  };
}

describe("etcd gate", () => {
  test("all voting and healthy", () => {
    const { check, healthyVoters } = etcdGate(cps, view());
    expect(check.ok).toBe(true);
    expect(healthyVoters).toBe(3);
  });
  test("a learner blocks", () => {
    const v = view();
    v.members[1]!.learner = true;
    expect(etcdGate(cps, v).check.problems).toContain("cp-2 is still a learner (not voting)");
  });
  test("a missing member blocks", () => {
    const v = view();
    v.members.pop();
    expect(etcdGate(cps, v).check.ok).toBe(false);
  });
  test("an unreachable control plane blocks and lowers healthy voters", () => {
    const v = view({ status: [status("10.0.0.11"), status("10.0.0.12")], unreachable: [{ node: "cp-3", error: "connection refused" }] });
    const g = etcdGate(cps, v);
    expect(g.check.ok).toBe(false);
    expect(g.healthyVoters).toBe(2);
    expect(g.check.detail).toContain("2 of 3 members healthy (quorum 2)");
  });
  test("errors and split leaders block", () => {
    expect(etcdGate(cps, view({ status: [status("a"), status("b", { errors: ["alarm: NOSPACE"] }), status("c")] })).check.ok).toBe(false);
    expect(etcdGate(cps, view({ status: [status("a"), status("b", { leader: "bbbb" }), status("c")] })).check.ok).toBe(false);
  });
  test("a stray member blocks", () => {
    const v = view();
    v.members.push({ node: "x", id: "dead", hostname: "old-cp", peerUrls: [], clientUrls: [], learner: false });
    expect(etcdGate(cps, v).check.problems.join()).toContain("old-cp");
  });
});

describe("nodes and longhorn gates", () => {
  const kn = (name: string, ready: boolean) => ({ name, ready, roles: [], internalIPs: [], unschedulable: false });
  test("NotReady is not Ready", () => {
    const g = nodesGate([...cps, ...workers], [kn("cp-1", true), kn("cp-2", true), kn("cp-3", true), kn("w-1", false)]);
    expect(g.ok).toBe(false);
    expect(g.detail).toContain("3 of 4 nodes Ready");
  });
  test("a missing node blocks, all ready passes", () => {
    expect(nodesGate(cps, [kn("cp-1", true), kn("cp-2", true)]).ok).toBe(false);
    expect(nodesGate(cps, cps.map((c) => kn(c.hostname, true))).ok).toBe(true);
    expect(nodesGate(cps, new Error("connection refused")).ok).toBe(false);
  });
  test("longhorn volumes", () => {
    expect(longhornGate(null).ok).toBe(true);
    expect(longhornGate([{ name: "pvc-1", state: "attached", robustness: "healthy" }]).ok).toBe(true);
    expect(longhornGate([{ name: "pvc-2", state: "detached", robustness: "unknown" }]).ok).toBe(true);
    const d = longhornGate([{ name: "pvc-3", state: "attached", robustness: "degraded" }]);
    expect(d.ok).toBe(false);
    expect(d.detail).toContain("pvc-3 is degraded");
    expect(longhornGate([{ name: "pvc-4", state: "attached", robustness: "unknown" }]).ok).toBe(false);
  });
});

describe("rolling", () => {
  test("control planes first", () => {
    expect(rollingOrder([workers[0]!, ...cps]).map((n) => n.hostname)).toEqual(["cp-1", "cp-2", "cp-3", "w-1"]);
  });

  test("a lost maintenance lock stops the run before the next node is touched (the guard runs before each change)", async () => {
    const members = cps.map((c) => ({ node: c.ip, id: c.hostname, hostname: c.hostname, peerUrls: [], clientUrls: [], learner: false }));
    const talos = {
      etcdStatus: async (nodes: string[]) => nodes.map((n) => status(n)),
      etcdMembers: async () => members,
    } as unknown as Talosctl;
    const ready = cps.map((c) => ({ name: c.hostname, ready: true, roles: [], internalIPs: [], unschedulable: false }));
    const kube = {
      nodes: async () => ready,
      longhornVolumes: async () => null,
      waitNodesReady: async () => {},
      waitVolumesHealthy: async () => {},
    };
    const changed: string[] = [];
    let checks = 0;
    const result = await runRolling({
      targets: cps,
      gates: { talos, kube, nodes: cps },
      gateTimeoutMs: 5_000,
      action: async (n) => {
        changed.push(n.hostname);
      },
      waitBack: async () => "back",
      // the lock is taken over by someone else after the first node's change
      guard: async () => {
        checks++;
        if (changed.length >= 1) throw new Error("lost the maintenance lease: it is now held by someone else");
      },
    });
    expect(changed).toEqual(["cp-1"]);
    expect(result.ok).toBe(false);
    expect(result.stopped?.node).toBe("cp-2");
    expect(result.stopped?.message).toContain("lost the maintenance lease");
    expect(result.nodes.map((n) => n.result)).toEqual(["done", "not-started", "not-started"]);
    expect(checks).toBe(3); // before cp-1's gates, before cp-1's change, before cp-2's gates
  });
});

describe("waitForGates", () => {
  const members = cps.map((c) => ({ node: c.ip, id: c.hostname, hostname: c.hostname, peerUrls: [], clientUrls: [], learner: false }));
  function fakeTalos(healthyAfter: number) {
    let calls = 0;
    return {
      calls: () => calls,
      talos: {
        async etcdStatus(nodes: string[]) {
          calls++;
          return nodes.map((n) => status(n, calls > healthyAfter ? {} : { errors: ["etcdserver: no leader"] }));
        },
        async etcdMembers() {
          return members;
        },
      } as unknown as Talosctl,
    };
  }
  const ready = cps.map((c) => ({ name: c.hostname, ready: true, roles: [], internalIPs: [], unschedulable: false }));

  test("watches Nodes and volumes (no polling of Kubernetes), polls etcd until healthy", async () => {
    const t = fakeTalos(3);
    const waited: string[] = [];
    let lists = 0;
    const report = await waitForGates(
      {
        talos: t.talos,
        nodes: cps,
        kube: {
          async nodes() {
            lists++;
            return ready;
          },
          async longhornVolumes() {
            return [{ name: "v", state: "attached", robustness: "healthy" }];
          },
          async waitNodesReady(names) {
            waited.push(`nodes:${names.join(",")}`);
          },
          async waitVolumesHealthy() {
            waited.push("volumes");
          },
        },
      },
      { timeoutMs: 10_000 },
    );
    expect(report.ok).toBe(true);
    expect(waited).toEqual(["nodes:cp-1,cp-2,cp-3", "volumes"]);
    expect(lists).toBe(1); // only the final confirmation read
    expect(t.calls()).toBeGreaterThan(3);
  });

  test("a watch that times out stops the wait with its reason", async () => {
    const t = fakeTalos(0);
    await expect(
      waitForGates(
        {
          talos: t.talos,
          nodes: cps,
          kube: {
            nodes: async () => ready,
            longhornVolumes: async () => [{ name: "v", state: "attached", robustness: "degraded" }],
            waitNodesReady: async () => {},
            waitVolumesHealthy: async () => {
              throw new Error("timed out after 1s waiting for every Longhorn volume healthy: volume v is degraded (attached)");
            },
          },
        },
        { timeoutMs: 1000 },
      ),
    ).rejects.toThrow(/volume v is degraded/);
  });

  test("without watch support it polls every gate", async () => {
    const t = fakeTalos(0);
    let n = 0;
    const report = await waitForGates(
      { talos: t.talos, nodes: cps, kube: { nodes: async () => (++n > 2 ? ready : ready.map((r, i) => ({ ...r, ready: i > 0 }))), longhornVolumes: async () => null } },
      { timeoutMs: 10_000 },
    );
    expect(report.ok).toBe(true);
    expect(n).toBe(3);
  });
});
