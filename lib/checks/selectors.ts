import type { LabelSelector } from "../repo/model.ts";

/** How a label selector reads in a finding: `advertise=bgp, home-ops.io/lb-pool NotIn (ingress,reserved)`. */
export function describeSelector(sel: LabelSelector | undefined): string {
  if (!sel) return "(none)";
  const parts = [
    ...Object.entries(sel.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`),
    ...(sel.matchExpressions ?? []).map((e) => `${e.key} ${e.operator}${e.values?.length ? ` (${e.values.join(",")})` : ""}`),
  ];
  return parts.length ? parts.join(", ") : "{}";
}
