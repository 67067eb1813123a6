/**
 * Cilium's side of BGP: the CiliumBGPNodeConfig status the operator and agents fill in (per node, instance and
 * peer: session state and advertised/received route counts per family), and `cilium-dbg bgp peers` /
 * `cilium bgp peers` output (table and JSON) for when only the CLI is at hand.
 */
import { OperationError } from "../cli/errors.ts";
import type { NodeConfigStatus, NodePeerStatus, RouteCount } from "./types.ts";
import type { Afi } from "./frr.ts";

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const num = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isFinite(v) ? v : typeof v === "string" && /^\d+$/.test(v) ? Number(v) : undefined;
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/** Reads a CiliumBGPNodeConfig object (as the API returns it) into its node name and per-peer status. */
export function parseNodeConfig(obj: unknown): NodeConfigStatus {
  if (!isObject(obj) || !isObject(obj.metadata) || typeof obj.metadata.name !== "string")
    throw new OperationError("a CiliumBGPNodeConfig without metadata.name was returned by the API");
  const out: NodeConfigStatus = { node: obj.metadata.name, peers: [] };
  const status = isObject(obj.status) ? obj.status : {};
  const instances = Array.isArray(status.bgpInstances) ? status.bgpInstances : [];
  for (const inst of instances) {
    if (!isObject(inst)) continue;
    const instance = str(inst.name) ?? "";
    for (const p of Array.isArray(inst.peers) ? inst.peers : []) {
      if (!isObject(p)) continue;
      const peer: NodePeerStatus = { instance, name: str(p.name) ?? "", routeCount: [] };
      const addr = str(p.peerAddress);
      if (addr !== undefined) peer.peerAddress = addr;
      const asn = num(p.peerASN);
      if (asn !== undefined) peer.peerASN = asn;
      const state = str(p.peeringState);
      if (state !== undefined) peer.peeringState = state;
      for (const rc of Array.isArray(p.routeCount) ? p.routeCount : []) {
        if (!isObject(rc)) continue;
        const c: RouteCount = { afi: str(rc.afi) ?? "", safi: str(rc.safi) ?? "" };
        const adv = num(rc.advertised);
        if (adv !== undefined) c.advertised = adv;
        const rcv = num(rc.received);
        if (rcv !== undefined) c.received = rcv;
        peer.routeCount.push(c);
      }
      out.peers.push(peer);
    }
  }
  return out;
}

export function isEstablished(state: string | undefined): boolean {
  return (state ?? "").toLowerCase().replace(/[^a-z]/g, "") === "established";
}

/** Advertised count for one family of a peer's status, or undefined when the status does not say. */
export function advertisedCount(peer: NodePeerStatus, afi: Afi): number | undefined {
  return peer.routeCount.find((r) => r.afi.toLowerCase() === afi && r.safi.toLowerCase() === "unicast")?.advertised;
}

export interface CiliumPeerRow {
  node?: string;
  localAsn?: number;
  peerAsn?: number;
  peerAddress: string;
  session: string;
  uptime?: string;
  families: Array<{ afi: string; safi: string; received?: number; advertised?: number; accepted?: number }>;
}

/**
 * Parses `cilium-dbg bgp peers` / `cilium bgp peers` tables: columns
 * `[Node] Local AS  Peer AS  Peer Address  Session  Uptime  Family  Received  Advertised`, extra families on
 * indented follow-on lines that leave the first columns empty.
 */
export function parseCiliumPeersTable(text: string): CiliumPeerRow[] {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const header = lines.findIndex((l) => /Peer Address/i.test(l) && /Session/i.test(l));
  if (header < 0) throw new OperationError("the `bgp peers` output has no header line (Peer Address ... Session)");
  const hasNode = /^\s*Node\b/i.test(lines[header]!);
  const rows: CiliumPeerRow[] = [];
  let currentNode: string | undefined;
  for (const line of lines.slice(header + 1)) {
    const cells = line.trim().split(/\s+/);
    // follow-on family line: "ipv6/unicast  0  1"
    if (/^\S+\/\S+$/.test(cells[0] ?? "") && cells.length <= 3) {
      const last = rows.at(-1);
      if (!last) continue;
      const [afi, safi] = cells[0]!.split("/");
      last.families.push({ afi: afi!, safi: safi!, received: num(cells[1]), advertised: num(cells[2]) });
      continue;
    }
    let i = 0;
    let node: string | undefined;
    if (hasNode) {
      // a node name is only printed on its first peer line
      if (!/^\d+$/.test(cells[0] ?? "")) {
        node = cells[0];
        currentNode = node;
        i = 1;
      } else node = currentNode;
    }
    const localAsn = num(cells[i]);
    const peerAsn = num(cells[i + 1]);
    const peerAddress = cells[i + 2];
    const session = cells[i + 3];
    if (localAsn === undefined || peerAddress === undefined || session === undefined) continue;
    const rest = cells.slice(i + 4);
    const famIdx = rest.findIndex((c) => /^[a-z0-9]+\/[a-z0-9-]+$/i.test(c));
    const row: CiliumPeerRow = { localAsn, peerAddress, session, families: [] };
    if (node !== undefined) row.node = node;
    if (peerAsn !== undefined) row.peerAsn = peerAsn;
    if (famIdx > 0) row.uptime = rest.slice(0, famIdx).join(" ");
    if (famIdx >= 0) {
      const [afi, safi] = rest[famIdx]!.split("/");
      row.families.push({ afi: afi!, safi: safi!, received: num(rest[famIdx + 1]), advertised: num(rest[famIdx + 2]) });
    }
    rows.push(row);
  }
  return rows;
}

/** Parses `cilium-dbg bgp peers -o json` (an array) or `cilium bgp peers -o json` ({nodeName: [peer]}). */
export function parseCiliumPeersJson(input: string | unknown): CiliumPeerRow[] {
  let data: unknown = input;
  if (typeof input === "string") {
    try {
      data = JSON.parse(input);
    } catch {
      throw new OperationError("the `bgp peers -o json` output is not JSON");
    }
  }
  const fromArray = (arr: unknown[], node?: string): CiliumPeerRow[] =>
    arr.filter(isObject).map((p) => {
      const row: CiliumPeerRow = {
        peerAddress: str(p["peer-address"]) ?? "",
        session: str(p["session-state"]) ?? "unknown",
        families: (Array.isArray(p.families) ? p.families : []).filter(isObject).map((f) => ({
          afi: str(f.afi) ?? "",
          safi: str(f.safi) ?? "",
          received: num(f.received),
          advertised: num(f.advertised),
          accepted: num(f.accepted),
        })),
      };
      if (node !== undefined) row.node = node;
      const l = num(p["local-asn"]);
      if (l !== undefined) row.localAsn = l;
      const r = num(p["peer-asn"]);
      if (r !== undefined) row.peerAsn = r;
      const up = num(p["uptime-nanoseconds"]);
      if (up !== undefined) row.uptime = `${Math.round(up / 1e9)}s`;
      return row;
    });
  if (Array.isArray(data)) return fromArray(data);
  if (isObject(data)) return Object.entries(data).flatMap(([node, peers]) => (Array.isArray(peers) ? fromArray(peers, node) : []));
  throw new OperationError("the `bgp peers -o json` output is neither an array nor an object by node");
}
