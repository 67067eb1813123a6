/**
 * Parsers for FRR's vtysh JSON, as written by FRR 8.4 (Debian bookworm) up to 10.x:
 *   `show bgp summary json`                 wrapped per family: {"ipv4Unicast": {...}, "ipv6Unicast": {...}}
 *   `show bgp ipv4|ipv6 unicast summary json` the same family object, unwrapped
 *   `show bgp ipv4|ipv6 unicast json`       {routerId, localAS, routes: {"<prefix>": [path, ...]}}
 *   `show bgp ... neighbors <ip> received-routes json` (needs soft-reconfiguration inbound)
 * Version differences handled: AS numbers as strings (asdot notation, FRR >= 9.1), `totalRoutes`/`totalPaths`
 * (FRR >= 10.3), route entries as a path array or as a detail object `{prefix, paths: [...]}`, `bestpath` as a
 * boolean or `{overall: true}`, the AS path as `path` or `aspath.string`, the peer as `peerId` or `peer.peerId`,
 * fields missing for peers that never came up, an empty `{}` when no BGP peer exists.
 */
import { OperationError } from "../cli/errors.ts";
import { isIP, normaliseIP } from "../net/index.ts";

/** `fd52::0/128` -> `fd52::/128`: prefixes compared as text must be canonical (FRR prints them so; others may not). */
export function canonicalPrefix(prefix: string): string {
  const slash = prefix.indexOf("/");
  const ip = slash < 0 ? prefix : prefix.slice(0, slash);
  return isIP(ip) ? `${normaliseIP(ip)}${slash < 0 ? "" : prefix.slice(slash)}` : prefix;
}

export type Afi = "ipv4" | "ipv6";

export class FrrParseError extends OperationError {
  constructor(what: string, detail: string) {
    super(`could not read ${what} from the router: ${detail}`, "run the same vtysh command on the router and check its output is JSON");
  }
}

export interface FrrPeer {
  /** neighbor address (or interface name for unnumbered peers) */
  address: string;
  /** the address family table the peer was listed in */
  afi: Afi;
  remoteAs?: number;
  localAs?: number;
  /** FSM state as FRR prints it: Established, Active, Connect, Idle, "Idle (Admin)", ... */
  state: string;
  established: boolean;
  /** "OK", "Policy" (ebgp-requires-policy blocks it), "Admin", "RemAdmin", ... (FRR >= 7.5) */
  peerState?: string;
  /** FRR's ebgp-requires-policy holds this peer: nothing it sends is accepted (or nothing is sent to it) */
  policyBlocked: boolean;
  /** prefixes accepted from the peer (after inbound policy) */
  prefixesReceived?: number;
  prefixesSent?: number;
  uptimeMs?: number;
  dynamic: boolean;
  hostname?: string;
  description?: string;
}

export interface FrrFamilySummary {
  afi: Afi;
  routerId?: string;
  as?: number;
  peers: FrrPeer[];
}

export interface FrrSummary {
  routerId?: string;
  as?: number;
  families: FrrFamilySummary[];
}

export interface FrrPath {
  /** the neighbor it was learned from */
  peerId?: string;
  nexthops: string[];
  valid: boolean;
  best: boolean;
  multipath: boolean;
  asPath: string;
  origin?: string;
  /** "external" | "internal" | "confed" */
  from?: string;
}

export interface FrrRoute {
  prefix: string;
  paths: FrrPath[];
}

export interface FrrRouteTable {
  afi: Afi;
  routerId?: string;
  localAs?: number;
  routes: FrrRoute[];
  /** FRR >= 10.3 only */
  totalRoutes?: number;
  totalPaths?: number;
}

export interface FrrReceivedRoutes {
  /** false when the router has no soft-reconfiguration inbound for the peer (FRR answers with a warning) */
  available: boolean;
  warning?: string;
  prefixes: Array<{ prefix: string; nextHop?: string; asPath?: string }>;
  /** FRR's own counters: every prefix received and those its inbound policy filtered */
  total?: number;
  filtered?: number;
}

type Json = Record<string, unknown>;

const FAMILY_KEYS: Record<string, Afi> = { ipv4Unicast: "ipv4", ipv6Unicast: "ipv6" };

function parseJson(input: string | unknown, what: string): unknown {
  if (typeof input !== "string") return input;
  const text = input.trim();
  if (text === "") throw new FrrParseError(what, "the output was empty");
  try {
    return JSON.parse(text);
  } catch {
    const first = text.split("\n")[0]!.slice(0, 120);
    throw new FrrParseError(what, `the output is not JSON (it starts with "${first}")`);
  }
}

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** An AS number as FRR prints it: 64512, "64512", or asdot "1.10" (= 65546). */
export function parseAsn(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isInteger(v) && v >= 0) return v;
  if (typeof v !== "string") return undefined;
  const s = v.trim();
  if (/^\d+$/.test(s)) return Number(s);
  const m = /^(\d+)\.(\d+)$/.exec(s);
  if (m) {
    const high = Number(m[1]);
    const low = Number(m[2]);
    if (high <= 65535 && low <= 65535) return high * 65536 + low;
  }
  return undefined;
}

function num(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && /^\d+$/.test(v)) return Number(v);
  return undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function parsePeer(address: string, raw: unknown, afi: Afi): FrrPeer {
  const p = isObject(raw) ? raw : {};
  const state = str(p.state) ?? "Unknown";
  const peerState = str(p.peerState);
  // FRR prints the state of an established session as "Established"; some builds append details in parentheses
  const established = /^Established\b/i.test(state);
  const peer: FrrPeer = {
    address,
    afi,
    state,
    established,
    policyBlocked: peerState === "Policy",
    dynamic: p.dynamicPeer === true,
  };
  const remoteAs = parseAsn(p.remoteAs);
  if (remoteAs !== undefined) peer.remoteAs = remoteAs;
  const localAs = parseAsn(p.localAs);
  if (localAs !== undefined) peer.localAs = localAs;
  if (peerState !== undefined) peer.peerState = peerState;
  const rcd = num(p.pfxRcd);
  if (rcd !== undefined) peer.prefixesReceived = rcd;
  const snt = num(p.pfxSnt);
  if (snt !== undefined) peer.prefixesSent = snt;
  const up = num(p.peerUptimeMsec);
  if (up !== undefined) peer.uptimeMs = up;
  const hostname = str(p.hostname);
  if (hostname !== undefined) peer.hostname = hostname;
  const desc = str(p.desc) ?? str(p.description);
  if (desc !== undefined) peer.description = desc;
  return peer;
}

function parseFamily(raw: Json, afi: Afi): FrrFamilySummary {
  const fam: FrrFamilySummary = { afi, peers: [] };
  const routerId = str(raw.routerId);
  if (routerId !== undefined) fam.routerId = routerId;
  const as = parseAsn(raw.as);
  if (as !== undefined) fam.as = as;
  const peers = raw.peers;
  if (peers !== undefined && !isObject(peers))
    throw new FrrParseError("the BGP summary", `"peers" of ${afi} unicast is not an object`);
  for (const [address, p] of Object.entries(peers ?? {})) fam.peers.push(parsePeer(address, p, afi));
  return fam;
}

/**
 * Parses `show bgp summary json` (wrapped per family) or `show bgp <afi> unicast summary json` (unwrapped; pass
 * its family). Families other than IPv4/IPv6 unicast are ignored.
 */
export function parseBgpSummary(input: string | unknown, opts: { afi?: Afi } = {}): FrrSummary {
  const data = parseJson(input, "the BGP summary");
  if (!isObject(data)) throw new FrrParseError("the BGP summary", "expected a JSON object");
  if (typeof data.warning === "string") throw new FrrParseError("the BGP summary", data.warning);
  const summary: FrrSummary = { families: [] };
  const unwrapped = "peers" in data || "routerId" in data || "as" in data;
  if (unwrapped) {
    if (!opts.afi)
      throw new FrrParseError("the BGP summary", "it is a single family's summary but no family was given");
    summary.families.push(parseFamily(data, opts.afi));
  } else {
    for (const [key, value] of Object.entries(data)) {
      const afi = FAMILY_KEYS[key];
      if (!afi || !isObject(value)) continue;
      if (opts.afi && afi !== opts.afi) continue;
      summary.families.push(parseFamily(value, afi));
    }
  }
  const first = summary.families.find((f) => f.routerId !== undefined);
  if (first?.routerId !== undefined) summary.routerId = first.routerId;
  const withAs = summary.families.find((f) => f.as !== undefined);
  if (withAs?.as !== undefined) summary.as = withAs.as;
  return summary;
}

/** Every peer of every family, for lookups by address. */
export function summaryPeers(summary: FrrSummary, afi?: Afi): FrrPeer[] {
  return summary.families.filter((f) => !afi || f.afi === afi).flatMap((f) => f.peers);
}

function parsePath(raw: unknown): FrrPath {
  const p = isObject(raw) ? raw : {};
  const peer = isObject(p.peer) ? p.peer : undefined;
  const bestpath = p.bestpath;
  const aspath = isObject(p.aspath) ? str(p.aspath.string) : undefined;
  const nexthops: string[] = [];
  if (Array.isArray(p.nexthops)) for (const nh of p.nexthops) if (isObject(nh) && typeof nh.ip === "string") nexthops.push(nh.ip);
  const path: FrrPath = {
    nexthops,
    valid: p.valid === true,
    best: bestpath === true || (isObject(bestpath) && bestpath.overall === true),
    multipath: p.multipath === true,
    asPath: str(p.path) ?? (aspath === "Local" ? "" : aspath) ?? "",
  };
  const peerId = str(p.peerId) ?? (peer ? str(peer.peerId) : undefined);
  if (peerId !== undefined) path.peerId = peerId;
  const origin = str(p.origin);
  if (origin !== undefined) path.origin = origin;
  const from = str(p.pathFrom) ?? (peer ? str(peer.type) : undefined);
  if (from !== undefined) path.from = from;
  return path;
}

/** Parses `show bgp ipv4|ipv6 unicast json` (plain or `detail`). */
export function parseBgpRoutes(input: string | unknown, afi: Afi): FrrRouteTable {
  const data = parseJson(input, `the ${afi} BGP table`);
  if (!isObject(data)) throw new FrrParseError(`the ${afi} BGP table`, "expected a JSON object");
  if (typeof data.warning === "string") throw new FrrParseError(`the ${afi} BGP table`, data.warning);
  const table: FrrRouteTable = { afi, routes: [] };
  const routerId = str(data.routerId);
  if (routerId !== undefined) table.routerId = routerId;
  const localAs = parseAsn(data.localAS);
  if (localAs !== undefined) table.localAs = localAs;
  const totalRoutes = num(data.totalRoutes);
  if (totalRoutes !== undefined) table.totalRoutes = totalRoutes;
  const totalPaths = num(data.totalPaths);
  if (totalPaths !== undefined) table.totalPaths = totalPaths;
  const routes = data.routes ?? {};
  if (!isObject(routes)) throw new FrrParseError(`the ${afi} BGP table`, `"routes" is not an object`);
  for (const [prefix, entry] of Object.entries(routes)) {
    const rawPaths = Array.isArray(entry) ? entry : isObject(entry) && Array.isArray(entry.paths) ? entry.paths : [];
    table.routes.push({ prefix, paths: rawPaths.map((p) => parsePath(p)) });
  }
  return table;
}

/** Parses `show bgp <afi> unicast neighbors <ip> received-routes json`. */
export function parseReceivedRoutes(input: string | unknown): FrrReceivedRoutes {
  const data = parseJson(input, "the received routes");
  if (!isObject(data)) throw new FrrParseError("the received routes", "expected a JSON object");
  if (typeof data.warning === "string" && !isObject(data.receivedRoutes))
    return { available: false, warning: data.warning, prefixes: [] };
  const out: FrrReceivedRoutes = { available: true, prefixes: [] };
  const received = data.receivedRoutes ?? {};
  if (!isObject(received)) throw new FrrParseError("the received routes", `"receivedRoutes" is not an object`);
  for (const [prefix, r] of Object.entries(received)) {
    const o = isObject(r) ? r : {};
    const item: FrrReceivedRoutes["prefixes"][number] = { prefix: str(o.network) ?? prefix };
    const nh = str(o.nextHop);
    if (nh !== undefined) item.nextHop = nh;
    const path = str(o.path);
    if (path !== undefined) item.asPath = path;
    out.prefixes.push(item);
  }
  const total = num(data.totalPrefixCounter);
  if (total !== undefined) out.total = total;
  const filtered = num(data.filteredPrefixCounter);
  if (filtered !== undefined) out.filtered = filtered;
  return out;
}

/**
 * Which prefixes the router holds from each neighbor: peer address -> prefixes. The learned-from peer is `peerId`;
 * without it (very old FRR) the first next hop stands in.
 */
export function routesByPeer(table: FrrRouteTable): Map<string, Set<string>> {
  const byPeer = new Map<string, Set<string>>();
  for (const route of table.routes) {
    const prefix = canonicalPrefix(route.prefix);
    for (const path of route.paths) {
      if (!path.valid) continue;
      const peer = path.peerId ?? path.nexthops[0];
      if (!peer) continue;
      let set = byPeer.get(peer);
      if (!set) byPeer.set(peer, (set = new Set()));
      set.add(prefix);
    }
  }
  return byPeer;
}
