/**
 * The loose object shape the emulated controllers read and write: Kubernetes JSON as the API serves it. Specs and
 * statuses of third-party kinds are whatever users wrote, so they are typed loosely and read defensively.
 */

export interface ObjMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }[];
  finalizers?: string[];
  [k: string]: unknown;
}

export interface KObj {
  apiVersion: string;
  kind: string;
  metadata: ObjMeta;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec?: any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  status?: any;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  type?: string;
  [k: string]: unknown;
}

/** metav1.Condition as controllers write it. */
export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime?: string;
  observedGeneration?: number;
}

export const keyOf = (o: Pick<KObj, "metadata">): string =>
  o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;

/**
 * Merges new conditions into old ones keeping lastTransitionTime when the status did not change (what
 * apimachinery's meta.SetStatusCondition does), so rewriting an unchanged condition is a no-op.
 */
export function setConditions(old: Condition[] | undefined, next: Condition[], now: string): Condition[] {
  return next.map((c) => {
    const prev = (old ?? []).find((o) => o.type === c.type);
    const ltt = prev && prev.status === c.status && prev.lastTransitionTime ? prev.lastTransitionTime : now;
    return { ...c, lastTransitionTime: ltt };
  });
}

/** Stable deep equality for JSON values (key order ignored): the store's own comparison. */
export { deepEqual as jsonEqual } from "../store.ts";

export function nodeAddress(node: KObj, family: 4 | 6): string | undefined {
  const addrs = (node.status?.addresses ?? []) as { type: string; address: string }[];
  return addrs.find((a) => a.type === "InternalIP" && (family === 6 ? a.address.includes(":") : !a.address.includes(":")))?.address;
}

/** The node's Ready condition status: "True", "False", "Unknown" or undefined when it has none yet. */
export function nodeReady(node: KObj): string | undefined {
  const conds = (node.status?.conditions ?? []) as { type: string; status: string }[];
  return conds.find((c) => c.type === "Ready")?.status;
}

/**
 * A Secret's value, decoded. Reads `stringData` too: the real API server folds it into `data` on write, which the
 * simulated store may not do.
 */
export function secretValue(secret: KObj | undefined, key: string): string | undefined {
  if (!secret) return undefined;
  const raw = secret.data?.[key];
  if (raw !== undefined) return Buffer.from(raw, "base64").toString("utf8");
  return secret.stringData?.[key];
}

/** All keys of a Secret, decoded (data and stringData). */
export function secretValues(secret: KObj | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(secret?.data ?? {})) out[k] = Buffer.from(v, "base64").toString("utf8");
  for (const [k, v] of Object.entries(secret?.stringData ?? {})) out[k] = v;
  return out;
}
