/**
 * Stands for: the Cilium 1.17 operator's LB-IPAM (operator/pkg/lbipam). Given the CiliumLoadBalancerIPPools and
 * Services it decides which LoadBalancer Service gets which IPs, with the same silent behaviours as the real one:
 * a Service no enabled pool's `serviceSelector` matches gets no IP (condition reason `no_pool`), an exhausted pool
 * gives `out_of_ips`, overlapping pools conflict (the younger one is not used), requested IPs come from the
 * `lbipam.cilium.io/ips` annotation (or the legacy `io.cilium/lb-ipam-ips`, or spec.loadBalancerIP), the first and
 * last address of a CIDR are reserved unless `allowFirstLastIPs: "Yes"`, and allocations are sticky.
 *
 * Pure: state in, desired Service and pool statuses out. The controller in cilium.ts writes them.
 */
import { type Addr, type Family, formatIp, parseCidr, parseIp } from "./ip.ts";
import { type Condition, type KObj, keyOf } from "./obj.ts";
import { type LabelSelector, selectorMatches } from "./selectors.ts";

/**
 * Condition type LB-IPAM puts on Services. Cilium >= 1.15 (so 1.17) writes `cilium.io/IPAMRequestSatisfied`;
 * releases before that wrote `io.cilium/lb-ipam-request-satisfied`.
 */
export const LB_IPAM_SVC_CONDITION = "cilium.io/IPAMRequestSatisfied";
export const LB_IPAM_IPS_ANNOTATION = "lbipam.cilium.io/ips";
export const LB_IPAM_IPS_ANNOTATION_LEGACY = "io.cilium/lb-ipam-ips";
export const LB_IPAM_SHARING_KEY = "lbipam.cilium.io/sharing-key";
export const BGP_LB_CLASS = "io.cilium/bgp-control-plane";
const L2_LB_CLASS = "io.cilium/l2-announcer";
export const SERVICE_NAME_LABEL = "io.kubernetes.service.name";
export const SERVICE_NAMESPACE_LABEL = "io.kubernetes.service.namespace";

export const MSG_NO_POOL = "There are no enabled CiliumLoadBalancerIPPools that match this service";
export const MSG_OUT_OF_IPS = "All enabled CiliumLoadBalancerIPPools that match this service ran out of allocatable IPs";

export interface ServiceIpamResult {
  /** false: LB-IPAM is not responsible (not type LoadBalancer, other loadBalancerClass): it strips what it set. */
  responsible: boolean;
  ips: string[];
  condition?: Condition;
}
export interface PoolIpamResult {
  conditions: Condition[];
  conflicting: boolean;
}
export interface IpamResult {
  services: Map<string, ServiceIpamResult>;
  pools: Map<string, PoolIpamResult>;
}

interface PoolRange {
  family: Family;
  first: bigint;
  last: bigint;
  /** reserved network/broadcast addresses */
  reserved: Set<bigint>;
}

/** The labels a pool serviceSelector or a BGP advertisement selector sees: the Service's plus two synthetic ones. */
export function serviceSelectorLabels(svc: KObj): Record<string, string> {
  return {
    ...(svc.metadata.labels ?? {}),
    [SERVICE_NAME_LABEL]: svc.metadata.name,
    [SERVICE_NAMESPACE_LABEL]: svc.metadata.namespace ?? "default",
  };
}

function poolRanges(pool: KObj): PoolRange[] | undefined {
  const out: PoolRange[] = [];
  const allowFirstLast = pool.spec?.allowFirstLastIPs === "Yes";
  for (const b of (pool.spec?.blocks ?? []) as { cidr?: string; start?: string; stop?: string }[]) {
    if (b.cidr) {
      const c = parseCidr(b.cidr);
      if (!c) return undefined;
      const reserved = new Set<bigint>();
      const small = c.family === 4 ? c.prefix >= 31 : c.prefix >= 127;
      if (!allowFirstLast && !small) {
        reserved.add(c.first);
        reserved.add(c.last);
      }
      out.push({ family: c.family, first: c.first, last: c.last, reserved });
    } else if (b.start) {
      const s = parseIp(b.start);
      const e = b.stop ? parseIp(b.stop) : s;
      if (!s || !e || s.family !== e.family || e.value < s.value) return undefined;
      out.push({ family: s.family, first: s.value, last: e.value, reserved: new Set() });
    }
  }
  return out;
}

const size = (r: PoolRange): bigint => r.last - r.first + 1n - BigInt(r.reserved.size);

function requestedFamilies(svc: KObj): Family[] {
  const fams = ((svc.spec?.ipFamilies ?? []) as string[]).map((f) => (f === "IPv6" ? 6 : 4) as Family);
  const policy = svc.spec?.ipFamilyPolicy as string | undefined;
  if (policy === "PreferDualStack" || policy === "RequireDualStack") return fams.length > 0 ? [...new Set(fams)] : [4, 6];
  return [fams[0] ?? 4];
}

function requestedIps(svc: KObj): Addr[] {
  const ann = svc.metadata.annotations ?? {};
  const text = ann[LB_IPAM_IPS_ANNOTATION] ?? ann[LB_IPAM_IPS_ANNOTATION_LEGACY];
  const list = text ? text.split(",").map((s) => s.trim()).filter(Boolean) : [];
  if (list.length === 0 && typeof svc.spec?.loadBalancerIP === "string" && svc.spec.loadBalancerIP) list.push(svc.spec.loadBalancerIP);
  return list.map((s) => parseIp(s)).filter((a): a is Addr => a !== undefined);
}

export function lbIpamResponsible(svc: KObj): boolean {
  if (svc.spec?.type !== "LoadBalancer") return false;
  const cls = svc.spec?.loadBalancerClass as string | undefined;
  return cls === undefined || cls === null || cls === BGP_LB_CLASS || cls === L2_LB_CLASS;
}

const created = (o: KObj): string => o.metadata.creationTimestamp ?? "";

/**
 * Runs LB-IPAM over the whole state. `services` should include every Service (non-LoadBalancer ones come back with
 * responsible=false so stale IPs get stripped).
 */
export function computeLbIpam(poolObjs: KObj[], services: KObj[]): IpamResult {
  const pools = [...poolObjs].sort((a, b) => created(a).localeCompare(created(b)) || a.metadata.name.localeCompare(b.metadata.name));
  const poolResults = new Map<string, PoolIpamResult>();
  interface LivePool {
    name: string;
    ranges: PoolRange[];
    selector: LabelSelector | undefined;
    disabled: boolean;
    used: Map<bigint, { family: Family; sharingKey?: string }>;
  }
  const live: LivePool[] = [];
  for (const p of pools) {
    const ranges = poolRanges(p) ?? [];
    const conflictWith = live.find((other) =>
      other.ranges.some((r) => ranges.some((q) => q.family === r.family && q.first <= r.last && r.first <= q.last)),
    );
    if (conflictWith) {
      poolResults.set(p.metadata.name, {
        conflicting: true,
        conditions: [
          { type: "cilium.io/PoolConflict", status: "True", reason: "cidr_overlap", message: `Pool overlaps with CIDR of '${conflictWith.name}'` },
        ],
      });
      continue;
    }
    live.push({ name: p.metadata.name, ranges, selector: p.spec?.serviceSelector, disabled: p.spec?.disabled === true, used: new Map() });
  }

  const svcResults = new Map<string, ServiceIpamResult>();
  const ordered = [...services].sort((a, b) => created(a).localeCompare(created(b)) || keyOf(a).localeCompare(keyOf(b)));
  const matchingAny = (svc: KObj) => live.filter((p) => selectorMatches(p.selector, serviceSelectorLabels(svc), true));
  // A disabled pool makes no new allocations but keeps the ones it made.
  const matching = (svc: KObj) => matchingAny(svc).filter((p) => !p.disabled);
  const rangeOf = (p: LivePool, a: Addr) => p.ranges.find((r) => r.family === a.family && a.value >= r.first && a.value <= r.last && !r.reserved.has(a.value));

  // Pass 1: keep existing allocations that are still valid (allocations are sticky across restarts).
  const kept = new Map<string, Addr[]>();
  for (const svc of ordered) {
    if (!lbIpamResponsible(svc)) continue;
    const fams = requestedFamilies(svc);
    const req = requestedIps(svc);
    const sharingKey = svc.metadata.annotations?.[LB_IPAM_SHARING_KEY];
    const current = ((svc.status?.loadBalancer?.ingress ?? []) as { ip?: string }[]).map((i) => (i.ip ? parseIp(i.ip) : undefined));
    const keep: Addr[] = [];
    for (const a of current) {
      if (!a || !fams.includes(a.family)) continue;
      if (req.length > 0 && !req.some((r) => r.value === a.value && r.family === a.family)) continue;
      const pool = matchingAny(svc).find((p) => rangeOf(p, a));
      if (!pool) continue;
      const holder = pool.used.get(a.value);
      if (holder && (sharingKey === undefined || holder.sharingKey !== sharingKey)) continue;
      pool.used.set(a.value, { family: a.family, ...(sharingKey ? { sharingKey } : {}) });
      keep.push(a);
    }
    kept.set(keyOf(svc), keep);
  }

  // Pass 2: satisfy what is missing.
  for (const svc of ordered) {
    const key = keyOf(svc);
    if (!lbIpamResponsible(svc)) {
      svcResults.set(key, { responsible: false, ips: [] });
      continue;
    }
    const fams = requestedFamilies(svc);
    const req = requestedIps(svc);
    const sharingKey = svc.metadata.annotations?.[LB_IPAM_SHARING_KEY];
    const have = kept.get(key) ?? [];
    const pools = matching(svc);
    let failure: Condition | undefined;
    const fail = (reason: string, message: string) => {
      failure ??= { type: LB_IPAM_SVC_CONDITION, status: "False", reason, message };
    };
    if (pools.length === 0) fail("no_pool", MSG_NO_POOL);
    else if (req.length > 0) {
      for (const r of req) {
        if (have.some((h) => h.value === r.value && h.family === r.family)) continue;
        const pool = pools.find((p) => rangeOf(p, r));
        if (!pool) {
          fail("no_pool", MSG_NO_POOL);
          continue;
        }
        const holder = pool.used.get(r.value);
        if (holder && (sharingKey === undefined || holder.sharingKey !== sharingKey)) {
          fail("already_allocated_incompatible_service", `The IP '${formatIp(r)}' is already allocated to an incompatible service`);
          continue;
        }
        pool.used.set(r.value, { family: r.family, ...(sharingKey ? { sharingKey } : {}) });
        have.push(r);
      }
    } else {
      for (const fam of fams) {
        if (have.some((h) => h.family === fam)) continue;
        let got: Addr | undefined;
        for (const p of pools) {
          for (const r of p.ranges.filter((x) => x.family === fam)) {
            for (let v = r.first; v <= r.last; v++) {
              if (r.reserved.has(v)) continue;
              const holder = p.used.get(v);
              if (holder && (sharingKey === undefined || holder.sharingKey !== sharingKey)) continue;
              got = { family: fam, value: v };
              p.used.set(v, { family: fam, ...(sharingKey ? { sharingKey } : {}) });
              break;
            }
            if (got) break;
          }
          if (got) break;
        }
        if (got) have.push(got);
        else if (pools.some((p) => p.ranges.some((r) => r.family === fam))) fail("out_of_ips", MSG_OUT_OF_IPS);
        else fail("no_pool", MSG_NO_POOL);
      }
    }
    have.sort((a, b) => a.family - b.family || (a.value < b.value ? -1 : 1));
    svcResults.set(key, {
      responsible: true,
      ips: have.map(formatIp),
      condition: failure ?? { type: LB_IPAM_SVC_CONDITION, status: "True", reason: "satisfied", message: "" },
    });
  }

  for (const p of live) {
    const total = p.ranges.reduce((acc, r) => acc + size(r), 0n);
    const used = BigInt(p.used.size);
    poolResults.set(p.name, {
      conflicting: false,
      conditions: [
        { type: "cilium.io/IPsTotal", status: "Unknown", reason: "noreason", message: String(total) },
        { type: "cilium.io/IPsAvailable", status: "Unknown", reason: "noreason", message: String(total - used) },
        { type: "cilium.io/IPsUsed", status: "Unknown", reason: "noreason", message: String(used) },
        { type: "cilium.io/PoolConflict", status: "False", reason: "resolved", message: "" },
      ],
    });
  }
  return { services: svcResults, pools: poolResults };
}
