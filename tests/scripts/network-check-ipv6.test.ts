/**
 * network-check-ipv6 as a process against the simulated cluster: the happy path (dual-stack nodes, CIDRs,
 * Services, IPv6 pools advertised over IPv6 sessions), then a node that lost its IPv6 address (InternalIP gone, so
 * its IPv6 BGP session cannot come up), and a dual-stack Service left without an IPv6 IP.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { deployed, runScript, type Deployed } from "../fixtures/frr/sim-harness.ts";
import { until } from "../fixtures/frr/lab.ts";

const fails = (stdout: string) => JSON.parse(stdout).checks.filter((c: any) => c.status === "fail").map((c: any) => `${c.subject} ${c.check}`);

describe("network-check-ipv6 against the simulated cluster", () => {
  let d: Deployed;
  beforeAll(async () => {
    d = await deployed();
  }, 120_000);
  afterAll(async () => {
    await d?.stop();
  });

  test("happy path: exit 0, every node dual-stack, IPv6 routes advertised, router checked with --router-cmd", async () => {
    const r = await runScript(d, "network-check-ipv6", ["--json", "--router-cmd", "vtysh"]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.failed).toBe(0);
    expect(j.checks.filter((c: any) => c.check === "InternalIPs" && c.status === "ok")).toHaveLength(3);
    const adv = j.checks.filter((c: any) => c.check === "IPv6 advertised");
    expect(adv.map((c: any) => c.subject)).toEqual(["mini01 -> udm-pro-v6", "mini02 -> udm-pro-v6", "mini03 -> udm-pro-v6"]);
    expect(adv.every((c: any) => c.status === "ok" && c.detail.includes("2 at the router"))).toBe(true);
    expect(j.checks.find((c: any) => c.check === "IPv6 pools").detail).toContain("bgp-ingress-v6");
    const human = await runScript(d, "network-check-ipv6", ["--skip-talos"]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain("all 11 checks passed");
  }, 60_000);

  test("a dual-stack Service that no IPv6 pool selects gets no IPv6 IP: it fails (and bgp-verify says cause 7)", async () => {
    const pool = { apiVersion: "cilium.io/v2alpha1", kind: "CiliumLoadBalancerIPPool", name: "bgp-default-v6" };
    const original = (await d.client.get(pool)).spec.serviceSelector;
    const svc = { apiVersion: "v1", kind: "Service", namespace: "default", name: "dual-test" };
    await d.client.patch(pool, { spec: { serviceSelector: { matchLabels: { "home-ops.io/never": "x" } } } }, "merge");
    try {
      await d.client.apply({
        ...svc,
        metadata: { name: svc.name, namespace: svc.namespace },
        spec: { type: "LoadBalancer", ipFamilyPolicy: "PreferDualStack", ipFamilies: ["IPv4", "IPv6"], selector: { app: "dual-test" }, ports: [{ port: 80, protocol: "TCP" }] },
      }, { force: true });
      await until("dual-test's IPv4 LB IP", 30_000, async () => {
        const s = await d.client.get(svc);
        return (s.status?.loadBalancer?.ingress ?? []).length > 0 ? true : undefined;
      });
      const r = await runScript(d, "network-check-ipv6", ["--json", "--skip-talos"]);
      expect(r.code).toBe(1);
      expect(fails(r.stdout)).toEqual(["default/dual-test IPv6 LB IP"]);
      const v = await runScript(d, "bgp-verify", ["--json"]);
      expect(v.code).toBe(1);
      const issues = JSON.parse(v.stdout).serviceIssues;
      expect(issues.map((x: any) => [x.service, x.family, x.diagnosis.cause])).toEqual([["default/dual-test", "ipv6", 7]]);
      expect(issues[0].diagnosis.message).toContain("no ipv6 pool selects LoadBalancer Service default/dual-test");
    } finally {
      await d.client.delete(svc, { ignoreNotFound: true });
      await d.client.patch(pool, { spec: { serviceSelector: original } }, "merge");
    }
  }, 90_000);

  // last: the node stays without IPv6
  test("a node without IPv6: its InternalIP and its IPv6 session fail, exit 1", async () => {
    const node = await d.client.get({ apiVersion: "v1", kind: "Node", name: "mini02" });
    const addresses = node.status.addresses.filter((a: any) => !(a.type === "InternalIP" && a.address.includes(":")));
    await d.client.patch({ apiVersion: "v1", kind: "Node", name: "mini02" }, { status: { addresses } }, "merge", { subresource: "status" });
    await until("mini02's IPv6 session down", 30_000, async () => {
      const nc = await d.client.tryGet({ apiVersion: "cilium.io/v2alpha1", kind: "CiliumBGPNodeConfig", name: "mini02" });
      const v6 = (nc?.status?.bgpInstances?.[0]?.peers ?? []).find((p: any) => p.name === "udm-pro-v6");
      return v6 && v6.peeringState !== "established" ? true : undefined;
    });
    const r = await runScript(d, "network-check-ipv6", ["--json", "--skip-talos"]);
    expect(r.code).toBe(1);
    expect(fails(r.stdout)).toEqual(["mini02 InternalIPs", "mini02 -> udm-pro-v6 IPv6 advertised"]);
    const j = JSON.parse(r.stdout);
    expect(j.checks.find((c: any) => c.subject === "mini02" && c.check === "InternalIPs").detail).toBe("172.29.51.12, no IPv6");
  }, 60_000);

  test("bad input: an unknown flag is exit 2", async () => {
    const r = await runScript(d, "network-check-ipv6", ["--router"]);
    expect(r.code).toBe(2);
  }, 30_000);
});
