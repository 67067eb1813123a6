import { blockRange, contains, findOverlaps, formatRange, overlaps, parseBlock, parseCidr, size, type Family, type IPRange } from "../net/index.ts";
import type { ClusterModel, Pool, Service, Source } from "../repo/model.ts";
import { ciliumServiceLabels, isLoadBalancerService, matchesSelector, serviceFamilies } from "../repo/select.ts";
import { describeSelector } from "./selectors.ts";
import { finding, type Finding } from "./types.ts";

/**
 * ipam: Cilium LB-IPAM pools against everything else on the network (node VLAN, pod/service CIDRs, VIP, node and
 * router addresses), pool blocks themselves, and every LoadBalancer Service against the pools: its requested IPs,
 * which pool its labels select (exactly one per IP family: none is BGP silent-failure cause 7), and capacity.
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

function overlapFindings(blocks: Block[], nets: ReturnType<typeof networks>): Finding[] {
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
    if (inVlan) {
      out.push(finding("ipam/pool-in-node-vlan", "error", blk.source, `pool ${blk.pool.name} block ${formatRange(blk.range)} lies in the node VLAN ${formatRange(inVlan.range)}: the router sends those addresses to the LAN, not to the BGP routes`, "move the pool to a prefix outside the node VLAN (e.g. the next /24)"));
      continue;
    }
    const cidr = nets.cidrs.find((c) => overlaps(c.range, blk.range));
    if (cidr) {
      out.push(finding("ipam/pool-overlaps-cidr", "error", blk.source, `pool ${blk.pool.name} block ${formatRange(blk.range)} overlaps ${cidr.what} ${formatRange(cidr.range)}`, "move the pool outside the pod and service CIDRs"));
      continue;
    }
    const host = nets.hosts.find((h) => contains(blk.range, h.range));
    if (host)
      out.push(finding("ipam/pool-contains-host", "error", blk.source, `pool ${blk.pool.name} block ${formatRange(blk.range)} contains ${host.what} (${formatRange(host.range)})`, "keep node, VIP and router addresses out of LB pools"));
  }
  return out;
}

function serviceFindings(model: ClusterModel, blocks: Block[]): Finding[] {
  const out: Finding[] = [];
  const enabled = model.pools.filter((p) => !p.disabled);
  const poolFamilies = (p: Pool) => new Set(blocks.filter((b) => b.pool === p).map((b) => b.range.family));
  const demand = new Map<string, { family: Family; keys: Set<string> }>();
  const want = (pool: Pool, family: Family, key: string) => {
    const k = `${pool.name}/${family}`;
    const d = demand.get(k) ?? { family, keys: new Set<string>() };
    d.keys.add(key);
    demand.set(k, d);
  };
  for (const s of model.services) {
    if (!isLoadBalancerService(s)) continue;
    const labels = ciliumServiceLabels(s);
    const name = `${s.namespace ? s.namespace + "/" : ""}${s.name}`;
    const matching = enabled.filter((p) => matchesSelector(labels, p.serviceSelector, true));
    const shareKey = s.sharingKey ? `share:${s.sharingKey}` : `svc:${name}`;
    if (s.requestedIPs.length > 0) {
      for (const ip of s.requestedIPs) {
        let r: IPRange;
        try {
          r = parseBlock(ip);
        } catch {
          out.push(finding("ipam/requested-ip-invalid", "error", s.source, `Service ${name} requests "${ip}", which is not an IP address`, "fix the lbipam.cilium.io/ips annotation"));
          continue;
        }
        const inPools = matching.filter((p) => blocks.some((b) => b.pool === p && contains(b.range, r)));
        if (inPools.length === 0) {
          const anyPool = model.pools.find((p) => blocks.some((b) => b.pool === p && contains(b.range, r)));
          out.push(
            finding("ipam/requested-ip-unsatisfied", "error", s.source,
              anyPool
                ? `BGP cause 7: Service ${name} requests ${ip} from pool ${anyPool.name}, whose serviceSelector (${describeSelector(anyPool.serviceSelector)})${anyPool.disabled ? " is disabled" : " does not select it"}: it never gets that IP`
                : `BGP cause 7: Service ${name} requests ${ip}, which is in no pool: it never gets an IP`,
              anyPool ? `label the Service so ${anyPool.name}'s serviceSelector matches it` : "request an address inside one of the pools"),
          );
        } else if (inPools.length > 1) {
          out.push(finding("ipam/requested-ip-ambiguous", "error", s.source, `Service ${name} requests ${ip}, which pools ${inPools.map((p) => p.name).join(" and ")} both offer it`, "make the pools' addresses or selectors disjoint"));
        } else want(inPools[0]!, r.family, `ip:${ip}`);
      }
      continue;
    }
    for (const fam of serviceFamilies(s)) {
      const pools = matching.filter((p) => poolFamilies(p).has(fam));
      if (pools.length === 0) {
        const disabled = model.pools.filter((p) => p.disabled && matchesSelector(labels, p.serviceSelector, true) && poolFamilies(p).has(fam));
        out.push(
          finding("ipam/service-no-pool", "error", s.source,
            `BGP cause 7: no ${disabled.length ? "enabled " : ""}${famName(fam)} pool selects LoadBalancer Service ${name} (labels: ${Object.entries(s.labels).map(([k, v]) => `${k}=${v}`).join(", ") || "none"}): LB-IPAM never assigns it an ${famName(fam)} address, so nothing is advertised`,
            disabled.length ? `enable pool ${disabled[0]!.name} or label the Service for another pool` : "label the Service for a pool, or give a pool a serviceSelector that matches it"),
        );
      } else if (pools.length > 1) {
        out.push(finding("ipam/service-ambiguous-pool", "error", s.source, `LoadBalancer Service ${name} is selected by ${pools.length} ${famName(fam)} pools (${pools.map((p) => p.name).join(", ")}): which one it draws from is arbitrary`, "make the pools' serviceSelectors mutually exclusive"));
      } else want(pools[0]!, fam, shareKey);
    }
  }
  // one address, two Services: only a shared `lbipam.cilium.io/sharing-key` lets both have it
  const byIP = new Map<string, Service>();
  for (const s of model.services) {
    if (!isLoadBalancerService(s)) continue;
    for (const ip of s.requestedIPs) {
      let key: string;
      try {
        key = formatRange(parseBlock(ip));
      } catch {
        continue;
      }
      const other = byIP.get(key);
      if (other && !(other.sharingKey && other.sharingKey === s.sharingKey))
        out.push(finding("ipam/requested-ip-conflict", "error", s.source, `Service ${s.namespace ? s.namespace + "/" : ""}${s.name} requests ${ip}, which Service ${other.namespace ? other.namespace + "/" : ""}${other.name} requests too: only one of them gets it`, "give each Service its own address, or the same lbipam.cilium.io/sharing-key on both (with distinct ports)"));
      else if (!other) byIP.set(key, s);
    }
  }
  // capacity: addresses per pool and family against the Services that can only draw from it
  for (const [k, d] of demand) {
    const poolName = k.slice(0, k.lastIndexOf("/"));
    const pool = model.pools.find((p) => p.name === poolName)!;
    const cap = blocks.filter((b) => b.pool === pool && b.range.family === d.family).reduce((n, b) => n + size(b.range), 0n);
    if (BigInt(d.keys.size) > cap)
      out.push(finding("ipam/pool-exhausted", "error", pool.source, `BGP cause 7: pool ${pool.name} has ${cap} ${famName(d.family)} addresses for ${d.keys.size} Services: the rest never get an IP`, "widen the pool's blocks or move Services to another pool"));
  }
  return out;
}

export function ipamCheck(model: ClusterModel): Finding[] {
  const out: Finding[] = [];
  const blocks = poolBlocks(model, out);
  const nets = networks(model, out);
  out.push(...overlapFindings(blocks, nets));
  out.push(...serviceFindings(model, blocks));
  return out;
}
