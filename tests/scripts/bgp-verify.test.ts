/**
 * bgp-verify and bgp-router-config as processes against the simulated cluster (lib/sim: Cilium's BGP control
 * plane and the UDM's FRR emulated, the stand-in vtysh on PATH): the happy path, then broken states one at a time
 * (a session not established, a node no ClusterConfig selects, a router without inbound policy), exit codes and
 * --json; and bad input (exit 2, nothing read).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { controllersOf } from "../../lib/sim/controllers/index.ts";
import { deployed, runScript, type Deployed } from "../fixtures/frr/sim-harness.ts";
import { until } from "../fixtures/frr/lab.ts";

const VERIFY = "bgp-verify";

describe("bgp-verify against the simulated cluster", () => {
  let d: Deployed;
  beforeAll(async () => {
    d = await deployed();
  }, 120_000);
  afterAll(async () => {
    await d?.stop();
  });

  test("happy path: every LB IP from every node at the router, exit 0, table and --json", async () => {
    const human = await runScript(d, VERIFY, ["--router-cmd", "vtysh"]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/mini01 +│ udm-pro-v4 \(172\.29\.51\.1\) +│ ipv4 +│ established +│ Established +│ 2 +│ 2 +│ 2 +│ ok 0/);
    expect(human.stdout).toContain("every expected route (12) is at the router");
    const j = await runScript(d, VERIFY, ["--router-cmd", "vtysh", "--json"]);
    expect(j.code).toBe(0);
    const r = JSON.parse(j.stdout);
    expect(r).toMatchObject({ ok: true, ciliumChecked: true, routerChecked: true, missing: [], serviceIssues: [] });
    expect(r.rows).toHaveLength(6);
    expect(r.rows.every((row: any) => row.expected === 2 && row.receivedAtRouter === 2)).toBe(true);
  }, 60_000);

  test("without router access: judged from Cilium's counts, says so, exit 0", async () => {
    const r = await runScript(d, VERIFY, ["--json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.routerChecked).toBe(false);
    expect(j.notes.join(" ")).toContain("ROUTER_SSH");
  }, 60_000);

  test("a CiliumBGPNodeConfig peer not established (router does not listen for mini02): mini02 named, session cause, exit 1", async () => {
    const router = controllersOf(d.sim.cluster)!.router;
    const before = router.config.listenRanges;
    router.configure({ listenRanges: ["172.29.51.11/32", "172.29.51.13/32", "fd47:25e1:2f96:51::/64"] });
    try {
      await d.client.waitFor({
        apiVersion: "cilium.io/v2alpha1",
        kind: "CiliumBGPNodeConfig",
        name: "mini02",
        until: ([nc]) => (nc?.status?.bgpInstances?.[0]?.peers ?? []).some((p: any) => p.name === "udm-pro-v4" && p.peeringState !== "established") || "mini02 still established",
        timeoutMs: 30_000,
      });
      const r = await runScript(d, VERIFY, ["--router-cmd", "vtysh", "--json"]);
      expect(r.code).toBe(1);
      const j = JSON.parse(r.stdout);
      expect(j.ok).toBe(false);
      expect([...new Set(j.missing.map((m: any) => `${m.node} ${m.peer} ${m.cause}`))]).toEqual(["mini02 udm-pro-v4 session"]);
      expect(j.rows.find((x: any) => x.node === "mini02" && x.family === "ipv4").ciliumSession).not.toBe("established");
      const human = await runScript(d, VERIFY, ["--router-cmd", "vtysh"]);
      expect(human.stdout).toContain("mini02 -> udm-pro-v4 ipv4");
      expect(human.stdout).toContain("session down: node mini02 -> peer udm-pro-v4 (172.29.51.1) is");
    } finally {
      router.configure({ listenRanges: before });
    }
  }, 90_000);

  test("a node no CiliumBGPClusterConfig selects: the node and cause 8 named, exit 1", async () => {
    const cc = await d.client.get({ apiVersion: "cilium.io/v2alpha1", kind: "CiliumBGPClusterConfig", name: "home-ops" });
    const original = cc.spec.nodeSelector;
    await d.client.patch(
      { apiVersion: "cilium.io/v2alpha1", kind: "CiliumBGPClusterConfig", name: "home-ops" },
      { spec: { nodeSelector: { matchExpressions: [{ key: "kubernetes.io/hostname", operator: "NotIn", values: ["mini03"] }] } } },
      "merge",
    );
    try {
      await until("mini03's NodeConfig gone", 30_000, async () => {
        const nc = await d.client.tryGet({ apiVersion: "cilium.io/v2alpha1", kind: "CiliumBGPNodeConfig", name: "mini03" });
        return nc ? undefined : true;
      });
      const r = await runScript(d, VERIFY, ["--router-cmd", "vtysh", "--json"]);
      expect(r.code).toBe(1);
      const j = JSON.parse(r.stdout);
      expect(new Set(j.missing.map((m: any) => m.node))).toEqual(new Set(["mini03"]));
      expect(new Set(j.missing.map((m: any) => m.cause))).toEqual(new Set([8]));
      expect(j.missing[0].message).toContain("mini03");
    } finally {
      await d.client.patch({ apiVersion: "cilium.io/v2alpha1", kind: "CiliumBGPClusterConfig", name: "home-ops" }, { spec: { nodeSelector: original ?? null } }, "merge");
      await until("mini03's NodeConfig back", 30_000, async () =>
        (await d.client.tryGet({ apiVersion: "cilium.io/v2alpha1", kind: "CiliumBGPNodeConfig", name: "mini03" })) ? true : undefined,
      );
    }
  }, 90_000);

  test("externalTrafficPolicy: Local: routes expected only from the nodes the Service's EndpointSlices name, and found there", async () => {
    const services = (await d.client.list({ apiVersion: "v1", kind: "Service" })).items.filter((s) => s.spec?.type === "LoadBalancer" && Object.keys(s.spec?.selector ?? {}).length > 0);
    type Endpoint = { nodeName: string; conditions?: { ready?: boolean } };
    const svc = services[0]!;
    const ns = svc.metadata.namespace!;
    const ref = { apiVersion: "v1", kind: "Service", name: svc.metadata.name!, namespace: ns };
    const ips = ((svc.status?.loadBalancer?.ingress ?? []) as { ip: string }[]).map((i) => i.ip);
    expect(ips.length).toBeGreaterThan(0);
    // one pod behind the Service: one node has a local endpoint, the others none
    const backend = { apiVersion: "apps/v1", kind: "Deployment", name: "etp-local-backend", namespace: ns };
    await d.client.apply({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: backend.name, namespace: ns },
      spec: {
        replicas: 1,
        selector: { matchLabels: svc.spec.selector },
        template: { metadata: { labels: svc.spec.selector }, spec: { containers: [{ name: "web", image: "registry.invalid/web:1", ports: [{ name: "https", containerPort: 443 }] }] } },
      },
    }, { force: true });
    await d.client.patch(ref, { spec: { externalTrafficPolicy: "Local" } }, "merge");
    try {
      const slices = await until("the Service's EndpointSlice names a ready endpoint", 30_000, async () => {
        const mine = (await d.client.list({ apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice" })).items.filter(
          (s) => s.metadata.namespace === ns && s.metadata.labels?.["kubernetes.io/service-name"] === svc.metadata.name,
        );
        return mine.some((s) => ((s.endpoints ?? []) as Endpoint[]).some((e) => e.conditions?.ready)) ? mine : undefined;
      });
      const local = new Set(slices.flatMap((s) => ((s.endpoints ?? []) as Endpoint[]).filter((e) => e.conditions?.ready).map((e) => e.nodeName)));
      expect(local.size).toBe(1);
      await until("Cilium withdrew the Service's routes from the nodes without a local endpoint", 30_000, async () => {
        const j = JSON.parse((await runScript(d, VERIFY, ["--json"])).stdout);
        return j.ok === true && j.rows.some((row: { node: string; expected: number }) => !local.has(row.node) && row.expected < 2) ? j : undefined;
      });
      const r = await runScript(d, VERIFY, ["--router-cmd", "vtysh", "--json"]);
      expect(r.code, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout);
      for (const row of j.rows as { node: string; family: string; expected: number; receivedAtRouter: number }[]) {
        const mine = ips.filter((ip) => (row.family === "ipv6") === ip.includes(":")).length;
        expect({ node: row.node, family: row.family, expected: row.expected }).toEqual({ node: row.node, family: row.family, expected: local.has(row.node) ? 2 : 2 - mine });
        expect(row.receivedAtRouter).toBe(row.expected);
      }
    } finally {
      await d.client.patch(ref, { spec: { externalTrafficPolicy: svc.spec?.externalTrafficPolicy ?? "Cluster" } }, "merge");
      await d.client.delete(backend, { ignoreNotFound: true });
    }
  }, 90_000);

  test("the router rejects every route (router-rejects-routes): cause 11 with the fix, exit 1", async () => {
    d.sim.cluster.faults.add("router-rejects-routes");
    try {
      const r = await runScript(d, VERIFY, ["--router-cmd", "vtysh", "--json"]);
      expect(r.code).toBe(1);
      const j = JSON.parse(r.stdout);
      expect(j.missing).toHaveLength(12);
      expect(new Set(j.missing.map((m: any) => m.cause))).toEqual(new Set([11]));
      expect(j.missing[0].fix).toContain("bgp-router-config");
    } finally {
      d.sim.cluster.faults.clear("router-rejects-routes");
    }
  }, 60_000);

  test("ROUTER_SSH: vtysh runs through ssh in batch mode, its arguments quoted for the remote shell", async () => {
    // a stand-in `ssh` that does what the real one does with its arguments: joins them into one remote shell line
    const dir = mkdtempSync(path.join(tmpdir(), "home-ops-fake-ssh-"));
    const log = path.join(dir, "calls.log");
    writeFileSync(
      path.join(dir, "ssh"),
      `#!/bin/bash\nopts=()\nwhile [[ "$1" == -o ]]; do opts+=("$1" "$2"); shift 2; done\ntarget="$1"; shift\necho "$target \${opts[*]} :: $*" >> '${log}'\nexec sh -c "$*"\n`,
      { mode: 0o755 },
    );
    try {
      const r = await runScript(d, VERIFY, ["--json"], { ROUTER_SSH: "admin@172.29.51.1", PATH: `${dir}:${d.env.PATH}` });
      expect(r.code, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.routerChecked).toBe(true);
      const calls = readFileSync(log, "utf8");
      expect(calls).toContain("admin@172.29.51.1 -o BatchMode=yes -o ConnectTimeout=10 :: vtysh -c 'show bgp summary json'");
      expect(calls).toContain(":: vtysh -c 'show bgp ipv6 unicast json'");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  test("bad input is exit 2 with one sentence, before anything is read", async () => {
    const a = await runScript(d, VERIFY, ["--router-cmd", "vtysh 'unbalanced"]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain("unbalanced ' quote");
    const b = await runScript(d, VERIFY, [], { ROUTER_SSH: "-oProxyCommand=evil" });
    expect(b.code).toBe(2);
    expect(b.stderr).toContain("is not an SSH destination");
    const c = await runScript(d, VERIFY, ["--bogus"]);
    expect(c.code).toBe(2);
    const k = await runScript(d, VERIFY, [], { KUBECONFIG: "/nonexistent/kubeconfig" });
    expect(k.code).toBe(2);
    expect(k.stderr).toContain("KUBECONFIG points at /nonexistent/kubeconfig");
  }, 60_000);
});

describe("bgp-verify with --simulate", () => {
  test("runs its own simulated cluster: without Cilium installed the BGP kinds are reported missing; 0 expected routes while the repo declares LB Services is a failure that says why, exit 1", async () => {
    const r = await runScript({ env: { ...(process.env as Record<string, string>), NO_COLOR: "1", ROUTER_SSH: "" } }, VERIFY, ["--simulate", "--json"], {
      HOMEOPS_SIM_STATE: "talos",
    });
    expect(r.stderr).toContain("the cluster serves no CiliumBGPClusterConfig");
    const j = JSON.parse(r.stdout);
    expect(j.routerChecked).toBe(false);
    // no LB Service exists yet: nothing can be checked, and "ok" over nothing would hide that BGP is not there
    expect(j.expectedTotal).toBe(0);
    expect(j.ok).toBe(false);
    expect(j.nothingChecked).toContain("the Cilium CRDs are missing");
    expect(r.code).toBe(1);
  }, 120_000);
});

describe("bgp-router-config", () => {
  const env = { env: { ...(process.env as Record<string, string>), NO_COLOR: "1" } };
  test("renders to stdout and --json, writes --out, refuses bad flags", async () => {
    const r = await runScript(env, "bgp-router-config", []);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("router bgp 64513");
    const j = JSON.parse((await runScript(env, "bgp-router-config", ["--json", "--mode", "per-node"])).stdout);
    expect(j.plan.families.map((f: any) => f.neighbors.length)).toEqual([3, 3]);
    expect(j.config).toContain("neighbor 172.29.51.11 peer-group CILIUM-V4");
    const out = path.join(tmpdir(), `bgp-router-config-test-${process.pid}.conf`);
    const w = await runScript(env, "bgp-router-config", ["--out", out]);
    expect(w.code).toBe(0);
    expect(await Bun.file(out).text()).toBe(r.stdout);
    rmSync(out);
    expect((await runScript(env, "bgp-router-config", ["--mode", "sideways"])).code).toBe(2);
    expect((await runScript(env, "bgp-router-config", ["--out", "/nonexistent-dir/x.conf"])).code).toBe(2);
  }, 60_000);
});
