/**
 * How a kube-apiserver judges a custom resource against its CRD's structural openAPIV3Schema: types (with
 * int-or-string and nullable), enums, required fields, and fields the schema does not declare (pruned, or refused
 * under strict field validation). One home for it: validate checks the repo's custom resources with it (the schemas
 * of lib/repo/charts.ts), and lib/sim's API answers writes with it (lib/sim/schema.ts words the problems as a real
 * server does).
 */
export type CrdPathSeg = string | number;

export type CrdProblem =
  | { kind: "type"; path: CrdPathSeg[]; expected: string; actual: string }
  | { kind: "enum"; path: CrdPathSeg[]; value: unknown; allowed: unknown[] }
  | { kind: "required"; path: CrdPathSeg[] }
  /** a field the schema does not declare */
  | { kind: "unknown"; path: CrdPathSeg[] };

/** A structural schema as a CRD carries it (lib/repo/charts.ts CrdSchema, or one read from a CRD object). */
export interface StructuralSchema {
  type?: string;
  properties?: Record<string, StructuralSchema>;
  additionalProperties?: StructuralSchema | boolean;
  items?: StructuralSchema;
  required?: string[];
  enum?: unknown[];
  nullable?: boolean;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-int-or-string"?: boolean;
  "x-kubernetes-embedded-resource"?: boolean;
}
type Schema = StructuralSchema;

/** The JSON type of a value as the API server names it ("integer" for whole numbers). */
export const jsonType = (v: unknown): string =>
  v === null ? "null" : Array.isArray(v) ? "array" : typeof v === "number" ? (Number.isInteger(v) ? "integer" : "number") : typeof v;

const typeOk = (type: string, v: unknown): boolean => {
  const t = jsonType(v);
  return type === t || (type === "number" && t === "integer");
};

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Every problem of `obj` against `schema`, in document order. With `prune`, undeclared fields are deleted from
 * `obj` as the API server prunes them.
 */
export function checkCustomResource(schema: StructuralSchema, obj: unknown, opts: { prune?: boolean } = {}): CrdProblem[] {
  const out: CrdProblem[] = [];
  walk(schema, obj, [], out, opts.prune ?? false, true);
  return out;
}

function walk(s: Schema, v: unknown, path: CrdPathSeg[], out: CrdProblem[], prune: boolean, root = false): void {
  if (v === null) {
    if (!s.nullable && s.type) out.push({ kind: "type", path, expected: s.type, actual: "null" });
    return;
  }
  if (s["x-kubernetes-int-or-string"]) {
    if (!(typeof v === "string" || (typeof v === "number" && Number.isInteger(v)))) out.push({ kind: "type", path, expected: "integer,string", actual: jsonType(v) });
    return;
  }
  if (s.type && !typeOk(s.type, v)) {
    out.push({ kind: "type", path, expected: s.type, actual: jsonType(v) });
    return;
  }
  if (s.enum && !s.enum.some((e) => e === v)) out.push({ kind: "enum", path, value: v, allowed: s.enum });
  if (Array.isArray(v)) {
    if (s.items) v.forEach((item, i) => walk(s.items!, item, [...path, i], out, prune));
    return;
  }
  if (!isObj(v)) return;
  for (const r of s.required ?? []) if (v[r] === undefined) out.push({ kind: "required", path: [...path, r] });
  const props = s.properties ?? {};
  const extra = typeof s.additionalProperties === "object" ? s.additionalProperties : undefined;
  for (const key of Object.keys(v)) {
    if (root && (key === "apiVersion" || key === "kind" || key === "metadata")) continue;
    const p = props[key] ?? extra;
    if (p) walk(p, v[key], [...path, key], out, prune);
    else if (!s["x-kubernetes-preserve-unknown-fields"] && s.additionalProperties !== true && !s["x-kubernetes-embedded-resource"]) {
      out.push({ kind: "unknown", path: [...path, key] });
      if (prune) delete v[key];
    }
  }
}

/** `spec.endpoints[0].port`, as the API server names a field. */
export function fieldPath(path: CrdPathSeg[]): string {
  let s = "";
  for (const p of path) s += typeof p === "number" ? `[${p}]` : s ? `.${p}` : p;
  return s;
}
