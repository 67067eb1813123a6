/**
 * Label selectors as Kubernetes and Cilium evaluate them (metav1.LabelSelectorAsSelector): the one implementation
 * the repo model, the checks and the BGP diagnosis share (pure; loads no API client). What an ABSENT selector means
 * differs per field, so callers say it: a ClusterConfig without nodeSelector selects every node, a Service
 * advertisement without selector selects no Service (cilium#33076).
 */

export interface LabelSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

/** The reason a selector is invalid (then it matches nothing), or undefined. `NotIn` with no values: cilium#23280. */
export function selectorError(sel: LabelSelector | null | undefined): string | undefined {
  if (!sel) return undefined;
  for (const req of sel.matchExpressions ?? []) {
    const values = req.values ?? [];
    if (req.operator === "In" || req.operator === "NotIn") {
      if (values.length === 0) return `${req.operator} on "${req.key}" needs at least one value`;
    } else if (req.operator === "Exists" || req.operator === "DoesNotExist") {
      if (values.length > 0) return `${req.operator} on "${req.key}" takes no values`;
    } else return `"${req.operator}" is not a label selector operator (In, NotIn, Exists, DoesNotExist)`;
  }
  return undefined;
}

export function selectorMatches(
  sel: LabelSelector | null | undefined,
  labels: Record<string, string> | undefined,
  absentMeans: "all" | "none",
): boolean {
  if (sel === null || sel === undefined) return absentMeans === "all";
  if (selectorError(sel) !== undefined) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const req of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(l, req.key);
    const values = req.values ?? [];
    switch (req.operator) {
      case "In":
        if (!has || !values.includes(l[req.key]!)) return false;
        break;
      case "NotIn":
        if (has && values.includes(l[req.key]!)) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
    }
  }
  return true;
}

/** `app=web,tier in (a,b)` — for messages. */
export function formatSelector(sel: LabelSelector | null | undefined): string {
  if (sel === null || sel === undefined) return "(none)";
  const parts = Object.entries(sel.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const r of sel.matchExpressions ?? []) {
    if (r.operator === "Exists") parts.push(r.key);
    else if (r.operator === "DoesNotExist") parts.push(`!${r.key}`);
    else parts.push(`${r.key} ${r.operator.toLowerCase()} (${(r.values ?? []).join(",")})`);
  }
  return parts.length ? parts.join(",") : "(everything)";
}
