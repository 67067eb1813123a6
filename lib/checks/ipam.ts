import { blockRange, contains, family as familyOf, findOverlaps, formatRange, isIP, overlaps, parseBlock, parseCidr, type Family, type IPRange } from "../net/index.ts";
import type { ClusterModel, Pool, Service, Source } from "../repo/model.ts";
import { inputsFromModel, lbIpamServes, poolHolds, poolsSelecting, serviceFamilies } from "../bgp/index.ts";
import { rulebookFindings } from "./bgp.ts";
import { finding, type Finding } from "./types.ts";

/**
 * ipam: Cilium LB-IPAM pools against everything else on the network (node VLAN, pod/service CIDRs, VIP, node and
 * router addresses), pool blocks themselves, and every LoadBalancer Service against the pools. Which pool gives a
 * Service which address — and cause 7 when none does (no pool selects it, requested IP outside, pool exhausted) —
 * is the rulebook's (lib/bgp/lbipam.ts); this family places its diagnoses and adds the ambiguities it does not decide.
 */

interface Block {
  pool: Pool;
  index: number;
  range: IPRange;
  source: Source;
}

interface Net {
  what: string;
  range: IPRange;
  source: Source;
}

function famName(f: Family) {
  return f === "ipv4" ? "IPv4" : "IPv6";
}

function poolBlocks(model: ClusterModel, out: Finding[]): Block[] {
  const blocks: Block[] = [];
  for (const pool of model.pools) {
    if (pool.blocks.length === 0)
      out.push(finding("ipam/pool-empty", "error", pool.source, `pool ${pool.name} has no blocks: it can never hand out an address`, "add blocks: [{start: ..., stop: ...}] or a cidr"));
    pool.blocks.forEach((b, index) => {
      const raw = b as { cidr?: string; start?: string; stop?: string };
      try {
        const range = blockRange(raw);
        blocks.push({ pool, index, range, source: b.source });
      } catch (e) {
        const text = raw.cidr ?? `${raw.start ?? "?"}-${raw.stop ?? "?"}`;
        const reason = (e as Error).message;
        const id = /start is after stop/.test(reason) ? "ipam/block-reversed" : /different families/.test(reason) ? "ipam/block-mixed-families" : "ipam/block-invalid";
        out.push(finding(id, "error", b.source, `pool ${pool.name}: block ${text} is invalid: ${reason}`, id === "ipam/block-reversed" ? "swap start and stop" : id === "ipam/block-mixed-families" ? "use one family per block (a separate block or pool for IPv6)" : "write a CIDR or a start/stop pair of addresses"));
      }
    });
  }
  return blocks;
}

function networks(model: ClusterModel, out: Finding[]): { vlans: Net[]; cidrs: Net[]; hosts: Net[] } {
  const n = model.networks;
  const net = (what: string, s: { value: string; source: Source } | undefined, list: Net[], allowHostBits = true) => {
    if (!s?.value) return;
    try {
      const c = parseCidr(s.value, { allowHostBits });
      list.push({ what, range: { family: c.family, start: c.start, end: c.end }, source: s.source });
    } catch (e) {
      out.push(finding("ipam/cidr-invalid", "error", s.source, `${what} ${s.value} is not a CIDR: ${(e as Error).message}`, "write it as address/prefix, e.g. 10.42.0.0/16"));
    }
  };
  const host = (what: string, s: { value: string; source: Source } | undefined, list: Net[]) => {
    if (!s?.value) return;
    try {
      list.push({ what, range: parseBlock(s.value.split("/")[0]!), source: s.source });
    } catch {
      // malformed host addresses are the talos family's findings
    }
  };
  const vlans: Net[] = [];
  const cidrs: Net[] = [];
  const hosts: Net[] = [];
  net("the node VLAN", n.nodeV4, vlans);
  net("the node VLAN", n.nodeV6, vlans);
  for (const p of n.podCidrs) net("the pod CIDR", p, cidrs, false);
  for (const s of n.serviceCidrs) net("the service CIDR", s, cidrs, false);
  host("the API VIP", n.vip, hosts);
  host("the router", n.router.ipv4, hosts);
  host("the router", n.router.ipv6, hosts);
  for (const node of model.nodes) {
    host(`node ${node.hostname}`, { value: node.ipv4, source: node.source }, hosts);
    if (node.ipv6) host(`node ${node.hostname}`, { value: node.ipv6, source: node.source }, hosts);
  }
  return { vlans, cidrs, hosts };
}

/**
 * Cilium answers ARP for LoadBalancer IPs on the node LAN: a CiliumL2AnnouncementPolicy with loadBalancerIPs and
 * `l2announcements.enabled` in the Cilium values (cluster-template's pool is the node CIDR itself).
 */
function announcesOnLan(model: ClusterModel): boolean {
  const cilium = model.helmReleases.find((h) => h.chart === "cilium");
  const enabled = (cilium?.values as { l2announcements?: { enabled?: unknown } } | undefined)?.l2announcements?.enabled === true;
  return enabled && model.documents.some((d) => d.kind === "CiliumL2AnnouncementPolicy" && (d.object as { spec?: { loadBalancerIPs?: unknown } })?.spec?.loadBalancerIPs === true);
}

function overlapFindings(blocks: Block[], nets: ReturnType<typeof networks>, l2 = false): Finding[] {
  const out: Finding[] = [];
  for (const [a, b] of findOverlaps(blocks)) {
    if (a.pool === b.pool && a.index === b.index) continue;
    const later = a.source.file === b.source.file ? (a.source.line > b.source.line ? a : b) : b;
    const other = later === a ? b : a;
    out.push(finding("ipam/pool-overlap", "error", later.source, `pool ${later.pool.name} block ${formatRange(later.range)} overlaps pool ${other.pool.name} (${formatRange(other.range)})`, "give every pool its own addresses"));
  }
  // CIDRs against the VLAN and each other
  const all = [...nets.vlans, ...nets.cidrs];
  for (let i = 0; i < all.length; i++)
    for (let j = i + 1; j < all.length; j++) {
      const a = all[i]!;
      const b = all[j]!;
      if (a.what === b.what || !overlaps(a.range, b.range)) continue;
      out.push(finding("ipam/cidr-overlap", "error", b.source, `${b.what} ${formatRange(b.range)} overlaps ${a.what} ${formatRange(a.range)}`, "pick non-overlapping pod, service and node subnets"));
    }
  for (const blk of blocks) {
    const inVlan = nets.vlans.find((v) => overlaps(v.range, blk.range));
    // announced by L2 (ARP) on the node LAN: there the pool belongs in the node VLAN
    if (inVlan && !l2) {
      out.push(finding("ipam/pool-in-node-vlan", "error", blk.source, `pool ${blk.pool.name} block ${formatRange(blk.range)} lies in the node VLAN ${formatRange(inVlan.range)}: the router sends those addresses to the LAN, not to the BGP routes`, "move the pool to a prefix outside the node VLAN (e.g. the next /24)"));
      continue;
    }
    const cidr = nets.cidrs.find((c) => overlaps(c.range, blk.range));
    if (cidr) {
      out.push(finding("ipam/pool-overlaps-cidr", "error", blk.source, `pool ${blk.pool.name} block ${formatRange(blk.range)} overlaps ${cidr.what} ${formatRange(cidr.range)}`, "move the pool outside the pod and service CIDRs"));
      continue;
    }
    // every address the block holds, named once: the fix is to move the block (or the addresses), not one of them
    const hosts = nets.hosts.filter((h) => contains(blk.range, h.range));
    if (hosts.length) {
      const listed = hosts.slice(0, 4).map((h) => `${h.what} (${formatRange(h.range)})`);
      const more = hosts.length > listed.length ? ` and ${hosts.length - listed.length} more` : "";
      out.push(finding("ipam/pool-contains-host", "error", blk.source, `pool ${blk.pool.name} block ${formatRange(blk.range)} contains ${listed.join(", ")}${more}`, "keep node, VIP and router addresses out of LB pools"));
    }
  }
  return out;
}

/**
 * What the rulebook (lib/bgp/lbipam.ts) does not decide: a requested address that is no IP, or that two pools
 * offer; a Service two pools of one family select (which one it draws from is arbitrary); one address requested by
 * two Services without a shared sharing key.
 */
function serviceShapeFindings(model: ClusterModel): Finding[] {
  const out: Finding[] = [];
  const inputs = inputsFromModel(model);
  const name = (s: { namespace?: string; name: string }) => `${s.namespace ?? "default"}/${s.name}`;
  model.services.forEach((s, i) => {
    const input = inputs.services[i]!;
    if (!lbIpamServes(input)) return;
    if (s.requestedIPs.length > 0) {
      for (const ip of s.requestedIPs) {
        if (!isIP(ip)) {
          out.push(finding("ipam/requested-ip-invalid", "error", s.source, `Service ${name(s)} requests "${ip}", which is not an IP address`, "fix the lbipam.cilium.io/ips annotation"));
          continue;
        }
        const offering = poolsSelecting(input, familyOf(ip), inputs.pools).filter((p) => poolHolds(p, ip));
        if (offering.length > 1)
          out.push(finding("ipam/requested-ip-ambiguous", "error", s.source, `Service ${name(s)} requests ${ip}, which pools ${offering.map((p) => p.name).join(" and ")} both offer it`, "make the pools' addresses or selectors disjoint"));
      }
      return;
    }
    for (const afi of serviceFamilies(input)) {
      const pools = poolsSelecting(input, afi, inputs.pools);
      if (pools.length > 1)
        out.push(finding("ipam/service-ambiguous-pool", "error", s.source, `LoadBalancer Service ${name(s)} is selected by ${pools.length} ${famName(afi)} pools (${pools.map((p) => p.name).join(", ")}): which one it draws from is arbitrary`, "make the pools' serviceSelectors mutually exclusive"));
    }
  });
  // one address, two Services: only a shared `lbipam.cilium.io/sharing-key` lets both have it
  const byIP = new Map<string, Service>();
  for (const s of model.services) {
    if (s.type !== "LoadBalancer") continue;
    for (const ip of s.requestedIPs) {
      let key: string;
      try {
        key = formatRange(parseBlock(ip));
      } catch {
        continue;
      }
      const other = byIP.get(key);
      if (other && !(other.sharingKey && other.sharingKey === s.sharingKey))
        out.push(finding("ipam/requested-ip-conflict", "error", s.source, `Service ${name(s)} requests ${ip}, which Service ${name(other)} requests too: only one of them gets it`, "give each Service its own address, or the same lbipam.cilium.io/sharing-key on both (with distinct ports)"));
      else if (!other) byIP.set(key, s);
    }
  }
  return out;
}

export function ipamCheck(model: ClusterModel): Finding[] {
  const out: Finding[] = [];
  const blocks = poolBlocks(model, out);
  const nets = networks(model, out);
  out.push(...overlapFindings(blocks, nets, announcesOnLan(model)));
  out.push(...serviceShapeFindings(model), ...rulebookFindings(model, "ipam"));
  return out;
}
