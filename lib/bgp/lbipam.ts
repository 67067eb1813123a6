/**
 * LB-IPAM, the rulebook's first half: which CiliumLoadBalancerIPPool gives a LoadBalancer Service which addresses
 * (Cilium 1.17, cc pkg/ipam/lbipam/lbipam.go), and why a Service gets none (cause 7). Read from a live cluster the
 * answer is the Service's `.status.loadBalancer.ingress`; read from the repo it is the requested IPs, or "an address
 * of pool P" when LB-IPAM picks one at run time.
 */
import { blockRange, contains, family as familyOf, isIP, normaliseIP, size } from "../net/index.ts";
import { formatSelector, selectorMatches } from "../kube/selector.ts";
import { diagnose, type Diagnosis } from "./diagnosis.ts";
import { afiOfFamilyName, BGP_LB_CLASS, type Afi, type BgpInputs, type PoolInput, type ServiceInput } from "./types.ts";

export const SYNTHETIC_NAME = "io.kubernetes.service.name";
export const SYNTHETIC_NAMESPACE = "io.kubernetes.service.namespace";

export function serviceKey(s: Pick<ServiceInput, "namespace" | "name">): string {
  return `${s.namespace}/${s.name}`;
}

export const serviceRef = (s: Pick<ServiceInput, "namespace" | "name">) => ({ kind: "Service", name: serviceKey(s) });
export const poolRef = (p: Pick<PoolInput, "name">) => ({ kind: "CiliumLoadBalancerIPPool", name: p.name });

/**
 * Labels Cilium matches Service selectors against (pool serviceSelector, v2 advertisement selector, v1
 * serviceSelector): the Service's own plus the synthetic name/namespace keys (cc pkg/ipam/lbipam/lbipam.go
 * serviceLabels; pkg/bgpv1/manager/reconciler/service.go). No key names the pool.
 */
export function serviceSelectorLabels(s: Pick<ServiceInput, "labels" | "name" | "namespace">): Record<string, string> {
  return { ...s.labels, [SYNTHETIC_NAME]: s.name, [SYNTHETIC_NAMESPACE]: s.namespace };
}

/**
 * The IP families a Service gets addresses for: spec.ipFamilies as the API server fills it; SingleStack keeps the
 * first; with ipFamilies unset (as written in the repo) a dual-stack policy means both and anything else IPv4, the
 * API server's default on this cluster (cc pkg/ipam/lbipam/lbipam.go allocates per family of spec.ipFamilies).
 */
export function serviceFamilies(s: Pick<ServiceInput, "ipFamilies" | "ipFamilyPolicy">): Afi[] {
  const fams = [...new Set((s.ipFamilies ?? []).map(afiOfFamilyName).filter((f): f is Afi => f !== undefined))];
  const dual = s.ipFamilyPolicy === "RequireDualStack" || s.ipFamilyPolicy === "PreferDualStack";
  if (fams.length === 0) return dual ? ["ipv4", "ipv6"] : ["ipv4"];
  return dual ? fams : fams.slice(0, 1);
}

/** Whether LB-IPAM hands the Service addresses at all: type LoadBalancer and no foreign class (cc lbipam.go isResponsibleForService). */
export function lbIpamServes(s: Pick<ServiceInput, "type" | "loadBalancerClass">): boolean {
  return s.type === "LoadBalancer" && (s.loadBalancerClass === undefined || s.loadBalancerClass.startsWith("io.cilium/"));
}

/** Whether BGP announces the Service's LB IPs at all (cc reconciler/service.go: class unset or io.cilium/bgp-control-plane). */
export function bgpAnnouncesClass(s: Pick<ServiceInput, "loadBalancerClass">): boolean {
  return s.loadBalancerClass === undefined || s.loadBalancerClass === BGP_LB_CLASS;
}

export function poolFamilies(p: PoolInput): Set<Afi> {
  const out = new Set<Afi>();
  for (const b of p.blocks) {
    try {
      out.add(blockRange(b).family);
    } catch {
      /* a malformed block is validate's ipam finding */
    }
  }
  return out;
}

export function poolHolds(p: PoolInput, ip: string): boolean {
  return p.blocks.some((b) => {
    try {
      return contains(blockRange(b), ip);
    } catch {
      return false;
    }
  });
}

/**
 * Addresses a pool can hand out for one family: CIDR blocks lose their first and last address unless
 * allowFirstLastIPs: Yes, except /32 and /31 (/128, /127) (cc pkg/ipam/lbipam/range_store.go); start/stop ranges keep all.
 */
export function poolCapacity(p: PoolInput, afi: Afi): bigint {
  let n = 0n;
  for (const b of p.blocks) {
    try {
      const r = blockRange(b);
      if (r.family !== afi) continue;
      const sz = size(r);
      n += b.cidr && p.allowFirstLastIPs !== "Yes" && sz > 2n ? sz - 2n : sz;
    } catch {
      /* malformed */
    }
  }
  return n;
}

/** Enabled pools of `afi` whose serviceSelector (nil = every Service) matches the Service. */
export function poolsSelecting(s: ServiceInput, afi: Afi, pools: PoolInput[]): PoolInput[] {
  const labels = serviceSelectorLabels(s);
  return pools.filter((p) => !p.disabled && poolFamilies(p).has(afi) && selectorMatches(p.serviceSelector, labels, "all"));
}

export function hostRoute(ip: string): { prefix: string; afi: Afi; ip: string } {
  const norm = normaliseIP(ip);
  const afi = familyOf(norm);
  return { prefix: `${norm}/${afi === "ipv4" ? 32 : 128}`, afi, ip: norm };
}

/**
 * The Service condition LB-IPAM writes: Cilium 1.17 names it `cilium.io/IPAMRequestSatisfied` (reasons satisfied,
 * no_pool, out_of_ips); older releases wrote `io.cilium/lb-ipam-request-satisfied`. Both are read.
 */
const LB_IPAM_CONDITIONS = new Set(["cilium.io/IPAMRequestSatisfied", "io.cilium/lb-ipam-request-satisfied"]);

/** Why LB-IPAM gave `s` no address of family `afi`, in words, and the rule that says so. */
function unassigned(s: ServiceInput, afi: Afi, pools: PoolInput[]): Diagnosis {
  const key = serviceKey(s);
  const labels = serviceSelectorLabels(s);
  const ofFamily = pools.filter((p) => poolFamilies(p).has(afi));
  const selecting = ofFamily.filter((p) => selectorMatches(p.serviceSelector, labels, "all"));
  const condition = (s.conditions ?? []).find((c) => LB_IPAM_CONDITIONS.has(c.type) && c.status !== "True");
  const said = condition ? ` (Service condition: ${condition.reason ?? ""}${condition.message ? ` ${condition.message}` : ""})` : "";
  const own = Object.entries(s.labels).map(([k, v]) => `${k}=${v}`).join(", ") || "none";
  const refs = [serviceRef(s)];
  if (ofFamily.length === 0) return diagnose("service-no-pool", `no CiliumLoadBalancerIPPool has ${afi} addresses for LoadBalancer Service ${key}${said}: it never gets one, so nothing is advertised`, refs);
  if (selecting.length === 0)
    return diagnose("service-no-pool", `no ${afi} pool selects LoadBalancer Service ${key} (labels: ${own}; ${ofFamily.map((p) => `${p.name}: ${formatSelector(p.serviceSelector)}`).join("; ")})${said}: LB-IPAM never assigns it an ${afi} address, so nothing is advertised`, refs);
  const enabled = selecting.filter((p) => !p.disabled);
  if (enabled.length === 0)
    return diagnose("service-no-pool", `the ${afi} pool(s) selecting Service ${key} are disabled: ${selecting.map((p) => p.name).join(", ")}${said}`, refs, { fix: `enable pool ${selecting[0]!.name} or label the Service for another pool` });
  const requested = s.requestedIPs.filter((ip) => isIP(ip) && familyOf(ip) === afi);
  const outside = requested.filter((ip) => !enabled.some((p) => poolHolds(p, ip)));
  if (outside.length) {
    const anyPool = pools.find((p) => outside.some((ip) => poolHolds(p, ip)));
    return diagnose(
      "requested-ip-unsatisfied",
      anyPool
        ? `Service ${key} requests ${outside.join(", ")} from pool ${anyPool.name}, whose serviceSelector (${formatSelector(anyPool.serviceSelector)})${anyPool.disabled ? " is disabled" : " does not select it"}: it never gets that IP${said}`
        : `Service ${key} requests ${outside.join(", ")}, which is in no pool: it never gets an IP${said}`,
      refs,
      anyPool ? { fix: `label the Service so ${anyPool.name}'s serviceSelector matches it` } : {},
    );
  }
  return diagnose("no-ip-assigned", `pool ${enabled.map((p) => p.name).join(", ")} selects Service ${key} but assigned no ${afi} address (exhausted, or a requested IP is taken)${said}`, refs);
}

/** The addresses one Service should announce for one family: known IPs, or "one of pool P's" (repo, picked at run time). */
export type Assignment = { ips: string[] } | { pool: string };

export interface ServiceAddresses {
  service: ServiceInput;
  /** per family the Service asks for: its addresses, or why it has none */
  families: Array<{ afi: Afi; assignment?: Assignment; problem?: Diagnosis }>;
}

/**
 * LB-IPAM's answer for every Service it serves, plus the pool-level problem of exhaustion (cause 7): demand counted
 * per Service (one per sharing key) that can only draw from the pool, against its capacity.
 */
export function lbIpam(inputs: Pick<BgpInputs, "services" | "pools">): { services: ServiceAddresses[]; poolProblems: Diagnosis[] } {
  const services: ServiceAddresses[] = [];
  const demand = new Map<string, { pool: PoolInput; afi: Afi; keys: Set<string> }>();
  for (const s of inputs.services) {
    if (!lbIpamServes(s)) continue;
    const entry: ServiceAddresses = { service: s, families: [] };
    for (const afi of serviceFamilies(s)) {
      if (s.ingressIPs !== undefined) {
        const ips = s.ingressIPs.filter((ip) => isIP(ip) && familyOf(ip) === afi);
        entry.families.push(ips.length ? { afi, assignment: { ips } } : { afi, problem: unassigned(s, afi, inputs.pools) });
        continue;
      }
      const selecting = poolsSelecting(s, afi, inputs.pools);
      const requested = s.requestedIPs.filter((ip) => isIP(ip) && familyOf(ip) === afi);
      if (requested.length) {
        const ok = requested.every((ip) => selecting.some((p) => poolHolds(p, ip)));
        entry.families.push(ok ? { afi, assignment: { ips: requested } } : { afi, problem: unassigned(s, afi, inputs.pools) });
        continue;
      }
      if (selecting.length === 0) {
        entry.families.push({ afi, problem: unassigned(s, afi, inputs.pools) });
        continue;
      }
      entry.families.push({ afi, assignment: { pool: selecting[0]!.name } });
      if (selecting.length === 1) {
        const k = `${selecting[0]!.name}|${afi}`;
        const d = demand.get(k) ?? { pool: selecting[0]!, afi, keys: new Set<string>() };
        d.keys.add(s.sharingKey ? `share:${s.sharingKey}` : `svc:${serviceKey(s)}`);
        demand.set(k, d);
      }
    }
    services.push(entry);
  }
  // requested addresses come out of the pool too
  for (const e of services)
    for (const f of e.families) {
      if (!f.assignment || !("ips" in f.assignment) || e.service.ingressIPs !== undefined) continue;
      for (const ip of f.assignment.ips) {
        const pool = poolsSelecting(e.service, f.afi, inputs.pools).find((p) => poolHolds(p, ip));
        if (!pool) continue;
        const k = `${pool.name}|${f.afi}`;
        const d = demand.get(k) ?? { pool, afi: f.afi, keys: new Set<string>() };
        d.keys.add(`ip:${normaliseIP(ip)}`);
        demand.set(k, d);
      }
    }
  const poolProblems: Diagnosis[] = [];
  for (const d of demand.values()) {
    const cap = poolCapacity(d.pool, d.afi);
    if (BigInt(d.keys.size) > cap)
      poolProblems.push(diagnose("pool-exhausted", `pool ${d.pool.name} has ${cap} ${d.afi} addresses for ${d.keys.size} Services: the rest never get an IP`, [poolRef(d.pool)]));
  }
  return { services, poolProblems };
}
