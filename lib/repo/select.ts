/**
 * Label selectors as Kubernetes and Cilium evaluate them, and the LB-IPAM / BGP selection questions the model is
 * asked most: which pools a Service draws from, which advertisements a peer config selects.
 */
import { selectorMatches } from "../kube/selector.ts";
import { blockRange, contains, parseIP, type Family } from "../net/index.ts";
import type { BgpAdvertisement, BgpPeerConfig, ClusterModel, LabelSelector, Pool, Service } from "./model.ts";

/**
 * Whether `labels` satisfy `selector` (matchLabels AND every matchExpression). An empty selector `{}` matches
 * everything; `undefined` is returned as `nilMatches` because its meaning differs by field (a nil Cilium
 * advertisement selector matches nothing, a nil pool serviceSelector matches every Service).
 */
export function matchesSelector(
  labels: Record<string, string>,
  selector: LabelSelector | undefined,
  nilMatches = false,
): boolean {
  return selectorMatches(selector, labels, nilMatches ? "all" : "none");
}

/** The labels Cilium matches Service selectors against: the Service's own plus its synthetic name/namespace keys. */
export function ciliumServiceLabels(svc: Pick<Service, "labels" | "name" | "namespace">): Record<string, string> {
  return {
    ...svc.labels,
    "io.kubernetes.service.name": svc.name,
    "io.kubernetes.service.namespace": svc.namespace ?? "default",
  };
}

/** IP families of a pool's blocks (a pool may mix both). Blocks that do not parse are skipped. */
export function poolFamilies(pool: Pool): Set<Family> {
  const out = new Set<Family>();
  for (const b of pool.blocks) {
    try {
      out.add(blockRange(b).family);
    } catch {
      /* reported by validate's ipam check */
    }
  }
  return out;
}

/** Families a Service asks for (ipFamilies, or single-stack IPv4 when unset, like the API server's default). */
export function serviceFamilies(svc: Service): Family[] {
  const fams = svc.ipFamilies.map((f) => (f === "IPv6" ? "ipv6" : "ipv4") as Family);
  if (fams.length === 0) return ["ipv4"];
  if (svc.ipFamilyPolicy === undefined || svc.ipFamilyPolicy === "SingleStack") return fams.slice(0, 1);
  return fams;
}

/** Enabled pools whose serviceSelector matches the Service (nil selector = every Service), optionally one family. */
export function poolsForService(model: Pick<ClusterModel, "pools">, svc: Service, family?: Family): Pool[] {
  const labels = ciliumServiceLabels(svc);
  return model.pools.filter(
    (p) => !p.disabled && matchesSelector(labels, p.serviceSelector, true) && (family === undefined || poolFamilies(p).has(family)),
  );
}

/** The pool whose blocks contain `ip`, if any. */
export function poolContaining(model: Pick<ClusterModel, "pools">, ip: string): Pool | undefined {
  let addr: string;
  try {
    addr = parseIP(ip).toString();
  } catch {
    return undefined;
  }
  return model.pools.find((p) =>
    p.blocks.some((b) => {
      try {
        return contains(blockRange(b), addr);
      } catch {
        return false;
      }
    }),
  );
}

/** Services that ask LB-IPAM for an address: type LoadBalancer, no foreign loadBalancerClass. */
export function isLoadBalancerService(svc: Service): boolean {
  return svc.type === "LoadBalancer" && (svc.loadBalancerClass === undefined || svc.loadBalancerClass === "io.cilium/bgp-control-plane");
}

/** Advertisements a peer config's family selects by label (a family without a selector selects none). */
export function advertisementsForFamily(
  model: Pick<ClusterModel, "bgp">,
  family: NonNullable<BgpPeerConfig["spec"]["families"]>[number],
): BgpAdvertisement[] {
  return model.bgp.advertisements.filter((a) => matchesSelector(a.labels, family.advertisements, false));
}

/** Whether an advertisement announces the Service's LoadBalancer IPs (cause 4/5/10 of cilium-bgp.md when false). */
export function advertisesService(adv: BgpAdvertisement, svc: Service): boolean {
  const labels = ciliumServiceLabels(svc);
  return adv.spec.advertisements.some(
    (a) =>
      a.advertisementType === "Service" &&
      (a.service?.addresses ?? []).includes("LoadBalancerIP") &&
      matchesSelector(labels, a.selector, false),
  );
}
