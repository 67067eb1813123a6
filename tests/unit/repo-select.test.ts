import { describe, expect, test } from "bun:test";
import {
  advertisesService,
  ciliumServiceLabels,
  isLoadBalancerService,
  matchesSelector,
  poolContaining,
  poolFamilies,
  poolsForService,
  schematicId,
  schematicYaml,
  serviceFamilies,
  type BgpAdvertisement,
  type Pool,
  type Service,
} from "../../lib/repo/index.ts";
import { poolFamilies as lbPoolFamilies, serviceFamilies as lbServiceFamilies } from "../../lib/bgp/lbipam.ts";

const src = { file: "x.yaml", line: 1 };
const svc = (over: Partial<Service> = {}): Service => ({
  name: "web",
  namespace: "apps",
  origin: "manifest",
  type: "LoadBalancer",
  labels: {},
  annotations: {},
  ipFamilies: [],
  requestedIPs: [],
  source: src,
  ...over,
});
const pool = (name: string, blocks: Pool["blocks"], serviceSelector?: Pool["serviceSelector"], disabled = false): Pool => ({
  name,
  apiVersion: "cilium.io/v2alpha1",
  blocks,
  serviceSelector,
  disabled,
  source: src,
});

describe("matchesSelector", () => {
  const labels = { app: "web", tier: "edge" };
  test("matchLabels and every operator", () => {
    expect(matchesSelector(labels, { matchLabels: { app: "web" } })).toBe(true);
    expect(matchesSelector(labels, { matchLabels: { app: "db" } })).toBe(false);
    expect(matchesSelector(labels, { matchExpressions: [{ key: "tier", operator: "In", values: ["edge", "core"] }] })).toBe(true);
    expect(matchesSelector(labels, { matchExpressions: [{ key: "tier", operator: "In", values: ["core"] }] })).toBe(false);
    expect(matchesSelector(labels, { matchExpressions: [{ key: "x", operator: "NotIn", values: ["never-used-value"] }] })).toBe(true);
    expect(matchesSelector(labels, { matchExpressions: [{ key: "tier", operator: "NotIn", values: ["edge"] }] })).toBe(false);
    expect(matchesSelector(labels, { matchExpressions: [{ key: "app", operator: "Exists" }] })).toBe(true);
    expect(matchesSelector(labels, { matchExpressions: [{ key: "app", operator: "DoesNotExist" }] })).toBe(false);
    expect(matchesSelector(labels, { matchExpressions: [{ key: "app", operator: "Bogus" }] })).toBe(false);
  });
  test("empty selector matches all; nil means what the caller says; NotIn with no values is invalid", () => {
    expect(matchesSelector({}, {})).toBe(true);
    expect(matchesSelector(labels, undefined)).toBe(false);
    expect(matchesSelector(labels, undefined, true)).toBe(true);
    expect(matchesSelector(labels, { matchExpressions: [{ key: "x", operator: "NotIn", values: [] }] })).toBe(false);
  });
  test("Cilium's synthetic Service labels", () => {
    expect(ciliumServiceLabels(svc())).toMatchObject({ "io.kubernetes.service.name": "web", "io.kubernetes.service.namespace": "apps" });
  });
});

describe("pools for a Service", () => {
  const pools = [
    pool("v4-default", [{ start: "10.0.0.100", stop: "10.0.0.199", source: src }], { matchExpressions: [{ key: "pool", operator: "NotIn", values: ["edge"] }] }),
    pool("v4-edge", [{ cidr: "10.0.1.0/28", source: src }], { matchLabels: { pool: "edge" } }),
    pool("v6-all", [{ cidr: "fd00::/120", source: src }]),
    pool("off", [{ cidr: "10.0.9.0/24", source: src }], undefined, true),
  ];
  test("selector, family and disabled pools", () => {
    expect(poolsForService({ pools }, svc(), "ipv4").map((p) => p.name)).toEqual(["v4-default"]);
    expect(poolsForService({ pools }, svc({ labels: { pool: "edge" } }), "ipv4").map((p) => p.name)).toEqual(["v4-edge"]);
    expect(poolsForService({ pools }, svc(), "ipv6").map((p) => p.name)).toEqual(["v6-all"]);
    expect(poolFamilies(pools[2]!)).toEqual(new Set(["ipv6"]));
    expect(poolContaining({ pools }, "10.0.1.5")?.name).toBe("v4-edge");
    expect(poolContaining({ pools }, "10.0.5.5")).toBeUndefined();
    expect(poolContaining({ pools }, "not-an-ip")).toBeUndefined();
  });
  test("families a Service asks for", () => {
    expect(serviceFamilies(svc())).toEqual(["ipv4"]);
    expect(serviceFamilies(svc({ ipFamilies: ["IPv6", "IPv4"] }))).toEqual(["ipv6"]);
    expect(serviceFamilies(svc({ ipFamilyPolicy: "RequireDualStack", ipFamilies: ["IPv4", "IPv6"] }))).toEqual(["ipv4", "ipv6"]);
    // dual-stack without ipFamilies: the API server fills in both
    expect(serviceFamilies(svc({ ipFamilyPolicy: "PreferDualStack" }))).toEqual(["ipv4", "ipv6"]);
  });
  test("one home per rule: the model's LB-IPAM questions are answered by lib/bgp/lbipam.ts", () => {
    expect(serviceFamilies).toBe(lbServiceFamilies);
    expect(poolFamilies).toBe(lbPoolFamilies);
    // a Cilium class other than the BGP one is still served by LB-IPAM (cc lbipam.go isResponsibleForService)
    expect(isLoadBalancerService(svc({ loadBalancerClass: "io.cilium/l2-announcer" }))).toBe(true);
    expect(isLoadBalancerService(svc({ loadBalancerClass: "example.com/other" }))).toBe(false);
  });
});

describe("advertisesService", () => {
  const adv = (a: BgpAdvertisement["spec"]["advertisements"][number]): BgpAdvertisement => ({
    name: "a",
    apiVersion: "cilium.io/v2alpha1",
    labels: { advertise: "bgp" },
    spec: { advertisements: [a] },
    source: src,
  });
  test("needs type Service, LoadBalancerIP and a matching selector", () => {
    const all = { matchExpressions: [{ key: "k", operator: "NotIn", values: ["never"] }] };
    expect(advertisesService(adv({ advertisementType: "Service", service: { addresses: ["LoadBalancerIP"] }, selector: all }), svc())).toBe(true);
    expect(advertisesService(adv({ advertisementType: "Service", service: { addresses: ["ClusterIP"] }, selector: all }), svc())).toBe(false);
    expect(advertisesService(adv({ advertisementType: "PodCIDR", selector: all }), svc())).toBe(false);
    expect(advertisesService(adv({ advertisementType: "Service", service: { addresses: ["LoadBalancerIP"] } }), svc())).toBe(false);
  });
});

describe("schematic IDs", () => {
  test("match the Image Factory's (known IDs)", () => {
    // Longhorn's documented schematic for iscsi-tools + util-linux-tools.
    expect(schematicId({ extensions: ["siderolabs/iscsi-tools", "siderolabs/util-linux-tools"] })).toBe(
      "613e1592b2da41ae5e265e8789429f22e121aab91cb4deb6bc3c0b6262961245",
    );
    expect(schematicYaml({ extensions: ["a/b"], extraKernelArgs: ["net.ifnames=0"] })).toBe(
      "customization:\n    extraKernelArgs:\n        - net.ifnames=0\n    systemExtensions:\n        officialExtensions:\n            - a/b\n",
    );
    expect(schematicId({ extensions: ["siderolabs/iscsi-tools"] })).not.toBe(schematicId({ extensions: ["siderolabs/util-linux-tools"] }));
  });
});
