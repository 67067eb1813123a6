/**
 * What a real kube-apiserver checks and fills in on every write, where real clients notice it:
 *
 * - custom resources against their CRD's structural openAPIV3Schema: a value of the wrong type, a missing required
 *   field or a value outside an enum is a 422 Invalid naming the field ("spec.interval in body must be of type
 *   string: \"integer\""); fields the schema does not declare are pruned, or refused with fieldValidation=Strict
 *   (what `kubectl --validate=strict`, kubectl's default, sends);
 * - built-in workloads: the integer and boolean fields a typed Go struct would refuse to decode (400 "cannot be
 *   handled as a Deployment"), and the defaults real clients rely on (update strategies: `kubectl rollout status`
 *   needs them; replicas; revisionHistoryLimit).
 */
import type { KindInfo } from "./kinds.ts";
import { checkCustomResource, fieldPath, jsonType as jsType, type StructuralSchema } from "../repo/crd-schema.ts";

export type FieldValidation = "Strict" | "Warn" | "Ignore";

export interface SchemaProblem {
  /** 422 Invalid (schema) or 400 BadRequest (decoding: wrong type in a built-in, unknown field under Strict) */
  code: 400 | 422;
  field: string;
  message: string;
  reason?: string;
}

type Schema = StructuralSchema;

/**
 * Validates `obj` (a custom resource) against `schema` (the CRD version's openAPIV3Schema) and prunes undeclared
 * fields in place. Returns the problems; unknown fields are problems only with fieldValidation Strict.
 */
export function validateCustomResource(schema: Schema | undefined, obj: Record<string, unknown>, validation: FieldValidation = "Warn"): SchemaProblem[] {
  if (!schema || typeof schema !== "object") return [];
  const problems: SchemaProblem[] = [];
  const unknown: string[] = [];
  for (const p of checkCustomResource(schema, obj, { prune: true })) {
    const at = fieldPath(p.path) || "<root>";
    if (p.kind === "unknown") unknown.push(at);
    else if (p.kind === "type") problems.push({ code: 422, field: at, message: `Invalid value: "${p.actual}": ${at} in body must be of type ${p.expected}: "${p.actual}"`, reason: "FieldValueTypeInvalid" });
    else if (p.kind === "enum") problems.push({ code: 422, field: at, message: `Unsupported value: ${JSON.stringify(p.value)}: supported values: ${p.allowed.map((e) => JSON.stringify(e)).join(", ")}`, reason: "FieldValueNotSupported" });
    else problems.push({ code: 422, field: at, message: "Required value", reason: "FieldValueRequired" });
  }
  if (validation === "Strict")
    for (const f of unknown) problems.push({ code: 400, field: f, message: `unknown field "${f}"`, reason: "FieldValueNotSupported" });
  return problems;
}

/** Integer and boolean fields of the built-in workloads (their Go types refuse anything else when decoding). */
const WORKLOAD_TYPED: Record<string, Record<string, "int32" | "bool">> = {
  Deployment: { replicas: "int32", minReadySeconds: "int32", revisionHistoryLimit: "int32", progressDeadlineSeconds: "int32", paused: "bool" },
  StatefulSet: { replicas: "int32", minReadySeconds: "int32", revisionHistoryLimit: "int32" },
  DaemonSet: { minReadySeconds: "int32", revisionHistoryLimit: "int32" },
  ReplicaSet: { replicas: "int32", minReadySeconds: "int32" },
  Job: { parallelism: "int32", completions: "int32", backoffLimit: "int32", activeDeadlineSeconds: "int32", ttlSecondsAfterFinished: "int32", suspend: "bool" },
};

/** A wrong type in a built-in workload's spec: the decoding error of the real server (400), or undefined. */
export function builtinDecodeProblem(k: KindInfo, obj: Record<string, any>): SchemaProblem | undefined {
  const typed = k.group === "apps" || k.group === "batch" ? WORKLOAD_TYPED[k.kind] : undefined;
  if (!typed || typeof obj.spec !== "object" || obj.spec === null) return undefined;
  for (const [field, type] of Object.entries(typed)) {
    const v = obj.spec[field];
    if (v === undefined || v === null) continue;
    const ok = type === "bool" ? typeof v === "boolean" : typeof v === "number" && Number.isInteger(v);
    if (!ok)
      return {
        code: 400,
        field: `spec.${field}`,
        message: `${k.kind} in version "${k.version}" cannot be handled as a ${k.kind}: json: cannot unmarshal ${jsType(v) === "integer" ? "number" : jsType(v)} into Go struct field ${k.kind}Spec.spec.${field} of type ${type}`,
      };
  }
  return undefined;
}

/** The defaults the real server fills into built-in workloads (only where the field is absent). */
export function builtinDefaults(k: KindInfo, obj: Record<string, any>): void {
  if (k.group !== "apps" || typeof obj.spec !== "object" || obj.spec === null) return;
  const spec = obj.spec;
  if (k.kind === "Deployment") {
    spec.replicas ??= 1;
    spec.revisionHistoryLimit ??= 10;
    spec.progressDeadlineSeconds ??= 600;
    spec.strategy ??= {};
    spec.strategy.type ??= "RollingUpdate";
    if (spec.strategy.type === "RollingUpdate") spec.strategy.rollingUpdate = { maxUnavailable: "25%", maxSurge: "25%", ...(spec.strategy.rollingUpdate ?? {}) };
  } else if (k.kind === "DaemonSet") {
    spec.revisionHistoryLimit ??= 10;
    spec.updateStrategy ??= {};
    spec.updateStrategy.type ??= "RollingUpdate";
    if (spec.updateStrategy.type === "RollingUpdate") spec.updateStrategy.rollingUpdate = { maxUnavailable: 1, maxSurge: 0, ...(spec.updateStrategy.rollingUpdate ?? {}) };
  } else if (k.kind === "StatefulSet") {
    spec.replicas ??= 1;
    spec.revisionHistoryLimit ??= 10;
    spec.podManagementPolicy ??= "OrderedReady";
    spec.updateStrategy ??= {};
    spec.updateStrategy.type ??= "RollingUpdate";
    if (spec.updateStrategy.type === "RollingUpdate") spec.updateStrategy.rollingUpdate = { partition: 0, ...(spec.updateStrategy.rollingUpdate ?? {}) };
  } else if (k.kind === "ReplicaSet") {
    spec.replicas ??= 1;
  }
}
