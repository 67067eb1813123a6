import { describe, expect, test } from "bun:test";
import { ConfigError } from "../../lib/cli/errors.ts";
import { Exec } from "../../lib/exec.ts";
import {
  advertisedCount,
  inputsFromLive,
  isEstablished,
  parseCiliumPeersJson,
  parseCiliumPeersTable,
  parseNodeConfig,
  routerAccess,
  selectorMatches,
  splitCommand,
  vtysh,
} from "../../lib/bgp/index.ts";

const nodeConfig = {
  apiVersion: "cilium.io/v2alpha1",
  kind: "CiliumBGPNodeConfig",
  metadata: { name: "mini01" },
  spec: { bgpInstances: [{ name: "home-ops", localASN: 64512, peers: [{ name: "udm-pro-v4", peerAddress: "172.29.51.1" }] }] },
  status: {
    bgpInstances: [
      {
        name: "home-ops",
        localASN: 64512,
        peers: [
          {
            name: "udm-pro-v4",
            peerAddress: "172.29.51.1",
            peerASN: 64513,
            peeringState: "established",
            establishedTime: "2026-11-26T05:00:00Z",
            routeCount: [
              { afi: "ipv4", safi: "unicast", advertised: 2, received: 0 },
              { afi: "ipv6", safi: "unicast", advertised: 0, received: 0 },
            ],
          },
          { name: "udm-pro-v6", peerAddress: "fd47:25e1:2f96:51::1", peerASN: 64513, peeringState: "active" },
        ],
      },
    ],
  },
};

describe("CiliumBGPNodeConfig status", () => {
  test("peers, states and route counts", () => {
    const s = parseNodeConfig(nodeConfig);
    expect(s.node).toBe("mini01");
    expect(s.peers.map((p) => [p.instance, p.name, p.peeringState])).toEqual([
      ["home-ops", "udm-pro-v4", "established"],
      ["home-ops", "udm-pro-v6", "active"],
    ]);
    expect(advertisedCount(s.peers[0]!, "ipv4")).toBe(2);
    expect(advertisedCount(s.peers[0]!, "ipv6")).toBe(0);
    expect(advertisedCount(s.peers[1]!, "ipv4")).toBeUndefined();
  });
  test("no status yet: no peers", () => {
    expect(parseNodeConfig({ metadata: { name: "x" } }).peers).toEqual([]);
  });
  test("an object without a name is refused", () => {
    expect(() => parseNodeConfig({ status: {} })).toThrow(/metadata.name/);
  });
  test("isEstablished accepts Cilium's and GoBGP's spellings", () => {
    expect(isEstablished("established")).toBe(true);
    expect(isEstablished("ESTABLISHED")).toBe(true);
    expect(isEstablished("open_confirm")).toBe(false);
    expect(isEstablished(undefined)).toBe(false);
  });
});

describe("cilium bgp peers output", () => {
  test("cilium-dbg table with a follow-on family line", () => {
    const text = [
      "Local AS   Peer AS   Peer Address        Session       Uptime     Family         Received   Advertised",
      "64512      64513     172.29.51.1:179     established   1h2m3s     ipv4/unicast   0          2",
      "                                                                  ipv6/unicast   0          0",
      "64512      64513     [fd47:25e1:2f96:51::1]:179   active   0s   ipv6/unicast   0   0",
    ].join("\n");
    const rows = parseCiliumPeersTable(text);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ localAsn: 64512, peerAsn: 64513, peerAddress: "172.29.51.1:179", session: "established", uptime: "1h2m3s" });
    expect(rows[0]!.families).toEqual([
      { afi: "ipv4", safi: "unicast", received: 0, advertised: 2 },
      { afi: "ipv6", safi: "unicast", received: 0, advertised: 0 },
    ]);
    expect(rows[1]!.session).toBe("active");
  });
  test("cilium-cli table with a Node column printed once per node", () => {
    const text = [
      "Node     Local AS   Peer AS   Peer Address   Session State   Uptime   Family         Received   Advertised",
      "mini01   64512      64513     172.29.51.1    established     10m      ipv4/unicast   0          2",
      "mini02   64512      64513     172.29.51.1    idle            0s       ipv4/unicast   0          0",
    ].join("\n");
    const rows = parseCiliumPeersTable(text);
    expect(rows.map((r) => [r.node, r.session, r.families[0]!.advertised])).toEqual([
      ["mini01", "established", 2],
      ["mini02", "idle", 0],
    ]);
  });
  test("json from cilium-dbg (array) and cilium-cli (by node)", () => {
    const peer = { "local-asn": 64512, "peer-asn": 64513, "peer-address": "172.29.51.1", "peer-port": 179, "session-state": "established", "uptime-nanoseconds": 5e9, families: [{ afi: "ipv4", safi: "unicast", received: 0, advertised: 2, accepted: 0 }] };
    expect(parseCiliumPeersJson(JSON.stringify([peer]))[0]).toMatchObject({ peerAddress: "172.29.51.1", session: "established", uptime: "5s", localAsn: 64512 });
    expect(parseCiliumPeersJson({ mini01: [peer] })[0]!.node).toBe("mini01");
    expect(() => parseCiliumPeersJson("nope")).toThrow(/not JSON/);
    expect(() => parseCiliumPeersTable("garbage")).toThrow(/header/);
  });
});

describe("inputsFromLive", () => {
  test("reads InternalIPs, LB ingress, the cilium-config switch and local endpoints", () => {
    const inputs = inputsFromLive({
      nodes: [{ metadata: { name: "mini01", labels: { a: "b" } }, status: { addresses: [{ type: "Hostname", address: "mini01" }, { type: "InternalIP", address: "172.29.51.11" }, { type: "InternalIP", address: "fd47:25e1:2f96:51::11" }] } }],
      services: [
        {
          metadata: { name: "web", namespace: "default", labels: { x: "y" }, annotations: { "lbipam.cilium.io/ips": "172.29.52.201, fd47:25e1:2f96:52::201" } },
          spec: { type: "LoadBalancer", ipFamilies: ["IPv4", "IPv6"], externalTrafficPolicy: "Local" },
          status: { loadBalancer: { ingress: [{ ip: "172.29.52.201" }] }, conditions: [{ type: "io.cilium/lb-ipam-request-satisfied", status: "False", reason: "no_pool" }] },
        },
      ],
      pools: [{ metadata: { name: "p" }, spec: { blocks: [{ start: "172.29.52.100", stop: "172.29.52.199" }], disabled: true, allowFirstLastIPs: "No" } }],
      clusterConfigs: [{ metadata: { name: "c" }, spec: { bgpInstances: [{ name: "i", localASN: 64512, peers: [{ name: "p", peerAddress: "172.29.51.1", peerASN: 64513, peerConfigRef: { name: "pc" } }] }] } }],
      peerConfigs: [{ metadata: { name: "pc" }, spec: { families: [{ afi: "ipv4", safi: "unicast", advertisements: { matchLabels: { advertise: "bgp" } } }] } }],
      advertisements: [{ metadata: { name: "a", labels: { advertise: "bgp" } }, spec: { advertisements: [{ advertisementType: "Service", service: { addresses: ["LoadBalancerIP"] } }] } }],
      peeringPolicies: [],
      nodeConfigs: [nodeConfig],
      endpointSlices: [
        { metadata: { namespace: "default", labels: { "kubernetes.io/service-name": "web" } }, endpoints: [{ nodeName: "mini02", conditions: { ready: true } }, { nodeName: "mini03", conditions: { ready: false } }] },
      ],
      ciliumConfig: { data: { "enable-bgp-control-plane": "true" } },
    });
    expect(inputs.controlPlaneEnabled).toBe(true);
    expect(inputs.nodes[0]).toEqual({ name: "mini01", labels: { a: "b" }, ipv4: "172.29.51.11", ipv6: "fd47:25e1:2f96:51::11" });
    const s = inputs.services[0]!;
    expect(s.ingressIPs).toEqual(["172.29.52.201"]);
    expect(s.requestedIPs).toEqual(["172.29.52.201", "fd47:25e1:2f96:52::201"]);
    expect(s.localEndpointNodes).toEqual(["mini02"]);
    expect(s.conditions![0]!.reason).toBe("no_pool");
    expect(inputs.pools[0]).toMatchObject({ disabled: true, allowFirstLastIPs: "No", blocks: [{ start: "172.29.52.100", stop: "172.29.52.199" }] });
    expect(inputs.clusterConfigs[0]!.spec.bgpInstances[0]!.peers![0]!.peerConfigRef).toEqual({ name: "pc" });
    expect(inputs.advertisements[0]!.spec.advertisements[0]!.selector).toBeUndefined();
    expect(inputs.nodeConfigs![0]!.peers).toHaveLength(2);
  });
  test("without cilium-config the control plane switch is unknown", () => {
    const i = inputsFromLive({ nodes: [], services: [], pools: [], clusterConfigs: [], peerConfigs: [], advertisements: [], peeringPolicies: [], nodeConfigs: [] });
    expect(i.controlPlaneEnabled).toBeUndefined();
  });
});

describe("selectors", () => {
  test("absent means all or none, as the caller says; invalid matches nothing", () => {
    expect(selectorMatches(undefined, {}, "all")).toBe(true);
    expect(selectorMatches(undefined, {}, "none")).toBe(false);
    expect(selectorMatches({}, { a: "b" }, "none")).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: "a", operator: "In", values: ["b"] }] }, { a: "b" }, "none")).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: "a", operator: "DoesNotExist" }] }, { a: "b" }, "none")).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: "a", operator: "NotIn", values: [] }] }, {}, "none")).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: "a", operator: "Bogus" }] }, {}, "all")).toBe(false);
  });
});

describe("router access", () => {
  test("splitCommand splits like a shell", () => {
    expect(splitCommand(`vtysh --vty_socket "/tmp/a b" -N 'x y' c\\ d`)).toEqual(["vtysh", "--vty_socket", "/tmp/a b", "-N", "x y", "c d"]);
    expect(() => splitCommand(`vtysh "oops`)).toThrow(ConfigError);
  });
  test("--router-cmd wins over ROUTER_SSH; ROUTER_SSH becomes ssh in batch mode; none = skip", () => {
    expect(routerAccess({ routerCmd: "vtysh -N r", env: { ROUTER_SSH: "root@10.0.0.1" } })).toEqual({ argv: ["vtysh", "-N", "r"], remote: false, describe: "vtysh -N r" });
    const ssh = routerAccess({ env: { ROUTER_SSH: "root@10.0.0.1" } })!;
    expect(ssh.argv).toEqual(["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "root@10.0.0.1", "vtysh"]);
    expect(ssh.remote).toBe(true);
    expect(routerAccess({ env: {} })).toBeUndefined();
  });
  test("a bad ROUTER_SSH or empty --router-cmd is a ConfigError", () => {
    expect(() => routerAccess({ env: { ROUTER_SSH: "-oProxyCommand=x" } })).toThrow(ConfigError);
    expect(() => routerAccess({ env: { ROUTER_SSH: "a b" } })).toThrow(/not an SSH destination/);
    expect(() => routerAccess({ routerCmd: "  ", env: {} })).toThrow(/empty/);
  });
  test("vtysh appends -c and quotes it for a remote shell", async () => {
    const exec = new Exec({ env: process.env });
    const local = await vtysh(exec, { argv: ["echo"], remote: false, describe: "echo" }, "show bgp summary json");
    expect(local.trim()).toBe("-c show bgp summary json");
    const remote = await vtysh(exec, { argv: ["echo"], remote: true, describe: "echo" }, "show it's");
    expect(remote.trim()).toBe(`-c 'show it'\\''s'`);
  });
});
