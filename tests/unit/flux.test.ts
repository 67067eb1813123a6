import { describe, expect, test } from "bun:test";
import path from "node:path";
import { OperationError } from "../../lib/cli/errors.ts";
import {
  describeNotReady,
  expectedFluxObjects,
  fluxInstallArgv,
  fluxReport,
  readinessOf,
  reconcileHandled,
  reconcileRequestPatch,
  RECONCILE_ANNOTATION,
  suspendPatch,
} from "../../lib/flux/index.ts";
import { reconcile, setSuspended, type FluxApi } from "../../lib/flux/ops.ts";
import { loadRepo } from "../../lib/repo/model.ts";

const model = loadRepo(path.resolve(import.meta.dir, "../.."));

const ks = (name: string, status: Record<string, unknown> | undefined, gen = 1, extra: Record<string, unknown> = {}) => ({
  apiVersion: "kustomize.toolkit.fluxcd.io/v1",
  kind: "Kustomization",
  metadata: { name, namespace: "flux-system", generation: gen },
  spec: { ...extra },
  ...(status ? { status } : {}),
});
const ready = (observedGeneration = 1) => ({ observedGeneration, conditions: [{ type: "Ready", status: "True", reason: "ReconciliationSucceeded", message: "Applied revision: main@sha1:abc" }] });

describe("readiness (kstatus)", () => {
  test("Ready=True for the current generation is ready", () => {
    expect(readinessOf(ks("a", ready())).ready).toBe(true);
  });
  test("Ready=True for an older generation is not (Progressing)", () => {
    const r = readinessOf(ks("a", ready(1), 2));
    expect(r.ready).toBe(false);
    expect(r.reason).toBe("Progressing");
  });
  test("no status yet, False with a message, suspended", () => {
    expect(readinessOf(ks("a", undefined)).reason).toBe("NoStatus");
    const f = readinessOf(ks("a", { conditions: [{ type: "Ready", status: "False", reason: "BuildFailed", message: "kustomize build failed" }] }));
    expect(f.ready).toBe(false);
    expect(describeNotReady(f)).toBe("Kustomization flux-system/a: BuildFailed: kustomize build failed");
    expect(readinessOf(ks("a", undefined, 1, { suspend: true })).reason).toBe("Suspended");
  });
});

describe("expected objects and the report", () => {
  test("every Kustomization and HelmRelease of the repo is expected, with namespaces", () => {
    const e = expectedFluxObjects(model);
    expect(e.filter((x) => x.kind === "Kustomization").length).toBe(model.kustomizations.length);
    expect(e.some((x) => x.kind === "Kustomization" && x.name === "cluster-apps" && x.namespace === "flux-system")).toBe(true);
    expect(e.some((x) => x.kind === "HelmRelease" && x.name === "cilium" && x.namespace === "kube-system")).toBe(true);
  });
  test("missing objects are NotFound; extra ones are reported, not awaited", () => {
    const r = fluxReport(
      [
        { kind: "Kustomization", name: "a", namespace: "flux-system" },
        { kind: "Kustomization", name: "b", namespace: "flux-system" },
      ],
      [ks("a", ready()), ks("z", undefined)],
    );
    expect(r.ready).toBe(false);
    expect(r.notReady.map((n) => `${n.name}:${n.reason}`)).toEqual(["b:NotFound"]);
    expect(r.extra.map((x) => x.name)).toEqual(["z"]);
  });
  test("an empty cluster is never Ready when the repo expects objects", () => {
    expect(fluxReport([{ kind: "HelmRelease", name: "x", namespace: "y" }], []).ready).toBe(false);
  });
});

describe("CLI argv and patches", () => {
  test("flux install pins the version", () => {
    expect(fluxInstallArgv("2.4.0")).toEqual(["install", "--version=v2.4.0", "--namespace=flux-system"]);
    expect(fluxInstallArgv("v2.4.0")[1]).toBe("--version=v2.4.0");
  });
  test("reconcile and suspend patches", () => {
    expect(reconcileRequestPatch("t1")).toEqual({ metadata: { annotations: { [RECONCILE_ANNOTATION]: "t1" } } });
    expect(suspendPatch(true)).toEqual({ spec: { suspend: true } });
  });
  test("reconcileHandled waits for the token, then Ready; a failure after handling throws", () => {
    expect(reconcileHandled(ks("a", ready()), "t1").done).toBe(false);
    expect(reconcileHandled(ks("a", { ...ready(), lastHandledReconcileAt: "t1" }), "t1").done).toBe(true);
    expect(() =>
      reconcileHandled(ks("a", { lastHandledReconcileAt: "t1", observedGeneration: 1, conditions: [{ type: "Ready", status: "False", reason: "BuildFailed", message: "x" }] }), "t1"),
    ).toThrow(OperationError);
  });
});

/** An in-memory FluxApi: patches apply; a "controller" handles reconcile requests at once. */
function memoryApi(objs: ReturnType<typeof ks>[]): FluxApi & { patches: unknown[] } {
  const patches: unknown[] = [];
  return {
    patches,
    async list(q) {
      return objs.filter((o) => o.kind === q.kind && (!q.namespace || o.metadata.namespace === q.namespace)) as never;
    },
    async patch(_ref, name, _ns, p) {
      patches.push({ name, p });
      const o = objs.find((x) => x.metadata.name === name)!;
      const pp = p as { spec?: Record<string, unknown>; metadata?: { annotations?: Record<string, string> } };
      if (pp.spec) Object.assign(o.spec, pp.spec);
      const token = pp.metadata?.annotations?.[RECONCILE_ANNOTATION];
      if (token) (o as { status?: Record<string, unknown> }).status = { ...ready(), lastHandledReconcileAt: token };
    },
    async waitFor(q, check) {
      const items = objs.filter((o) => o.kind === q.kind && o.metadata.name === q.name);
      const r = check(items as never);
      if (!r.done) throw new Error(`not done: ${r.detail}`);
      return items;
    },
  };
}

describe("ops", () => {
  test("reconcile patches the request and waits for it to be handled", async () => {
    const api = memoryApi([ks("a", ready())]);
    await reconcile(api, [{ kind: "Kustomization", name: "a", namespace: "flux-system" }], { token: "t9", timeoutMs: 1000 });
    expect(api.patches).toEqual([{ name: "a", p: reconcileRequestPatch("t9") }]);
  });
  test("reconcile refuses a suspended object and a missing one", async () => {
    const api = memoryApi([ks("a", ready(), 1, { suspend: true })]);
    await expect(reconcile(api, [{ kind: "Kustomization", name: "a", namespace: "flux-system" }], { timeoutMs: 1000 })).rejects.toThrow(/suspended/);
    await expect(reconcile(api, [{ kind: "Kustomization", name: "nope", namespace: "flux-system" }], { timeoutMs: 1000 })).rejects.toThrow(/not on the cluster/);
    expect(api.patches).toEqual([]);
  });
  test("setSuspended patches spec.suspend on each", async () => {
    const objs = [ks("a", ready()), ks("b", ready())];
    const api = memoryApi(objs);
    await setSuspended(api, [{ kind: "Kustomization", name: "a", namespace: "flux-system" }, { kind: "Kustomization", name: "b", namespace: "flux-system" }], true);
    expect(objs.every((o) => (o.spec as { suspend?: boolean }).suspend === true)).toBe(true);
  });
});
