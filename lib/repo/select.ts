/**
 * Label selectors as Kubernetes and Cilium evaluate them, and the LB-IPAM / BGP selection questions the model is
 * asked most: which pools a Service draws from, which advertisements a peer config selects. The LB-IPAM rules
 * themselves (families, pool selection, which Services LB-IPAM serves) live in lib/bgp/lbipam.ts; these are that
 * rulebook asked about a ClusterModel.
 */
import { selectorMatches } from "../kube/selector.ts";
import { parseIP, type Family } from "../net/index.ts";
import { lbIpamServes, poolFamilies as lbPoolFamilies, poolHolds, poolsSelecting, serviceFamilies as lbServiceFamilies, serviceSelectorLabels } from "../bgp/lbipam.ts";
import type { PoolInput } from "../bgp/types.ts";
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

/** The labels Cilium matches Service selectors against (the rulebook's, lib/bgp/lbipam.ts), for a model Service. */
export function ciliumServiceLabels(svc: Pick<Service, "labels" | "name" | "namespace">): Record<string, string> {
  return serviceSelectorLabels({ labels: svc.labels, name: svc.name, namespace: svc.namespace ?? "default" });
}

/** IP families of a pool's blocks (a pool may mix both): lib/bgp/lbipam.ts's rule. */
export const poolFamilies: (pool: Pool) => Set<Family> = lbPoolFamilies;

/** Families a Service asks for (the API server's defaults): lib/bgp/lbipam.ts's rule. */
export const serviceFamilies: (svc: Pick<Service, "ipFamilies" | "ipFamilyPolicy">) => Family[] = lbServiceFamilies;

/** Enabled pools whose serviceSelector matches the Service (nil selector = every Service), optionally one family. */
export function poolsForService(model: Pick<ClusterModel, "pools">, svc: Service, family?: Family): Pool[] {
  const input = { ...svc, namespace: svc.namespace ?? "default" };
  const fams: Family[] = family ? [family] : ["ipv4", "ipv6"];
  const picked = new Set<PoolInput>(fams.flatMap((f) => poolsSelecting(input, f, model.pools)));
  return model.pools.filter((p) => picked.has(p));
}

/** The pool whose blocks contain `ip`, if any. */
export function poolContaining(model: Pick<ClusterModel, "pools">, ip: string): Pool | undefined {
  let addr: string;
  try {
    addr = parseIP(ip).toString();
  } catch {
    return undefined;
  }
  return model.pools.find((p) => poolHolds(p, addr));
}

/** Services that ask LB-IPAM for an address (type LoadBalancer, no foreign loadBalancerClass): lib/bgp/lbipam.ts's rule. */
export const isLoadBalancerService: (svc: Pick<Service, "type" | "loadBalancerClass">) => boolean = lbIpamServes;

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
