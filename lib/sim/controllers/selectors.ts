/**
 * Kubernetes label selectors as the apimachinery `labels` package evaluates them (metav1.LabelSelectorAsSelector),
 * used by every emulated controller. A separate copy on purpose: the simulation must not share code with the
 * toolkit code it exercises (lib/bgp, lib/kube).
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

/**
 * Validates like LabelSelectorAsSelector: In/NotIn need at least one value, Exists/DoesNotExist none, any other
 * operator is an error. Returns the error text or undefined. (cilium#23280: `NotIn` with empty values is invalid.)
 */
export function selectorError(sel: LabelSelector | null | undefined): string | undefined {
  if (!sel) return undefined;
  for (const req of sel.matchExpressions ?? []) {
    const values = req.values ?? [];
    switch (req.operator) {
      case "In":
      case "NotIn":
        if (values.length === 0) return `values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty`;
        break;
      case "Exists":
      case "DoesNotExist":
        if (values.length > 0) return `values: Invalid value: ${JSON.stringify(values)}: values set must be empty for exists and does not exist`;
        break;
      default:
        return `"${req.operator}" is not a valid label selector operator`;
    }
  }
  return undefined;
}

/**
 * Whether `labels` satisfy `sel`. An absent selector (nil) matches nothing when `nilMatches` is false (Cilium's
 * service advertisement, cilium#33076) and everything when true; an empty selector `{}` matches everything.
 * An invalid selector matches nothing.
 */
export function selectorMatches(
  sel: LabelSelector | null | undefined,
  labels: Record<string, string> | undefined,
  nilMatches: boolean,
): boolean {
  if (sel === null || sel === undefined) return nilMatches;
  if (selectorError(sel) !== undefined) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const req of sel.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(l, req.key);
    const value = l[req.key];
    const values = req.values ?? [];
    switch (req.operator) {
      case "In":
        if (!has || !values.includes(value as string)) return false;
        break;
      case "NotIn":
        if (has && values.includes(value as string)) return false;
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
