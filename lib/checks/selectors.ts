import type { LabelSelector, Service } from "../repo/model.ts";

/**
 * Kubernetes label-selector semantics (matchLabels AND every matchExpression), as Cilium applies them to Services
 * for LB-IPAM pools and BGP advertisements. Lives here until lib/bgp has it (it should move there).
 */
export function selectorMatches(sel: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!sel) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const vals = e.values ?? [];
    switch (e.operator) {
      case "In":
        if (!has || !vals.includes(labels[e.key]!)) return false;
        break;
      case "NotIn":
        if (has && vals.includes(labels[e.key]!)) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** A selector with no terms: Cilium treats an empty (non-nil) selector differently per object (see callers). */
export function isEmptySelector(sel: LabelSelector | undefined): boolean {
  return !sel || (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0);
}

/** The labels Cilium matches a Service with: its own plus the synthetic name/namespace keys. */
export function serviceLabels(s: Pick<Service, "labels" | "name" | "namespace">): Record<string, string> {
  return {
    ...s.labels,
    "io.kubernetes.service.name": s.name,
    ...(s.namespace ? { "io.kubernetes.service.namespace": s.namespace } : {}),
  };
}

/** A LoadBalancer Service Cilium's LB-IPAM (and so BGP) handles. */
export function isCiliumLoadBalancer(s: Pick<Service, "type" | "loadBalancerClass">): boolean {
  return s.type === "LoadBalancer" && (s.loadBalancerClass === undefined || s.loadBalancerClass.startsWith("io.cilium/"));
}

export function describeSelector(sel: LabelSelector | undefined): string {
  if (!sel) return "(none)";
  const parts = [
    ...Object.entries(sel.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`),
    ...(sel.matchExpressions ?? []).map((e) => `${e.key} ${e.operator}${e.values?.length ? ` (${e.values.join(",")})` : ""}`),
  ];
  return parts.length ? parts.join(", ") : "{}";
}
