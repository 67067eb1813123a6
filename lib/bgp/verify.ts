/**
 * The verdict of bgp-verify: what should reach the router (expected.ts), what Cilium says it advertises
 * (CiliumBGPNodeConfig status) and what the router actually holds (FRR JSON) — a row per node x peer x family and,
 * for every expected prefix missing at the router, its cause.
 */
import { isIP, normaliseIP } from "../net/index.ts";
import { advertisedCount, isEstablished } from "./cilium.ts";
import { announcedServices, diagnosis, expectedAdvertisements, type Diagnosis, type Expectation, type PeerSlot, type ServiceIssue } from "./expected.ts";
import { poolHolds } from "./lbipam.ts";
import { canonicalPrefix, routesByPeer, summaryPeers, type Afi, type FrrPeer, type FrrReceivedRoutes, type FrrRouteTable, type FrrSummary } from "./frr.ts";
import type { CauseId } from "./causes.ts";
import type { BgpInputs, BgpNodeInput, NodeConfigStatus, NodePeerStatus, ObjectRef } from "./types.ts";

export interface RouterState {
  summary: FrrSummary;
  tables: Partial<Record<Afi, FrrRouteTable>>;
  /** `received-routes` per `${afi}|${neighbor}` where the router keeps them (soft-reconfiguration inbound) */
  received?: Map<string, FrrReceivedRoutes>;
}

export interface VerifyRow {
  node: string;
  peer: string;
  peerAddress?: string;
  /** address family: ipv4 or ipv6 (the table's "family" column) */
  family: Afi;
  /** the node's address the router sees for this session */
  nodeAddress?: string;
  /** Cilium's peeringState from the node's CiliumBGPNodeConfig */
  ciliumSession?: string;
  /** the router's view: Established, Established (Policy), Active, ... or "absent" */
  routerSession?: string;
  expected: number;
  /** Cilium's advertised route count for the family */
  advertised?: number;
  /** expected prefixes the router holds from this node */
  receivedAtRouter?: number;
  missing: number;
}

export interface MissingPrefix {
  node: string;
  peer: string;
  family: Afi;
  service: string;
  prefix: string;
  cause: CauseId;
  title: string;
  message: string;
  fix: string;
  /** the objects the cause is about (empty for the session, the router, a shortfall) */
  objects: ObjectRef[];
}

export interface BgpVerifyReport {
  ok: boolean;
  ciliumChecked: boolean;
  routerChecked: boolean;
  rows: VerifyRow[];
  missing: MissingPrefix[];
  serviceIssues: ServiceIssue[];
  /** prefixes the router holds from a node that nothing expects (stale Services, foreign announcements) */
  unexpectedAtRouter: Array<{ node: string; neighbor: string; family: Afi; prefix: string }>;
  /** router sessions that fail on their own, whatever they carry: `(Policy)` rejects every route (cause 11) */
  sessionProblems: Array<{ node: string; peer: string; family: Afi; diagnosis: Diagnosis }>;
  /** problems that block no route: a legacy CiliumBGPPeeringPolicy overriding the v2 objects on a node */
  warnings: Array<{ node: string; diagnosis: Diagnosis }>;
  /** how many expected routes were checked; when 0, `nothingChecked` says why */
  expectedTotal: number;
  nothingChecked?: string;
  notes: string[];
}

export interface VerifyContext {
  /** LoadBalancer Services the repo declares (namespace/name), for "0 expected routes" when some exist */
  declaredServices?: string[];
  /** BGP kinds the cluster does not serve (their CRD is missing) */
  missingKinds?: string[];
}

const norm = (ip: string | undefined): string | undefined => (ip && isIP(ip) ? normaliseIP(ip) : ip);

function nodeAddress(node: BgpNodeInput | undefined, slot: PeerSlot): string | undefined {
  if (!node) return undefined;
  return norm(slot.afi === "ipv6" ? node.ipv6 : node.ipv4);
}

function findStatusPeer(status: NodeConfigStatus | undefined, slot: PeerSlot): NodePeerStatus | undefined {
  if (!status) return undefined;
  return (
    status.peers.find((p) => p.name === slot.peer && (p.instance === slot.instance || !p.instance)) ??
    status.peers.find((p) => slot.peerAddress !== undefined && norm(p.peerAddress) === norm(slot.peerAddress))
  );
}

/** The router's peers by normalised address, per family table and across them (built once: IPv6 parsing is not free). */
function indexRouterPeers(router: RouterState): (address: string | undefined, afi: Afi) => FrrPeer | undefined {
  const byAfi = new Map<Afi, Map<string, FrrPeer>>();
  const any = new Map<string, FrrPeer>();
  for (const p of summaryPeers(router.summary)) {
    const a = norm(p.address)!;
    let m = byAfi.get(p.afi);
    if (!m) byAfi.set(p.afi, (m = new Map()));
    if (!m.has(a)) m.set(a, p);
    if (!any.has(a)) any.set(a, p);
  }
  return (address, afi) => (address ? (byAfi.get(afi)?.get(address) ?? any.get(address)) : undefined);
}

function routerSessionText(p: FrrPeer | undefined): string {
  if (!p) return "absent";
  return p.policyBlocked ? `${p.state} (Policy)` : p.state;
}

/** Runs the whole comparison. Without `router`, only the cluster side is judged; without nodeConfigs, only config. */
export function verifyBgp(inputs: BgpInputs, router?: RouterState, context: VerifyContext = {}): BgpVerifyReport {
  const exp = expectedAdvertisements(inputs);
  const nodes = new Map(inputs.nodes.map((n) => [n.name, n]));
  const statuses = new Map((inputs.nodeConfigs ?? []).map((s) => [s.node, s]));
  const ciliumChecked = inputs.nodeConfigs !== undefined;
  const anyNodeConfig = (inputs.nodeConfigs ?? []).length > 0;

  const routerPeerFor = router ? indexRouterPeers(router) : () => undefined;
  const held = new Map<Afi, Map<string, Set<string>>>();
  if (router) for (const afi of ["ipv4", "ipv6"] as const) {
    const table = router.tables[afi];
    const byPeer = new Map<string, Set<string>>();
    if (table) for (const [peer, set] of routesByPeer(table)) byPeer.set(norm(peer)!, set);
    held.set(afi, byPeer);
  }

  const rows = new Map<string, VerifyRow & { items: Expectation[] }>();
  const rowKey = (node: string, slot: PeerSlot, afi: Afi) => `${node}|${slot.clusterConfig}|${slot.instance}|${slot.peer}|${afi}`;
  const ensureRow = (node: string, slot: PeerSlot, afi: Afi) => {
    const key = rowKey(node, slot, afi);
    let row = rows.get(key);
    if (!row) {
      const status = findStatusPeer(statuses.get(node), slot);
      const addr = nodeAddress(nodes.get(node), slot);
      row = { node, peer: slot.peer, family: afi, expected: 0, missing: 0, items: [] };
      if (slot.peerAddress) row.peerAddress = slot.peerAddress;
      if (addr) row.nodeAddress = addr;
      if (ciliumChecked && slot.policy !== undefined) row.ciliumSession = "v1 (no status)";
      else if (ciliumChecked) {
        row.ciliumSession = status?.peeringState ?? (statuses.has(node) ? "not configured" : "no NodeConfig");
        if (status) {
          const adv = advertisedCount(status, afi);
          if (adv !== undefined) row.advertised = adv;
        }
      }
      if (router) {
        row.routerSession = routerSessionText(routerPeerFor(addr, afi));
        row.receivedAtRouter = 0;
      }
      rows.set(key, row);
    }
    return row;
  };
  for (const { node, slot } of exp.slots) if (slot.afi) ensureRow(node, slot, slot.afi);
  for (const e of exp.expectations) {
    const row = ensureRow(e.node, e.slot, e.afi);
    row.expected += 1;
    row.items.push(e);
  }

  const missing: MissingPrefix[] = [];
  const miss = (e: Expectation, d: Diagnosis) =>
    missing.push({ node: e.node, peer: e.slot.peer, family: e.afi, service: e.service, prefix: e.prefix, cause: d.cause, title: d.title, message: d.message, fix: d.fix, objects: d.objects });

  for (const row of rows.values()) {
    const status = findStatusPeer(statuses.get(row.node), row.items[0]?.slot ?? { peer: row.peer, instance: "" });
    const routerPeer = routerPeerFor(row.nodeAddress, row.family);
    const atRouter = row.nodeAddress ? held.get(row.family)?.get(row.nodeAddress) : undefined;
    const received = router?.received?.get(`${row.family}|${row.nodeAddress}`);
    for (const e of row.items) {
      if (router && atRouter && heldAtRouter(e, atRouter, inputs)) {
        row.receivedAtRouter = (row.receivedAtRouter ?? 0) + 1;
        continue;
      }
      const d = explain(e, row, { inputs, status, anyNodeConfig, hasNodeConfig: statuses.has(e.node), routerPeer, received, router });
      if (d) {
        row.missing += 1;
        miss(e, d);
      }
    }
  }

  const unexpectedAtRouter: BgpVerifyReport["unexpectedAtRouter"] = [];
  if (router) {
    const expectedBy = new Map<string, Set<string>>();
    for (const row of rows.values()) {
      if (!row.nodeAddress) continue;
      const k = `${row.family}|${row.nodeAddress}`;
      let set = expectedBy.get(k);
      if (!set) expectedBy.set(k, (set = new Set()));
      for (const e of row.items) set.add(e.prefix);
    }
    for (const node of inputs.nodes)
      for (const afi of ["ipv4", "ipv6"] as const)
        for (const addr of [norm(node.ipv4), norm(node.ipv6)]) {
          if (!addr) continue;
          const got = held.get(afi)?.get(addr);
          if (!got) continue;
          const want = expectedBy.get(`${afi}|${addr}`) ?? new Set<string>();
          for (const prefix of got) if (!want.has(prefix)) unexpectedAtRouter.push({ node: node.name, neighbor: addr, family: afi, prefix });
        }
  }

  const sessionProblems: BgpVerifyReport["sessionProblems"] = [];
  if (router)
    for (const row of rows.values()) {
      const p = routerPeerFor(row.nodeAddress, row.family);
      if (p?.policyBlocked)
        sessionProblems.push({
          node: row.node,
          peer: row.peer,
          family: row.family,
          diagnosis: diagnosis(11, `the router holds its session with node ${row.node} (${p.address}) in the (Policy) state: FRR's ebgp-requires-policy is on and no inbound route-map applies, so it accepts no route from this node${row.expected ? "" : " (none is expected now, but any would be dropped)"}`),
        });
    }
  const warnings = exp.speakers.filter((x) => x.warning).map((x) => ({ node: x.node, diagnosis: x.warning! }));
  const expectedTotal = [...rows.values()].reduce((a, r) => a + r.expected, 0);
  let nothingChecked: string | undefined;
  if (expectedTotal === 0) nothingChecked = whyNothing(inputs, exp, context);
  const declared = context.declaredServices ?? [];
  const vacuous = expectedTotal === 0 && (declared.length > 0 || announcedServices(inputs).length > 0);

  const notes = [...exp.notes];
  if (!router)
    notes.push(
      `the router was not checked (set ROUTER_SSH=user@host or pass --router-cmd): ${ciliumChecked ? "routes are judged from Cilium's counts only" : "only the configuration was checked"}`,
    );
  const outRows = [...rows.values()].map(({ items: _items, ...r }) => r);
  return {
    ok: missing.length === 0 && exp.serviceIssues.length === 0 && sessionProblems.length === 0 && !vacuous,
    ciliumChecked,
    routerChecked: router !== undefined,
    rows: outRows,
    missing,
    serviceIssues: exp.serviceIssues,
    unexpectedAtRouter,
    sessionProblems,
    warnings,
    expectedTotal,
    ...(nothingChecked ? { nothingChecked } : {}),
    notes,
  };
}

/** Whether the router holds the expected route: the host route, or (an IP LB-IPAM picks at run time) any address of its pool. */
function heldAtRouter(e: Expectation, held: Set<string>, inputs: BgpInputs): boolean {
  if (!e.pool) return held.has(e.prefix);
  const pool = inputs.pools.find((p) => p.name === e.pool);
  if (!pool) return false;
  for (const prefix of held) if (poolHolds(pool, prefix.replace(/\/\d+$/, ""))) return true;
  return false;
}

/** Why there is not one route to check, naming the first reason that applies. */
function whyNothing(inputs: BgpInputs, exp: ReturnType<typeof expectedAdvertisements>, context: VerifyContext): string {
  const announced = announcedServices(inputs);
  const declared = context.declaredServices ?? [];
  if (context.missingKinds?.length) return `the cluster serves no ${context.missingKinds.join(", ")} (the Cilium CRDs are missing), so no route can be expected`;
  if (inputs.controlPlaneEnabled === false) return "Cilium's BGP control plane is off (bgpControlPlane.enabled / enable-bgp-control-plane is not true)";
  if (announced.length === 0)
    return declared.length
      ? `the repo declares ${declared.length} LoadBalancer Service(s) (${declared.slice(0, 3).join(", ")}${declared.length > 3 ? ", ..." : ""}) but the cluster has none`
      : "there is no LoadBalancer Service, so nothing is announced";
  if (exp.serviceIssues.length) return `none of the ${announced.length} LoadBalancer Service(s) has an address to announce (see the Service problems)`;
  if (inputs.nodes.length === 0) return "there are no nodes";
  if (exp.slots.every((x) => x.slot.peer === "(none)")) return "no BGP peer is configured (no CiliumBGPClusterConfig peer, no CiliumBGPPeeringPolicy neighbor)";
  return "no node has a peer that carries the Services' address families";
}

interface ExplainContext {
  inputs: BgpInputs;
  status?: NodePeerStatus;
  anyNodeConfig: boolean;
  hasNodeConfig: boolean;
  routerPeer?: FrrPeer;
  received?: FrrReceivedRoutes;
  router?: RouterState;
}

/** Why an expected prefix is not at the router (or, without a router, not advertised); undefined = presumed fine. */
function explain(e: Expectation, row: VerifyRow, c: ExplainContext): Diagnosis | undefined {
  if (e.blocked) return e.blocked;
  const where = `node ${e.node} -> peer ${e.slot.peer}${e.slot.peerAddress ? ` (${e.slot.peerAddress})` : ""}`;
  // v1 (CiliumBGPPeeringPolicy) writes no CiliumBGPNodeConfig: Cilium's side is only known from the router
  const v2 = e.slot.policy === undefined;
  if (c.inputs.nodeConfigs !== undefined && v2) {
    if (!c.anyNodeConfig)
      return diagnosis(12, "there is no CiliumBGPNodeConfig at all: Cilium's BGP control plane is not running (bgpControlPlane.enabled is false or the operator lacks it)");
    if (!c.hasNodeConfig)
      return diagnosis(8, `the Cilium operator made no CiliumBGPNodeConfig for node ${e.node}: no CiliumBGPClusterConfig selects it (check the node's labels against nodeSelector)`);
    if (!c.status) return diagnosis("session", `CiliumBGPNodeConfig ${e.node} has no peer ${e.slot.peer}: the agent has not set the session up`);
    if (!isEstablished(c.status.peeringState))
      return diagnosis("session", `${where} is ${c.status.peeringState ?? "unknown"}, not established, so nothing is advertised over it`);
  }
  const advertised = c.status ? advertisedCount(c.status, e.afi) : undefined;
  if (c.router) {
    const p = c.routerPeer;
    if (!p)
      return diagnosis("session", `the router has no BGP session with node ${e.node} at ${row.nodeAddress ?? "(no address)"}`, "make the router's `bgp listen range` (or a neighbor) cover the node's address: regenerate it with `bun scripts/bgp-router-config.ts`");
    if (!p.established)
      return diagnosis("session", `the router's session with node ${e.node} (${p.address}) is ${p.state}`);
    if (p.policyBlocked)
      return diagnosis(
        11,
        `the router holds node ${e.node} (${p.address}) in the (Policy) state: FRR's ebgp-requires-policy is on and there is no inbound route-map, so it accepts nothing${advertised ? ` although Cilium advertises ${advertised} ${e.afi} route(s)` : ""}`,
      );
    if (c.received?.available && c.received.prefixes.some((r) => canonicalPrefix(r.prefix) === e.prefix))
      return diagnosis(11, `the router received ${e.prefix} from node ${e.node} (${p.address}) but its inbound route-map rejects it: the prefix-list does not permit this pool`);
    // the router is to blame only for what Cilium did advertise
    if (advertised === undefined)
      return diagnosis(
        "unexplained",
        `the router holds no ${e.prefix} from node ${e.node} (${p.address}); whether Cilium advertised it is not known here${c.inputs.nodeConfigs === undefined ? " (--repo-only reads no Cilium status)" : v2 ? "" : " (BGP v1 reports no status)"}`,
        "run without --repo-only to read Cilium's advertised count, or on the node `cilium-dbg bgp routes advertised ipv4 unicast`; keep `soft-reconfiguration inbound` on the router so rejected routes show in received-routes",
      );
    if (advertised === 0)
      return diagnosis("unexplained", `Cilium on node ${e.node} advertises no ${e.afi} route to ${e.slot.peer} although its configuration selects ${e.service}`);
    return diagnosis(
      11,
      `node ${e.node}'s session is up and Cilium advertises ${advertised} ${e.afi} route(s), but the router accepted no ${e.prefix} from it: its inbound prefix-list does not permit it`,
    );
  }
  if (advertised !== undefined && advertised < row.expected)
    return diagnosis(
      "unexplained",
      `Cilium on node ${e.node} advertises ${advertised} of ${row.expected} expected ${e.afi} route(s) to ${e.slot.peer}; without the router's table the missing ones cannot be named`,
      "pass --router-cmd or set ROUTER_SSH to compare with the router, or run `cilium-dbg bgp routes advertised` on the node",
    );
  return undefined;
}
