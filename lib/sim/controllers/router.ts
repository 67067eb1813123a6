/**
 * Stands for: the UniFi UDM Pro's BGP daemon — FRR bgpd 8.4 — as the cluster's BGP peer. It decides whether each
 * Cilium session comes up (address, ASN, listen range), which advertised prefixes it accepts, and answers vtysh's
 * `show bgp ... json` with FRR 8.4's field names.
 *
 * What bites in real life is reproduced: `bgp ebgp-requires-policy` is ON by default (FRR >= 7.4), so an eBGP
 * peer without an inbound AND outbound route-map is in the `(Policy)` state — JSON `peerState: "Policy"` — and
 * nothing it sends is accepted, while Cilium happily counts the routes as advertised (cause 11 of cilium-bgp.md).
 * The sim is told about the router's policy through `configure()` or by loading an FRR config (`loadConfig`,
 * what `vtysh -f` does), e.g. the one bgp-router-config renders. The `router-rejects-routes` fault forces the
 * Policy state whatever the configuration says.
 */
import { type Family, formatIp, inRange, parseCidr, parseIp } from "./ip.ts";
import type { Advertisement, PeerSide, SessionAnswer, SessionRequest } from "./cilium-bgp.ts";

export interface PrefixListEntry {
  seq: number;
  action: "permit" | "deny";
  prefix: string;
  ge?: number;
  le?: number;
}
export interface RouteMapEntry {
  seq: number;
  action: "permit" | "deny";
  /** prefix-list names this entry matches on (all must match); none = matches everything */
  prefixLists: string[];
}

export interface RouterConfig {
  /** local AS; undefined = the ASN the cluster's peers expect (learned from the first session) */
  asn?: number;
  /** undefined = the router's address the first IPv4 session dials (FRR picks its highest interface address) */
  routerId?: string;
  /** addresses the router answers on; empty = any address the cluster dials */
  addresses: string[];
  /** the ASN expected of the cluster nodes; "external" = any ASN other than its own */
  remoteAs: number | "external" | "internal";
  /** `bgp listen range`s; empty = any node address may connect */
  listenRanges: string[];
  ebgpRequiresPolicy: boolean;
  /** route-map name applied inbound / outbound to the cluster's peers (undefined = none) */
  routeMapIn?: string;
  routeMapOut?: string;
  prefixLists: Map<string, PrefixListEntry[]>;
  routeMaps: Map<string, RouteMapEntry[]>;
  /** the IPv6 unicast family is activated on IPv4 sessions (then IPv6 routes arrive with IPv4-mapped next hops) */
  ipv6OnIpv4Sessions: boolean;
  softReconfigurationInbound: boolean;
  maximumPaths: number;
  holdTimeSeconds: number;
}

export function defaultRouterConfig(): RouterConfig {
  return {
    addresses: [],
    remoteAs: "external",
    listenRanges: [],
    ebgpRequiresPolicy: true,
    prefixLists: new Map(),
    routeMaps: new Map(),
    ipv6OnIpv4Sessions: false,
    softReconfigurationInbound: false,
    maximumPaths: 64,
    holdTimeSeconds: 180,
  };
}

/** An established session as the router sees it. */
interface Session {
  node: string;
  neighbor: string;
  remoteAs: number;
  family: Family;
  since: number;
  /** famKey -> prefixes with next hops as sent */
  sent: Map<string, { prefix: string; nextHop: string }[]>;
}

const FAMILY_KEYS: Record<string, string> = { "ipv4/unicast": "ipv4Unicast", "ipv6/unicast": "ipv6Unicast" };

export class SimRouter implements PeerSide {
  config: RouterConfig = defaultRouterConfig();
  /** the `router-rejects-routes` fault */
  rejectAll = false;
  private sessions = new Map<string, Session>();
  private learnedAsn: number | undefined;
  private learnedRouterId: string | undefined;
  private version = 0;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly now: () => number = Date.now) {}

  get routerId(): string {
    return this.config.routerId ?? this.learnedRouterId ?? "0.0.0.0";
  }

  get asn(): number {
    return this.config.asn ?? this.learnedAsn ?? 64513;
  }

  /** Changes the configuration (merging); the cluster's BGP controller re-evaluates sessions. */
  configure(patch: Partial<RouterConfig>): void {
    this.config = { ...this.config, ...patch };
    this.changed();
  }

  /** The inbound policy in one call: true = accept everything (route-maps that permit all), false = none. */
  setInboundPolicy(policy: boolean | string[]): void {
    if (policy === false) {
      this.configure({ routeMapIn: undefined, routeMapOut: undefined });
      return;
    }
    const prefixLists = new Map(this.config.prefixLists);
    const routeMaps = new Map(this.config.routeMaps);
    if (policy === true) {
      routeMaps.set("SIM-IN", [{ seq: 10, action: "permit", prefixLists: [] }]);
    } else {
      prefixLists.set("SIM-LB", policy.map((p, i) => ({ seq: (i + 1) * 10, action: "permit" as const, prefix: p, ge: p.includes(":") ? 128 : 32 })));
      routeMaps.set("SIM-IN", [{ seq: 10, action: "permit", prefixLists: ["SIM-LB"] }]);
    }
    routeMaps.set("SIM-OUT", [{ seq: 10, action: "deny", prefixLists: [] }]);
    this.configure({ prefixLists, routeMaps, routeMapIn: "SIM-IN", routeMapOut: "SIM-OUT" });
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }

  // ---- the BGP side the Cilium agents talk to ---------------------------------------------------------------

  session(req: SessionRequest): SessionAnswer {
    const c = this.config;
    if (c.addresses.length > 0 && !c.addresses.includes(req.peerAddress)) return { state: "active" };
    if (c.asn === undefined && req.peerASN !== 0) this.learnedAsn ??= req.peerASN;
    if (!req.peerAddress.includes(":")) this.learnedRouterId ??= req.peerAddress;
    if (req.peerASN !== 0 && req.peerASN !== this.asn) return { state: "active" }; // our OPEN carries another AS: Bad Peer AS
    if (typeof c.remoteAs === "number" && req.localASN !== c.remoteAs) return { state: "active" };
    if (c.remoteAs === "external" && req.localASN === this.asn) return { state: "active" };
    if (c.remoteAs === "internal" && req.localASN !== this.asn) return { state: "active" };
    const local = req.localAddress ? parseIp(req.localAddress) : undefined;
    if (!local) return { state: "active" };
    if (c.listenRanges.length > 0 && !c.listenRanges.some((r) => {
      const range = parseCidr(r);
      return range ? inRange(range, local) : false;
    })) return { state: "active" };
    const families = local.family === 4 ? ["ipv4/unicast", ...(c.ipv6OnIpv4Sessions ? ["ipv6/unicast"] : [])] : ["ipv6/unicast"];
    return { state: "established", remoteASN: this.asn, families, holdTimeSeconds: c.holdTimeSeconds };
  }

  /** The cluster's controller reports every established session and what it sends (replaces the previous set). */
  setAdvertisements(adverts: Advertisement[]): void {
    const next = new Map<string, Session>();
    for (const a of adverts) {
      const key = `${a.localAddress}`;
      const prev = this.sessions.get(key);
      const local = parseIp(a.localAddress);
      next.set(key, {
        node: a.node,
        neighbor: a.localAddress,
        remoteAs: a.localASN,
        family: local?.family ?? 4,
        since: prev?.since ?? this.now(),
        sent: a.routes,
      });
    }
    if (!sameSessions(this.sessions, next)) this.version++;
    this.sessions = next;
  }

  // ---- policy ------------------------------------------------------------------------------------------------

  private isEbgp(s: Session): boolean {
    return s.remoteAs !== this.asn;
  }

  /** FRR's peerState: "Policy" when ebgp-requires-policy and an inbound or outbound policy is missing. */
  peerState(s: Session): "OK" | "Policy" {
    if (this.rejectAll) return "Policy";
    const c = this.config;
    if (this.isEbgp(s) && c.ebgpRequiresPolicy && (!this.routeMapExists(c.routeMapIn) || !this.routeMapExists(c.routeMapOut))) return "Policy";
    return "OK";
  }

  private routeMapExists(name: string | undefined): boolean {
    return name !== undefined && this.config.routeMaps.has(name);
  }

  /** Whether an inbound prefix is accepted into the BGP table. */
  accepts(s: Session, prefix: string): boolean {
    if (this.rejectAll) return false;
    const c = this.config;
    if (!this.routeMapExists(c.routeMapIn)) return !(this.isEbgp(s) && c.ebgpRequiresPolicy);
    for (const entry of [...(c.routeMaps.get(c.routeMapIn ?? "") ?? [])].sort((a, b) => a.seq - b.seq)) {
      const matched = entry.prefixLists.every((pl) => this.prefixListPermits(pl, prefix));
      if (matched) return entry.action === "permit";
    }
    return false; // implicit deny at the end of a route-map
  }

  private prefixListPermits(name: string, prefix: string): boolean {
    const list = this.config.prefixLists.get(name);
    if (!list) return true; // FRR: a missing prefix-list matches everything
    const p = parseCidr(prefix);
    if (!p) return false;
    for (const e of [...list].sort((a, b) => a.seq - b.seq)) {
      const r = parseCidr(e.prefix);
      if (!r || r.family !== p.family) continue;
      const inside = p.first >= r.first && p.last <= r.last && p.prefix >= r.prefix;
      if (!inside) continue;
      const lo = e.ge ?? (e.le !== undefined ? r.prefix : r.prefix);
      const hi = e.le ?? (e.ge !== undefined ? (p.family === 4 ? 32 : 128) : r.prefix);
      if (p.prefix < lo || p.prefix > hi) continue;
      return e.action === "permit";
    }
    return false;
  }

  private accepted(s: Session, famKey: string): { prefix: string; nextHop: string }[] {
    const fam = famKey.startsWith("ipv6") ? 6 : 4;
    if (fam !== s.family && !(fam === 6 && this.config.ipv6OnIpv4Sessions)) return [];
    return (s.sent.get(famKey) ?? []).filter((r) => this.accepts(s, r.prefix));
  }

  // ---- vtysh answers (FRR 8.4 JSON) -------------------------------------------------------------------------

  private peersFor(famKey: string): Session[] {
    const fam = famKey.startsWith("ipv6") ? 6 : 4;
    return [...this.sessions.values()]
      .filter((s) => s.family === fam || (fam === 6 && this.config.ipv6OnIpv4Sessions))
      .sort((a, b) => compareIp(a.neighbor, b.neighbor));
  }

  /** `show bgp <afi> unicast summary json` (unwrapped) for one family. */
  summaryFamily(famKey: string): Record<string, unknown> {
    const peers: Record<string, unknown> = {};
    const list = this.peersFor(famKey);
    const now = this.now();
    for (const s of list) {
      const state = this.peerState(s);
      const up = Math.max(0, now - s.since);
      peers[s.neighbor] = {
        remoteAs: s.remoteAs,
        localAs: this.asn,
        version: 4,
        msgRcvd: 3 + Math.floor(up / 30_000),
        msgSent: 3 + Math.floor(up / 60_000),
        tableVersion: 0,
        outq: 0,
        inq: 0,
        peerUptime: uptime(up),
        peerUptimeMsec: up,
        peerUptimeEstablishedEpoch: Math.floor(s.since / 1000),
        pfxRcd: this.accepted(s, famKey).length,
        pfxSnt: 0,
        state: "Established",
        peerState: state,
        connectionsEstablished: 1,
        connectionsDropped: 0,
        desc: "N/A",
        idType: s.family === 6 ? "ipv6" : "ipv4",
        ...(this.config.listenRanges.length > 0 ? { dynamicPeer: true } : {}),
      };
    }
    const ribCount = this.routesFamily(famKey).count;
    return {
      routerId: this.routerId,
      as: this.asn,
      vrfId: 0,
      vrfName: "default",
      tableVersion: this.version,
      ribCount,
      ribMemory: ribCount * 184,
      peerCount: list.length,
      peerMemory: list.length * 723_208,
      peerGroupCount: 1,
      peerGroupMemory: 64,
      peers,
      failedPeers: 0,
      displayedPeers: list.length,
      totalPeers: list.length,
      dynamicPeers: this.config.listenRanges.length > 0 ? list.length : 0,
      bestPath: { multiPathRelax: "false" },
    };
  }

  /** `show bgp summary json`: wrapped per family, families without peers left out. */
  summaryAll(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [famKey, name] of Object.entries(FAMILY_KEYS)) {
      if (this.peersFor(famKey).length > 0) out[name] = this.summaryFamily(famKey);
    }
    return out;
  }

  private routesFamily(famKey: string): { routes: Record<string, unknown[]>; count: number } {
    const byPrefix = new Map<string, { s: Session; nextHop: string }[]>();
    for (const s of this.peersFor(famKey)) {
      for (const r of this.accepted(s, famKey)) byPrefix.set(r.prefix, [...(byPrefix.get(r.prefix) ?? []), { s, nextHop: r.nextHop }]);
    }
    const routes: Record<string, unknown[]> = {};
    const prefixes = [...byPrefix.keys()].sort((a, b) => compareIp(a.split("/")[0] ?? a, b.split("/")[0] ?? b));
    for (const prefix of prefixes) {
      const paths = (byPrefix.get(prefix) ?? []).sort((a, b) => a.s.since - b.s.since || compareIp(a.s.neighbor, b.s.neighbor));
      const [addr, len] = prefix.split("/");
      const v6 = famKey.startsWith("ipv6");
      const usable = (nh: string) => !nh.startsWith("::ffff:");
      const best = paths.findIndex((p) => usable(p.nextHop));
      routes[prefix] = paths.map((p, i) => {
        const valid = usable(p.nextHop);
        const multipath = valid && best >= 0 && i !== best && paths.filter((q) => usable(q.nextHop)).indexOf(p) < this.config.maximumPaths;
        return {
          ...(valid ? { valid: true } : {}),
          ...(i === best ? { bestpath: true, selectionReason: paths.length > 1 ? "Older Path" : "First path received" } : {}),
          ...(multipath || (i === best && paths.filter((q) => usable(q.nextHop)).length > 1 && this.config.maximumPaths > 1) ? { multipath: true } : {}),
          pathFrom: p.s.remoteAs === this.asn ? "internal" : "external",
          prefix: addr,
          prefixLen: Number(len),
          network: prefix,
          metric: 0,
          weight: 0,
          peerId: p.s.neighbor,
          path: String(p.s.remoteAs),
          origin: "IGP",
          nexthops: [{ ip: p.nextHop, afi: v6 ? "ipv6" : "ipv4", ...(v6 ? { scope: "global" } : {}), used: true }],
        };
      });
    }
    return { routes, count: prefixes.length };
  }

  /** `show bgp ipv4|ipv6 unicast json`. Rejected routes are absent, as in FRR. */
  routesJson(famKey: string): Record<string, unknown> {
    return {
      vrfId: 0,
      vrfName: "default",
      tableVersion: this.version,
      routerId: this.routerId,
      defaultLocPrf: 100,
      localAS: this.asn,
      routes: this.routesFamily(famKey).routes,
    };
  }

  /** `show bgp <afi> unicast neighbors <ip> received-routes json` (needs soft-reconfiguration inbound). */
  receivedRoutesJson(famKey: string, neighbor: string): Record<string, unknown> | string {
    if (!this.config.softReconfigurationInbound) return "% Inbound soft reconfiguration not enabled";
    const s = this.peersFor(famKey).find((x) => x.neighbor === neighbor);
    if (!s) return `% No such neighbor or address family`;
    const fam = famKey.startsWith("ipv6") ? 6 : 4;
    const sent = fam === s.family || this.config.ipv6OnIpv4Sessions ? (s.sent.get(famKey) ?? []) : [];
    const receivedRoutes: Record<string, unknown> = {};
    for (const r of sent) {
      const [addr, len] = r.prefix.split("/");
      receivedRoutes[r.prefix] = { addrPrefix: addr, prefixLen: Number(len), network: r.prefix, nextHop: r.nextHop, metric: 0, weight: 0, path: String(s.remoteAs), origin: "IGP" };
    }
    const accepted = this.accepted(s, famKey).length;
    return {
      bgpTableVersion: this.version,
      bgpLocalRouterId: this.routerId,
      defaultLocPrf: 100,
      localAS: this.asn,
      receivedRoutes,
      totalPrefixCounter: sent.length,
      filteredPrefixCounter: sent.length - accepted,
    };
  }

  /** `show bgp summary` (text), the FRR 8.4 layout. */
  summaryText(): string {
    const lines: string[] = [];
    for (const [famKey, name] of Object.entries(FAMILY_KEYS)) {
      const peers = this.peersFor(famKey);
      if (peers.length === 0) continue;
      const title = name === "ipv4Unicast" ? "IPv4 Unicast" : "IPv6 Unicast";
      const dynamic = this.config.listenRanges.length > 0;
      lines.push("", `${title} Summary (VRF default):`);
      lines.push(`BGP router identifier ${this.routerId}, local AS number ${this.asn} vrf-id 0`);
      lines.push(`BGP table version ${this.version}`);
      const rib = this.routesFamily(famKey).count;
      lines.push(`RIB entries ${rib}, using ${rib * 184} bytes of memory`);
      lines.push(`Peers ${peers.length}, using ${Math.round((peers.length * 723_208) / 1024)} KiB of memory`);
      lines.push("Peer groups 1, using 64 bytes of memory", "");
      lines.push("Neighbor        V         AS   MsgRcvd   MsgSent   TblVer  InQ OutQ  Up/Down State/PfxRcd   PfxSnt Desc");
      const now = this.now();
      for (const s of peers) {
        const policy = this.peerState(s) === "Policy";
        const up = Math.max(0, now - s.since);
        const raw = `${dynamic ? "*" : ""}${s.neighbor}`;
        // FRR puts a neighbor longer than the column on its own line and continues under the column
        const name2 = raw.length > 15 ? `${raw}\n${" ".repeat(15)}` : raw;
        const pfx = policy ? "(Policy)" : String(this.accepted(s, famKey).length);
        const snt = policy ? "(Policy)" : "0";
        lines.push(
          `${name2.padEnd(15)} 4 ${String(s.remoteAs).padStart(10)} ${String(3 + Math.floor(up / 30_000)).padStart(9)} ${String(3 + Math.floor(up / 60_000)).padStart(9)} ${"0".padStart(8)} ${"0".padStart(4)} ${"0".padStart(4)} ${uptime(up).padStart(8)} ${pfx.padStart(12)} ${snt.padStart(8)} N/A`,
        );
      }
      lines.push("", `Total number of neighbors ${peers.length}`);
      if (dynamic) lines.push("* - dynamic neighbor", `${peers.length} dynamic neighbor(s), limit 100`);
    }
    if (lines.length === 0) return "% No BGP neighbors found in VRF default\n";
    return `${lines.join("\n")}\n`;
  }

  // ---- configuration as FRR text -----------------------------------------------------------------------------

  /**
   * Loads FRR configuration text (the subset a UDM BGP upload uses): router bgp, router-id, listen range,
   * neighbor remote-as / route-map / activate / soft-reconfiguration, no bgp ebgp-requires-policy,
   * maximum-paths, ip/ipv6 prefix-list, route-map + match ip/ipv6 address prefix-list. Returns the lines it did
   * not understand (FRR would print `% Unknown command` for those).
   */
  loadConfig(text: string): string[] {
    const c: RouterConfig = { ...defaultRouterConfig(), prefixLists: new Map(), routeMaps: new Map() };
    const unknown: string[] = [];
    let af: "ipv4" | "ipv6" = "ipv4";
    let currentMap: RouteMapEntry | undefined;
    const v6Groups = new Set<string>();
    const groupFamily = new Map<string, 4 | 6>();
    for (const raw of text.split("\n")) {
      const line = raw.replace(/!.*$/, "").trim();
      if (!line || line === "exit" || line === "exit-address-family" || line === "end" || line.startsWith("frr ") || line.startsWith("hostname") || line.startsWith("log ") || line === "configure terminal") continue;
      let m: RegExpMatchArray | null;
      if ((m = line.match(/^router bgp (\d+)/))) {
        c.asn = Number(m[1]);
        currentMap = undefined;
      } else if ((m = line.match(/^bgp router-id (\S+)/))) c.routerId = m[1];
      else if (line === "no bgp ebgp-requires-policy") c.ebgpRequiresPolicy = false;
      else if (line === "bgp ebgp-requires-policy") c.ebgpRequiresPolicy = true;
      else if ((m = line.match(/^bgp listen range (\S+) peer-group (\S+)/))) {
        c.listenRanges.push(m[1] ?? "");
        groupFamily.set(m[2] ?? "", (m[1] ?? "").includes(":") ? 6 : 4);
      } else if (line.startsWith("bgp listen limit") || line.startsWith("no bgp default") || line.startsWith("bgp bestpath") || line.startsWith("bgp log-neighbor-changes")) {
        /* accepted, no effect on the model */
      } else if ((m = line.match(/^maximum-paths (\d+)/))) c.maximumPaths = Number(m[1]);
      else if ((m = line.match(/^address-family (ipv4|ipv6) unicast/))) af = m[1] as "ipv4" | "ipv6";
      else if ((m = line.match(/^neighbor (\S+) remote-as (\S+)/))) {
        const v = m[2] ?? "";
        c.remoteAs = v === "external" || v === "internal" ? v : Number(v);
      } else if ((m = line.match(/^neighbor (\S+) route-map (\S+) (in|out)/))) {
        if (m[3] === "in") c.routeMapIn = m[2];
        else c.routeMapOut = m[2];
      } else if ((m = line.match(/^neighbor (\S+) activate/))) {
        if (af === "ipv6") v6Groups.add(m[1] ?? "");
      } else if ((m = line.match(/^neighbor (\S+) soft-reconfiguration inbound/))) c.softReconfigurationInbound = true;
      else if (/^neighbor (\S+) (peer-group|description|timers|update-source|ebgp-multihop|password|next-hop-self|disable-connected-check|capability|bfd)/.test(line)) {
        /* accepted */
      } else if ((m = line.match(/^(ip|ipv6) prefix-list (\S+) (?:seq (\d+) )?(permit|deny) (\S+)(?: ge (\d+))?(?: le (\d+))?/))) {
        const list = c.prefixLists.get(m[2] ?? "") ?? [];
        list.push({
          seq: m[3] ? Number(m[3]) : (list.length + 1) * 5,
          action: m[4] as "permit" | "deny",
          prefix: m[5] === "any" ? (m[1] === "ipv6" ? "::/0" : "0.0.0.0/0") : (m[5] ?? ""),
          ...(m[6] ? { ge: Number(m[6]) } : {}),
          ...(m[7] ? { le: Number(m[7]) } : m[5] === "any" ? { le: m[1] === "ipv6" ? 128 : 32 } : {}),
        });
        c.prefixLists.set(m[2] ?? "", list);
      } else if ((m = line.match(/^route-map (\S+) (permit|deny) (\d+)/))) {
        currentMap = { seq: Number(m[3]), action: m[2] as "permit" | "deny", prefixLists: [] };
        c.routeMaps.set(m[1] ?? "", [...(c.routeMaps.get(m[1] ?? "") ?? []), currentMap]);
      } else if ((m = line.match(/^match (?:ip|ipv6) address prefix-list (\S+)/)) && currentMap) currentMap.prefixLists.push(m[1] ?? "");
      else if (line.startsWith("set ") || line.startsWith("description")) {
        /* accepted */
      } else unknown.push(line);
    }
    for (const g of v6Groups) if (groupFamily.get(g) === 4 || parseIp(g)?.family === 4) c.ipv6OnIpv4Sessions = true;
    this.config = { ...c, addresses: this.config.addresses, holdTimeSeconds: this.config.holdTimeSeconds };
    this.changed();
    return unknown;
  }
}

function sameSessions(a: Map<string, Session>, b: Map<string, Session>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, s] of a) {
    const t = b.get(k);
    if (!t || JSON.stringify([...s.sent]) !== JSON.stringify([...t.sent])) return false;
  }
  return true;
}

function compareIp(a: string, b: string): number {
  const x = parseIp(a);
  const y = parseIp(b);
  if (!x || !y) return a.localeCompare(b);
  if (x.family !== y.family) return x.family - y.family;
  return x.value < y.value ? -1 : x.value > y.value ? 1 : 0;
}

/** FRR's peer uptime text: hh:mm:ss under a day, then 1d02h03m, then 01w2d03h. */
function uptime(ms: number): string {
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const two = (n: number) => String(n).padStart(2, "0");
  if (d === 0) return `${two(h)}:${two(m)}:${two(sec)}`;
  if (d < 7) return `${d}d${two(h)}h${two(m)}m`;
  return `${two(Math.floor(d / 7))}w${d % 7}d${two(h)}h`;
}

export { formatIp };
