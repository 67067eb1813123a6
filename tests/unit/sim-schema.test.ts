/**
 * lib/sim/schema.ts: what the simulated API server checks and fills in on a write, as a real kube-apiserver does —
 * CRD structural schemas (types, required, enum, int-or-string, nullable; undeclared fields pruned or refused under
 * Strict), the typed fields of built-in workloads, and their defaults. Through SimStore too, so the status codes
 * are the ones clients see.
 */
import { describe, expect, test } from "bun:test";
import { builtinDefaults, validateCustomResource } from "../../lib/sim/schema.ts";
import { SimStore, isStatusError } from "../../lib/sim/store.ts";
import { BUILTIN_KINDS, crdFor, kindInfo } from "../../lib/sim/kinds.ts";

const schema = {
  type: "object",
  properties: {
    spec: {
      type: "object",
      required: ["size"],
      properties: {
        size: { "x-kubernetes-int-or-string": true },
        mode: { type: "string", enum: ["fast", "safe"] },
        note: { type: "string", nullable: true },
        items: { type: "array", items: { type: "object", properties: { n: { type: "integer" } } } },
        free: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
      },
    },
  },
};

describe("validateCustomResource", () => {
  test("valid objects pass; undeclared fields are pruned (not under preserve-unknown-fields)", () => {
    const obj: any = { apiVersion: "x/v1", kind: "X", metadata: { name: "a" }, spec: { size: "10Gi", mode: "fast", note: null, items: [{ n: 1, extra: true }], free: { anything: 1 }, typo: 1 } };
    expect(validateCustomResource(schema, obj)).toEqual([]);
    expect(obj.spec).toEqual({ size: "10Gi", mode: "fast", note: null, items: [{ n: 1 }], free: { anything: 1 } });
  });
  test("wrong types, a missing required field and a value outside the enum are 422 problems naming the field", () => {
    const problems = validateCustomResource(schema, { spec: { mode: "turbo", items: [{ n: "one" }], size: true } });
    expect(problems.map((p) => [p.code, p.field])).toEqual([
      [422, "spec.mode"],
      [422, "spec.items[0].n"],
      [422, "spec.size"],
    ]);
    expect(problems[1]!.message).toBe('Invalid value: "string": spec.items[0].n in body must be of type integer: "string"');
    expect(validateCustomResource(schema, { spec: {} }).map((p) => [p.field, p.message])).toEqual([["spec.size", "Required value"]]);
  });
  test("under Strict an undeclared field is refused (400), under Warn it is dropped", () => {
    expect(validateCustomResource(schema, { spec: { size: 1, typo: 1 } }, "Strict")).toEqual([{ code: 400, field: "spec.typo", message: 'unknown field "spec.typo"', reason: "FieldValueNotSupported" }]);
    expect(validateCustomResource(schema, { spec: { size: 1, typo: 1 } }, "Warn")).toEqual([]);
  });
});

describe("built-in workloads", () => {
  const deployment = BUILTIN_KINDS.find((k) => k.kind === "Deployment")!;
  test("the server fills in the update strategy and replicas; what is set stays", () => {
    const obj: any = { spec: { strategy: { rollingUpdate: { maxSurge: 0 } } } };
    builtinDefaults(deployment, obj);
    expect(obj.spec).toMatchObject({ replicas: 1, revisionHistoryLimit: 10, strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 0, maxUnavailable: "25%" } } });
    const ds: any = { spec: {} };
    builtinDefaults(BUILTIN_KINDS.find((k) => k.kind === "DaemonSet")!, ds);
    expect(ds.spec.updateStrategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } });
  });
  test("through the store: replicas \"two\" is a 400; a stored Deployment has its strategy", () => {
    const store = new SimStore();
    const base = { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "d", namespace: "default" } };
    const err = (() => {
      try {
        store.create({ ...base, spec: { replicas: "two" } } as never);
      } catch (e) {
        return e;
      }
    })();
    expect(isStatusError(err, 400)).toBe(true);
    expect((err as Error).message).toContain("cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32");
    const made = store.create({ ...base, spec: { selector: {}, template: {} } } as never) as any;
    expect(made.spec.strategy.type).toBe("RollingUpdate");
  });
});

test("through the store: a custom resource of a CRD with a schema is checked and pruned; Strict refuses", () => {
  const store = new SimStore({ autoEstablishCrds: true } as never);
  const pool = kindInfo({ group: "cilium.io", version: "v2alpha1", kind: "CiliumLoadBalancerIPPool", plural: "ciliumloadbalancerippools", namespaced: false });
  store.create(crdFor(pool) as never);
  const obj = { apiVersion: "cilium.io/v2alpha1", kind: "CiliumLoadBalancerIPPool", metadata: { name: "p" }, spec: { blocks: [{ cidr: "198.51.100.0/24" }], disabeld: true } };
  expect(() => store.create(obj as never, { fieldValidation: "Strict" })).toThrow('strict decoding error: unknown field "spec.disabeld"');
  const made = store.create(obj as never) as any;
  expect(made.spec).toEqual({ blocks: [{ cidr: "198.51.100.0/24" }] });
  const wrong = (() => {
    try {
      store.apply({ ...obj, metadata: { name: "q" }, spec: { disabled: "yes" } } as never, { fieldManager: "t" });
    } catch (e) {
      return e;
    }
  })();
  expect(isStatusError(wrong, 422)).toBe(true);
  expect((wrong as Error).message).toContain('spec.disabled: Invalid value: "string": spec.disabled in body must be of type boolean');
});
