import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import path from "node:path";
import {
  canonicalPrefix,
  FrrParseError,
  parseAsn,
  parseBgpRoutes,
  parseBgpSummary,
  parseReceivedRoutes,
  routesByPeer,
  summaryPeers,
} from "../../lib/bgp/frr.ts";

const fx = (p: string) => readFileSync(path.join(import.meta.dir, "../fixtures/frr", p), "utf8");

describe("parseBgpSummary on FRR 8.4 (real output)", () => {
  test("wrapped summary with an established dynamic peer in both families", () => {
    const s = parseBgpSummary(fx("8.4/summary-established.json"));
    expect(s.routerId).toBe("127.0.0.2");
    expect(s.as).toBe(64513);
    expect(s.families.map((f) => f.afi)).toEqual(["ipv4", "ipv6"]);
    const [p] = summaryPeers(s, "ipv4");
    expect(p).toMatchObject({
      address: "127.0.0.3",
      afi: "ipv4",
      remoteAs: 64512,
      localAs: 64513,
      state: "Established",
      established: true,
      peerState: "OK",
      policyBlocked: false,
      dynamic: true,
      prefixesReceived: 2,
      prefixesSent: 0,
    });
    expect(summaryPeers(s)).toHaveLength(2);
  });

  test("unwrapped single-family summary needs its family", () => {
    const s = parseBgpSummary(fx("8.4/summary-ipv4-unwrapped.json"), { afi: "ipv4" });
    expect(s.families).toHaveLength(1);
    expect(summaryPeers(s)[0]!.address).toBe("127.0.0.3");
    expect(() => parseBgpSummary(fx("8.4/summary-ipv4-unwrapped.json"))).toThrow(FrrParseError);
  });

  test("a peer without inbound policy is in the Policy state", () => {
    const s = parseBgpSummary(fx("8.4/summary-policy.json"));
    for (const p of summaryPeers(s)) {
      expect(p.established).toBe(true);
      expect(p.peerState).toBe("Policy");
      expect(p.policyBlocked).toBe(true);
      expect(p.prefixesReceived).toBe(0);
    }
  });

  test("down and admin-down neighbors", () => {
    const peers = summaryPeers(parseBgpSummary(fx("8.4/summary-down.json")), "ipv4");
    expect(peers.map((p) => [p.address, p.state, p.established, p.peerState])).toEqual([
      ["127.0.0.3", "Active", false, "Policy"],
      ["127.0.0.4", "Idle (Admin)", false, "Admin"],
    ]);
    expect(peers[0]!.dynamic).toBe(false);
  });

  test("no peers at all is an empty object", () => {
    const s = parseBgpSummary(fx("8.4/summary-no-peers.json"));
    expect(s.families).toEqual([]);
    expect(summaryPeers(s)).toEqual([]);
  });
});

describe("parseBgpSummary on FRR 10.x field differences", () => {
  const s = parseBgpSummary(fx("10.x/summary.json"));
  test("asdot AS numbers as strings", () => {
    expect(s.as).toBe(64513);
    const p = summaryPeers(s, "ipv4").find((x) => x.address === "192.168.10.11")!;
    expect(p.remoteAs).toBe(64512);
    expect(p.localAs).toBe(64513);
    expect(p.description).toBe("Cilium nodes");
  });
  test("non-unicast families are ignored, ipv6 peers kept", () => {
    expect(s.families.map((f) => f.afi)).toEqual(["ipv4", "ipv6"]);
    expect(summaryPeers(s, "ipv6").map((p) => p.address)).toEqual(["fd00:10::11"]);
  });
  test("a peer that never came up has no pfxRcd", () => {
    const p = summaryPeers(s, "ipv4").find((x) => x.address === "192.168.10.13")!;
    expect(p.established).toBe(false);
    expect(p.prefixesReceived).toBeUndefined();
    expect(p.prefixesSent).toBe(0);
  });
  test("policy state per peer", () => {
    expect(summaryPeers(s, "ipv4").filter((p) => p.policyBlocked).map((p) => p.address)).toEqual(["192.168.10.12"]);
  });
  test("the family filter keeps one family", () => {
    expect(parseBgpSummary(fx("10.x/summary.json"), { afi: "ipv6" }).families.map((f) => f.afi)).toEqual(["ipv6"]);
  });
});

describe("parseBgpRoutes", () => {
  test("FRR 8.4 ipv4 table (real output): routes, peer, next hop, no totals", () => {
    const t = parseBgpRoutes(fx("8.4/ipv4-unicast.json"), "ipv4");
    expect(t.routerId).toBe("127.0.0.2");
    expect(t.localAs).toBe(64513);
    expect(t.totalRoutes).toBeUndefined();
    expect(t.routes.map((r) => r.prefix).sort()).toEqual(["172.29.52.200/32", "172.29.52.201/32"]);
    const path0 = t.routes[0]!.paths[0]!;
    expect(path0).toMatchObject({ peerId: "127.0.0.3", valid: true, best: true, asPath: "64512", origin: "IGP", from: "external" });
    expect(path0.nexthops).toEqual(["127.0.0.3"]);
  });
  test("FRR 8.4 ipv6 table over an IPv4 session: IPv4-mapped next hop", () => {
    const t = parseBgpRoutes(fx("8.4/ipv6-unicast.json"), "ipv6");
    expect(t.routes[0]!.prefix).toBe("fd00:52::10/128");
    expect(t.routes[0]!.paths[0]!.nexthops).toEqual(["::ffff:7f00:3"]);
  });
  test("FRR 8.4 empty table", () => {
    expect(parseBgpRoutes(fx("8.4/ipv4-unicast-empty.json"), "ipv4").routes).toEqual([]);
  });
  test("FRR 10.x: totalRoutes/totalPaths and multipath", () => {
    const t = parseBgpRoutes(fx("10.x/ipv4-unicast.json"), "ipv4");
    expect(t.totalRoutes).toBe(2);
    expect(t.totalPaths).toBe(3);
    const r = t.routes.find((x) => x.prefix === "172.29.52.200/32")!;
    expect(r.paths.map((p) => [p.peerId, p.best, p.multipath])).toEqual([
      ["192.168.10.12", false, true],
      ["192.168.10.11", true, false],
    ]);
    const by = routesByPeer(t);
    expect([...by.get("192.168.10.11")!].sort()).toEqual(["172.29.52.200/32", "172.29.52.201/32"]);
    expect([...by.get("192.168.10.12")!]).toEqual(["172.29.52.200/32"]);
  });
  test("FRR 10.x detail shape: paths object, aspath.string, bestpath.overall, peer.peerId", () => {
    const t = parseBgpRoutes(fx("10.x/ipv4-unicast-detail.json"), "ipv4");
    expect(t.localAs).toBe(64513);
    expect(t.routes[0]!.paths[0]).toMatchObject({ peerId: "192.168.10.11", best: true, asPath: "64512", from: "external" });
  });
  test("FRR 10.x ipv6 with a link-local next hop", () => {
    const t = parseBgpRoutes(fx("10.x/ipv6-unicast.json"), "ipv6");
    expect(t.routes[0]!.paths[0]!.nexthops).toEqual(["fd00:10::11", "fe80::2c7d:9eff:fecb:65ab"]);
    expect(routesByPeer(t).get("fd00:10::11")!.has("fd00:52::10/128")).toBe(true);
  });
  test("held prefixes are compared in canonical form", () => {
    const t = parseBgpRoutes({ routes: { "FD52:0::0/128": [{ valid: true, peerId: "fd00::1" }] } }, "ipv6");
    expect([...routesByPeer(t).get("fd00::1")!]).toEqual(["fd52::/128"]);
    expect(canonicalPrefix("fd52:0:0::10/128")).toBe("fd52::10/128");
    expect(canonicalPrefix("not-a-prefix")).toBe("not-a-prefix");
  });
  test("invalid paths do not count as held", () => {
    const t = parseBgpRoutes({ routes: { "10.0.0.1/32": [{ valid: false, peerId: "10.1.1.1" }] } }, "ipv4");
    expect(routesByPeer(t).size).toBe(0);
  });
});

describe("parseReceivedRoutes", () => {
  test("FRR 8.4 with soft-reconfiguration: what the node sent, filtered count", () => {
    const r = parseReceivedRoutes(fx("8.4/ipv4-received-routes.json"));
    expect(r.available).toBe(true);
    expect(r.prefixes.map((p) => p.prefix).sort()).toEqual(["10.99.0.1/32", "172.29.52.200/32", "172.29.52.201/32"]);
    expect(r.filtered).toBe(1);
    expect(r.total).toBe(3);
  });
  test("without soft-reconfiguration FRR answers with a warning", () => {
    const r = parseReceivedRoutes(fx("10.x/received-routes-no-softreconfig.json"));
    expect(r.available).toBe(false);
    expect(r.warning).toContain("soft reconfiguration");
  });
});

describe("bad input", () => {
  test("not JSON: a clear error naming what was read", () => {
    expect(() => parseBgpSummary("% BGP instance not found")).toThrow(/BGP summary.*not JSON.*BGP instance not found/);
    expect(() => parseBgpRoutes("", "ipv4")).toThrow(/empty/);
    expect(() => parseBgpRoutes("[1]", "ipv6")).toThrow(FrrParseError);
  });
  test("a vtysh warning object is an error for summaries and tables", () => {
    expect(() => parseBgpSummary('{"warning":"No such neighbor in this view/vrf"}')).toThrow(/No such neighbor/);
  });
  test("peers of the wrong type", () => {
    expect(() => parseBgpSummary({ ipv4Unicast: { routerId: "1.1.1.1", peers: [] } })).toThrow(/peers/);
  });
  test("parseAsn", () => {
    expect(parseAsn(64512)).toBe(64512);
    expect(parseAsn("64512")).toBe(64512);
    expect(parseAsn("1.10")).toBe(65546);
    expect(parseAsn("0.64512")).toBe(64512);
    expect(parseAsn("1.70000")).toBeUndefined();
    expect(parseAsn("x")).toBeUndefined();
    expect(parseAsn(-1)).toBeUndefined();
  });
});
