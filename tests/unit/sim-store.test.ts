import { describe, expect, test } from "bun:test";
import { CILIUM_KINDS, crdFor, kindFromCrd } from "../../lib/sim/kinds.ts";
import {
  applyJsonPatch,
  isStatusError,
  matchesLabels,
  mergePatch,
  parseFieldSelector,
  parseLabelSelector,
  SimStore,
  StatusError,
  type KubeObject,
  type WatchEvent,
} from "../../lib/sim/store.ts";

const node = (name: string, labels: Record<string, string> = {}, ready = "False"): KubeObject => ({
  apiVersion: "v1",
  kind: "Node",
  metadata: { name, labels },
  spec: {},
  status: { conditions: [{ type: "Ready", status: ready }] },
});

function statusOf(fn: () => unknown): { code: number; reason: string; message: string } {
  try {
    fn();
  } catch (e) {
    if (e instanceof StatusError) return { code: e.code, reason: e.reason, message: e.message };
    throw e;
  }
  throw new Error("expected a StatusError");
}

describe("SimStore basics", () => {
  test("create sets uid, resourceVersion, creationTimestamp; versions increase monotonically", () => {
    const s = new SimStore();
    const a = s.create(node("a"));
    const b = s.create(node("b"));
    expect(a.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Number(b.metadata.resourceVersion)).toBeGreaterThan(Number(a.metadata.resourceVersion));
    expect(s.resourceVersion).toBe(b.metadata.resourceVersion);
  });

  test("a Secret's stringData is folded into base64 data on create, update and apply, as the API server does", () => {
    const s = new SimStore();
    const secret = (stringData: Record<string, string>, data?: Record<string, string>): KubeObject =>
      ({ apiVersion: "v1", kind: "Secret", metadata: { name: "t", namespace: "default" }, type: "Opaque", ...(data ? { data } : {}), stringData }) as KubeObject;
    const created = s.create(secret({ token: "abc" }, { keep: Buffer.from("k").toString("base64") })) as KubeObject & { data?: Record<string, string> };
    expect(created.data).toEqual({ keep: "aw==", token: "YWJj" });
    expect("stringData" in created).toBe(false);
    const updated = s.update({ ...secret({ token: "xyz" }), metadata: { ...created.metadata } }) as KubeObject & { data?: Record<string, string> };
    expect(updated.data).toEqual({ token: "eHl6" });
    const applied = s.apply(secret({ other: "1" }), { fieldManager: "t" }) as KubeObject & { data?: Record<string, string>; stringData?: unknown };
    expect(applied.data?.other).toBe("MQ==");
    expect(applied.stringData).toBeUndefined();
  });

  test("seeds the standard namespaces with their label and phase", () => {
    const s = new SimStore();
    const names = s.list("namespaces").items.map((n) => n.metadata.name);
    expect(names).toEqual(["default", "kube-node-lease", "kube-public", "kube-system"]);
    const ks = s.get("ns", "kube-system");
    expect(ks.metadata.labels?.["kubernetes.io/metadata.name"]).toBe("kube-system");
    expect(ks.status.phase).toBe("Active");
  });

  test("duplicate create is 409 AlreadyExists; unknown get is 404 NotFound with kube's wording", () => {
    const s = new SimStore();
    s.create(node("a"));
    expect(statusOf(() => s.create(node("a")))).toMatchObject({ code: 409, reason: "AlreadyExists", message: 'nodes "a" already exists' });
    expect(statusOf(() => s.get("nodes", "zz"))).toMatchObject({ code: 404, reason: "NotFound", message: 'nodes "zz" not found' });
    s.installCrds(CILIUM_KINDS);
    expect(statusOf(() => s.get("ciliumbgpnodeconfigs", "x")).message).toBe('ciliumbgpnodeconfigs.cilium.io "x" not found');
  });

  test("invalid names are 422 Invalid; a namespaced object needs its namespace to exist", () => {
    const s = new SimStore();
    const bad = statusOf(() => s.create(node("Bad_Name")));
    expect(bad.code).toBe(422);
    expect(bad.reason).toBe("Invalid");
    expect(bad.message).toStartWith('Node "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain');
    expect(statusOf(() => s.create({ apiVersion: "v1", kind: "Node", metadata: {} })).message).toContain("name or generateName is required");
    expect(statusOf(() => s.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "nope" } }))).toMatchObject({
      code: 404,
      message: 'namespaces "nope" not found',
    });
    expect(statusOf(() => s.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "a.b" } })).code).toBe(422);
  });

  test("generateName makes a unique name", () => {
    const s = new SimStore();
    const a = s.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { generateName: "x-", namespace: "default" } });
    expect(a.metadata.name).toMatch(/^x-[a-z0-9]{5}$/);
  });

  test("update with a stale resourceVersion is 409 Conflict; without one it is unconditional", () => {
    const s = new SimStore();
    const a = s.create(node("a"));
    s.update({ ...a, spec: { unschedulable: true } });
    const c = statusOf(() => s.update({ ...a, spec: { unschedulable: false } }));
    expect(c).toMatchObject({ code: 409, reason: "Conflict" });
    expect(c.message).toBe('Operation cannot be fulfilled on nodes "a": the object has been modified; please apply your changes to the latest version and try again');
    const { resourceVersion: _rv, ...meta } = a.metadata;
    expect(s.update({ ...a, metadata: meta, spec: {} }).spec).toEqual({});
  });

  test("generation: set and bumped by spec changes for workloads and custom resources only, as Kubernetes does", () => {
    const s = new SimStore();
    s.installCrds(CILIUM_KINDS);
    const d = s.create({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "d", namespace: "default" }, spec: { replicas: 1 } });
    expect(d.metadata.generation).toBe(1);
    expect(s.patch("deployments", "d", "default", { spec: { replicas: 2 } }, { type: "merge" }).metadata.generation).toBe(2);
    expect(s.patch("deployments", "d", "default", { metadata: { labels: { a: "b" } } }, { type: "merge" }).metadata.generation).toBe(2);
    expect(s.updateStatus({ ...s.get("deployments", "d", "default"), status: { replicas: 2 } }).metadata.generation).toBe(2);
    const p = s.create({ apiVersion: "cilium.io/v2alpha1", kind: "CiliumBGPPeerConfig", metadata: { name: "p" }, spec: { a: 1 } });
    expect(p.metadata.generation).toBe(1);
    expect(s.patch("cbgppeer", "p", undefined, { spec: { a: 2 } }, { type: "merge" }).metadata.generation).toBe(2);
    const cm = s.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" }, data: { a: "1" } });
    expect(cm.metadata.generation).toBeUndefined();
    expect(s.patch("configmaps", "c", "default", { data: { a: "2" } }, { type: "merge" }).metadata.generation).toBeUndefined();
  });

  test("update of a missing object is 404; an update that changes nothing keeps the resourceVersion", () => {
    const s = new SimStore();
    expect(statusOf(() => s.update(node("ghost"))).code).toBe(404);
    const a = s.create(node("a"));
    expect(s.update(a).metadata.resourceVersion).toBe(a.metadata.resourceVersion);
  });

  test("status subresource: main writes ignore status, status writes ignore the rest and keep generation", () => {
    const s = new SimStore();
    const a = s.create(node("a"));
    const b = s.update({ ...a, spec: { unschedulable: true }, status: { conditions: [{ type: "Ready", status: "True" }] } });
    expect(b.status.conditions[0].status).toBe("False");
    expect(b.spec.unschedulable).toBe(true);
    const c = s.updateStatus({ ...b, spec: { unschedulable: false }, status: { conditions: [{ type: "Ready", status: "True" }] } });
    expect(c.status.conditions[0].status).toBe("True");
    expect(c.spec.unschedulable).toBe(true);
    expect(c.metadata.generation).toBe(b.metadata.generation);
  });

  test("list filters by namespace, label and field selectors, sorted like etcd keys", () => {
    const s = new SimStore();
    s.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "net" } });
    for (const [ns, name, node] of [
      ["net", "b", "n1"],
      ["default", "a", "n2"],
      ["net", "a", "n2"],
    ] as const) {
      s.create({ apiVersion: "v1", kind: "Pod", metadata: { name, namespace: ns, labels: { app: name } }, spec: { nodeName: node } });
    }
    expect(s.list("pods").items.map((p) => `${p.metadata.namespace}/${p.metadata.name}`)).toEqual(["default/a", "net/a", "net/b"]);
    expect(s.list("pods", { namespace: "net" }).items).toHaveLength(2);
    expect(s.list("pods", { labelSelector: "app=b" }).items.map((p) => p.metadata.name)).toEqual(["b"]);
    expect(s.list("pods", { labelSelector: "app in (a, b),app!=b" }).items).toHaveLength(2);
    expect(s.list("pods", { fieldSelector: "spec.nodeName=n2" }).items).toHaveLength(2);
    expect(s.list("pods", { fieldSelector: "metadata.namespace!=net,status.phase=Pending" }).items).toHaveLength(1);
    expect(statusOf(() => s.list("pods", { fieldSelector: "spec.image=x" }))).toMatchObject({ code: 400, message: "field label not supported: spec.image" });
  });

  test("label selector grammar", () => {
    const reqs = parseLabelSelector("a=1, b!=2, c in (x,y), d notin (z), e, !f");
    expect(reqs.map((r) => r.op)).toEqual(["=", "!=", "in", "notin", "exists", "!exists"]);
    expect(matchesLabels({ a: "1", c: "x", e: "" }, reqs)).toBe(true);
    expect(matchesLabels({ a: "1", c: "x", e: "", f: "" }, reqs)).toBe(false);
    expect(matchesLabels({ a: "1", c: "q", e: "" }, reqs)).toBe(false);
    expect(() => parseLabelSelector("a=(")).toThrow(StatusError);
    expect(parseFieldSelector("metadata.name==x")).toEqual([{ field: "metadata.name", op: "=", value: "x" }]);
  });

  test("delete removes; with finalizers it marks, and clearing them removes", () => {
    const s = new SimStore();
    s.create(node("a"));
    expect(s.delete("nodes", "a").metadata.name).toBe("a");
    expect(s.tryGet("nodes", "a")).toBeUndefined();
    expect(statusOf(() => s.delete("nodes", "a")).code).toBe(404);
    const b = s.create({ ...node("b"), metadata: { name: "b", finalizers: ["x/y"] } });
    const marked = s.delete("nodes", "b");
    expect(marked.metadata.deletionTimestamp).toBeDefined();
    expect(s.get("nodes", "b").metadata.deletionTimestamp).toBeDefined();
    s.mutate("nodes", "b", undefined, (o) => {
      o.metadata.finalizers = [];
    });
    expect(s.tryGet("nodes", "b")).toBeUndefined();
    expect(b.metadata.uid).toBeDefined();
  });

  test("delete preconditions", () => {
    const s = new SimStore();
    const a = s.create(node("a"));
    s.update({ ...a, spec: { unschedulable: true } });
    expect(statusOf(() => s.delete("nodes", "a", undefined, { preconditions: { resourceVersion: a.metadata.resourceVersion } })).code).toBe(409);
  });

  test("deleting a namespace deletes its objects", () => {
    const s = new SimStore();
    s.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "app" } });
    s.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "app" } });
    s.delete("namespaces", "app");
    expect(s.list("configmaps", { namespace: "app" }).items).toHaveLength(0);
  });
});

describe("kinds and CRDs", () => {
  test("kubectl-style names resolve, core wins over CRD groups", () => {
    const s = new SimStore();
    s.installCrds();
    expect(s.kinds.resolve("no").kind).toBe("Node");
    expect(s.kinds.resolve("nodes").group).toBe("");
    expect(s.kinds.resolve("nodes.longhorn.io").group).toBe("longhorn.io");
    expect(s.kinds.resolve("cbgpnode").kind).toBe("CiliumBGPNodeConfig");
    expect(s.kinds.resolve("ciliumbgpnodeconfigs.v2alpha1.cilium.io").plural).toBe("ciliumbgpnodeconfigs");
    expect(s.kinds.resolve({ apiVersion: "helm.toolkit.fluxcd.io/v2", kind: "HelmRelease" }).plural).toBe("helmreleases");
    expect(s.kinds.resolve({ group: "external-secrets.io", version: "v1beta1", resource: "clustersecretstores" }).namespaced).toBe(false);
    expect(statusOf(() => s.kinds.resolve("frobs")).code).toBe(404);
  });

  test("a CRD's kind is served once the CRD is created, Established by default, and gone with it", () => {
    const s = new SimStore();
    expect(s.kinds.tryResolve("ciliumbgpnodeconfigs")).toBeUndefined();
    const k = CILIUM_KINDS.find((x) => x.plural === "ciliumbgpnodeconfigs")!;
    s.create(crdFor(k) as KubeObject);
    const crd = s.get("crd", "ciliumbgpnodeconfigs.cilium.io");
    expect(crd.status.conditions.find((c: { type: string }) => c.type === "Established").status).toBe("True");
    s.create({ apiVersion: "cilium.io/v2alpha1", kind: "CiliumBGPNodeConfig", metadata: { name: "n1" }, spec: {}, status: { x: 1 } });
    expect(s.get("cbgpnode", "n1").status).toBeUndefined(); // status is a subresource: dropped on create
    s.delete("crd", "ciliumbgpnodeconfigs.cilium.io");
    expect(s.kinds.tryResolve("ciliumbgpnodeconfigs")).toBeUndefined();
    expect(s.history("cbgpnode")).toHaveLength(0);
    expect(s.events.filter((e) => e.type === "DELETED" && e.object.metadata.name === "n1")).toHaveLength(1);
  });

  test("autoEstablishCrds=false leaves establishment to a controller", () => {
    const s = new SimStore({ autoEstablishCrds: false });
    s.installCrds(CILIUM_KINDS.slice(0, 1), { established: false });
    expect(s.get("crd", "ciliumbgpclusterconfigs.cilium.io").status).toBeUndefined();
    s.establishCrd("ciliumbgpclusterconfigs.cilium.io");
    expect(s.get("crd", "ciliumbgpclusterconfigs.cilium.io").status.conditions).toHaveLength(2);
  });

  test("a CRD whose name is not plural.group is 422", () => {
    const s = new SimStore();
    const crd = crdFor(CILIUM_KINDS[0]!) as KubeObject;
    crd.metadata.name = "wrong.cilium.io";
    expect(statusOf(() => s.create(crd))).toMatchObject({ code: 422 });
  });

  test("kindFromCrd round-trips", () => {
    for (const k of CILIUM_KINDS) expect(kindFromCrd(crdFor(k))).toEqual(k);
  });
});

describe("patches", () => {
  test("merge patch adds, replaces and deletes with null", () => {
    expect(mergePatch({ a: 1, b: { c: 2, d: 3 } }, { a: null, b: { c: 9 }, e: [1] })).toEqual({ b: { c: 9, d: 3 }, e: [1] });
    const s = new SimStore();
    s.create(node("a", { x: "1", y: "2" }));
    const p = s.patch("nodes", "a", undefined, { metadata: { labels: { x: null, z: "3" } } }, { type: "merge" });
    expect(p.metadata.labels).toEqual({ y: "2", z: "3" });
  });

  test("json patch ops, and a failed test op is 422", () => {
    expect(
      applyJsonPatch({ a: [1, 2], b: { c: 1 } }, [
        { op: "add", path: "/a/-", value: 3 },
        { op: "replace", path: "/b/c", value: 2 },
        { op: "copy", from: "/b", path: "/d" },
        { op: "move", from: "/d/c", path: "/e" },
        { op: "remove", path: "/a/0" },
        { op: "test", path: "/e", value: 2 },
      ]),
    ).toEqual({ a: [2, 3], b: { c: 2 }, d: {}, e: 2 });
    const s = new SimStore();
    s.create(node("a", { "a/b": "1" }));
    expect(s.patch("nodes", "a", undefined, [{ op: "remove", path: "/metadata/labels/a~1b" }], { type: "json" }).metadata.labels).toEqual({});
    expect(statusOf(() => s.patch("nodes", "a", undefined, [{ op: "test", path: "/spec/x", value: 1 }], { type: "json" })).code).toBe(422);
    expect(statusOf(() => s.patch("nodes", "b", undefined, { a: 1 }, { type: "merge" })).code).toBe(404);
  });

  test("strategic merge patch merges lists by their merge key and honours kubectl's directives", () => {
    const s = new SimStore();
    s.create({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: "default" },
      spec: {
        template: {
          spec: {
            containers: [
              { name: "app", image: "app:1", ports: [{ containerPort: 80, name: "http" }], env: [{ name: "A", value: "1" }] },
              { name: "sidecar", image: "side:1" },
            ],
          },
        },
      },
    });
    // what `kubectl set image deployment/web app=app:2` and a client-side apply send
    const r = s.patch(
      "deployments",
      "web",
      "default",
      {
        spec: {
          template: {
            spec: {
              "$setElementOrder/containers": [{ name: "app" }, { name: "sidecar" }],
              containers: [{ name: "app", image: "app:2", env: [{ name: "B", value: "2" }] }, { name: "sidecar", $patch: "delete" }],
            },
          },
        },
      },
      { type: "strategic" },
    );
    expect(r.spec.template.spec).toEqual({
      containers: [{ name: "app", image: "app:2", ports: [{ containerPort: 80, name: "http" }], env: [{ name: "A", value: "1" }, { name: "B", value: "2" }] }],
    });
    s.installCrds(CILIUM_KINDS);
    s.create({ apiVersion: "cilium.io/v2alpha1", kind: "CiliumBGPPeerConfig", metadata: { name: "p" }, spec: {} });
    // custom resources take merge or JSON patches only, as on a real server
    expect(statusOf(() => s.patch("cbgppeer", "p", undefined, { spec: { a: 1 } }, { type: "strategic" })).code).toBe(415);
  });

  test("a patch carrying a stale resourceVersion conflicts", () => {
    const s = new SimStore();
    const a = s.create(node("a"));
    s.patch("nodes", "a", undefined, { spec: { unschedulable: true } }, { type: "merge" });
    expect(statusOf(() => s.patch("nodes", "a", undefined, { metadata: { resourceVersion: a.metadata.resourceVersion } }, { type: "merge" })).code).toBe(409);
  });
});

describe("server-side apply", () => {
  const cm = (data: Record<string, string>, extra: Record<string, unknown> = {}): KubeObject => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "c", namespace: "default", ...extra },
    data,
  });

  test("creates when absent and records an Apply managedFields entry", () => {
    const s = new SimStore();
    const a = s.apply(cm({ k: "v" }), { fieldManager: "home-ops" });
    expect(a.data).toEqual({ k: "v" });
    expect(a.metadata.managedFields).toEqual([
      expect.objectContaining({ manager: "home-ops", operation: "Apply", fieldsV1: { "f:data": { "f:k": {} } } }),
    ]);
  });

  test("a field manager is required", () => {
    const s = new SimStore();
    expect(statusOf(() => s.apply(cm({ k: "v" }))).code).toBe(400);
  });

  test("re-applying the same config is a no-op (same resourceVersion)", () => {
    const s = new SimStore();
    const a = s.apply(cm({ k: "v" }), { fieldManager: "m" });
    expect(s.apply(cm({ k: "v" }), { fieldManager: "m" }).metadata.resourceVersion).toBe(a.metadata.resourceVersion);
  });

  test("fields dropped from the applied config are removed; others' fields stay", () => {
    const s = new SimStore();
    s.apply(cm({ a: "1", b: "2" }), { fieldManager: "m" });
    s.patch("configmaps", "c", "default", { data: { other: "x" } }, { type: "merge", fieldManager: "kubectl-edit" });
    const r = s.apply(cm({ a: "1" }), { fieldManager: "m" });
    expect(r.data).toEqual({ a: "1", other: "x" });
  });

  test("another manager changing an owned field conflicts (409) unless forced; same value is shared", () => {
    const s = new SimStore();
    s.apply(cm({ a: "1" }), { fieldManager: "flux" });
    const c = statusOf(() => s.apply(cm({ a: "2" }), { fieldManager: "home-ops" }));
    expect(c).toMatchObject({ code: 409, reason: "Conflict", message: 'Apply failed with 1 conflict: conflict with "flux": .data.a' });
    expect(s.apply(cm({ a: "1", b: "x" }), { fieldManager: "home-ops" }).data).toEqual({ a: "1", b: "x" });
    const forced = s.apply(cm({ a: "3" }), { fieldManager: "home-ops", force: true });
    expect((forced.data as Record<string, string>).a).toBe("3");
    const owners = forced.metadata.managedFields!.filter((m) => JSON.stringify(m.fieldsV1).includes('"f:a"')).map((m) => m.manager);
    expect(owners).toEqual(["home-ops"]);
  });

  test("apply through patch() checks the name against the URL", () => {
    const s = new SimStore();
    expect(statusOf(() => s.patch("configmaps", "other", "default", cm({ a: "1" }), { type: "apply", fieldManager: "m" })).code).toBe(400);
    expect(s.patch("configmaps", "c", "default", cm({ a: "1" }), { type: "apply", fieldManager: "m" }).data).toEqual({ a: "1" });
  });

  test("status apply writes only status", () => {
    const s = new SimStore();
    s.create(node("a"));
    const r = s.apply({ apiVersion: "v1", kind: "Node", metadata: { name: "a" }, spec: { unschedulable: true }, status: { phase: "x" } }, { fieldManager: "kubelet", subresource: "status" });
    expect(r.status.phase).toBe("x");
    expect(r.spec.unschedulable).toBeUndefined();
  });

  test("dry run stores nothing", () => {
    const s = new SimStore();
    const rv = s.resourceVersion;
    s.apply(cm({ a: "1" }), { fieldManager: "m", dryRun: true });
    s.create(node("n"), { dryRun: true });
    expect(s.tryGet("configmaps", "c", "default")).toBeUndefined();
    expect(s.tryGet("nodes", "n")).toBeUndefined();
    expect(s.resourceVersion).toBe(rv);
  });
});

describe("watch and history", () => {
  test("from a resourceVersion: replays later changes, then live ones", () => {
    const s = new SimStore();
    const a = s.create(node("a"));
    s.create(node("b"));
    const seen: string[] = [];
    const w = s.watch("nodes", { resourceVersion: a.metadata.resourceVersion }, (e) => seen.push(`${e.type}:${e.object.metadata.name}`));
    s.patch("nodes", "a", undefined, { metadata: { labels: { x: "1" } } }, { type: "merge" });
    s.delete("nodes", "b");
    w.stop();
    s.create(node("c"));
    expect(seen).toEqual(["ADDED:b", "MODIFIED:a", "DELETED:b"]);
  });

  test("without a resourceVersion: current state as ADDED first", () => {
    const s = new SimStore();
    s.create(node("a"));
    const seen: string[] = [];
    s.watch("nodes", {}, (e) => seen.push(`${e.type}:${e.object.metadata.name}`));
    s.create(node("b"));
    expect(seen).toEqual(["ADDED:a", "ADDED:b"]);
  });

  test("a label-selected watch sees objects enter as ADDED and leave as DELETED", () => {
    const s = new SimStore();
    s.create(node("a"));
    const seen: string[] = [];
    s.watch("nodes", { labelSelector: "role=cp", resourceVersion: s.resourceVersion }, (e) => seen.push(`${e.type}:${e.object.metadata.name}`));
    s.patch("nodes", "a", undefined, { metadata: { labels: { role: "cp" } } }, { type: "merge" });
    s.patch("nodes", "a", undefined, { metadata: { labels: { x: "1" } } }, { type: "merge" });
    s.patch("nodes", "a", undefined, { metadata: { labels: { role: null } } }, { type: "merge" });
    expect(seen).toEqual(["ADDED:a", "MODIFIED:a", "DELETED:a"]);
  });

  test("resuming from before the kept history is 410 Expired", () => {
    const s = new SimStore({ watchHistory: 3 });
    const first = s.create(node("a"));
    for (let i = 0; i < 5; i++) s.patch("nodes", "a", undefined, { metadata: { labels: { i: String(i) } } }, { type: "merge" });
    const e = statusOf(() => s.watch("nodes", { resourceVersion: first.metadata.resourceVersion }, () => {}));
    expect(e).toMatchObject({ code: 410, reason: "Expired" });
    expect(e.message).toMatch(/^too old resource version: \d+ \(\d+\)$/);
    // the last 3 changes can still be resumed
    const seen: WatchEvent[] = [];
    s.watch("nodes", { resourceVersion: String(Number(s.resourceVersion) - 3) }, (ev) => seen.push(ev));
    expect(seen).toHaveLength(3);
    s.compact();
    expect(isStatusError((() => { try { s.watch("nodes", { resourceVersion: String(Number(s.resourceVersion) - 1) }, () => {}); } catch (x) { return x; } })(), 410)).toBe(true);
  });

  test("changes made inside a callback are delivered after the current one, in order, to every watcher", () => {
    const s = new SimStore();
    const order1: string[] = [];
    const order2: string[] = [];
    s.watch("nodes", { resourceVersion: s.resourceVersion }, (e) => {
      order1.push(`${e.type}:${e.object.metadata.name}`);
      if (e.object.metadata.name === "a" && e.type === "ADDED") s.create(node("b"));
    });
    s.watch("nodes", { resourceVersion: s.resourceVersion }, (e) => order2.push(`${e.type}:${e.object.metadata.name}`));
    s.create(node("a"));
    expect(order1).toEqual(["ADDED:a", "ADDED:b"]);
    expect(order2).toEqual(["ADDED:a", "ADDED:b"]);
  });

  test("events history answers 'were two nodes ever NotReady at once'", () => {
    const s = new SimStore();
    for (const n of ["a", "b", "c"]) s.create(node(n, {}, "True"));
    const setReady = (n: string, v: string) =>
      s.mutate("nodes", n, undefined, (o) => {
        o.status.conditions[0].status = v;
      }, { subresource: "status" });
    setReady("a", "False");
    setReady("a", "True");
    setReady("b", "False");
    setReady("b", "True");
    const down = new Set<string>();
    let maxDown = 0;
    for (const ev of s.history("nodes")) {
      const ready = ev.object.status?.conditions?.[0]?.status === "True";
      if (ev.type !== "DELETED" && !ready) down.add(ev.object.metadata.name);
      else down.delete(ev.object.metadata.name);
      maxDown = Math.max(maxDown, down.size);
    }
    expect(maxDown).toBe(1);
    expect(s.history("nodes", "a").map((e) => e.type)).toEqual(["ADDED", "MODIFIED", "MODIFIED"]);
    expect(s.history("nodes", "a")[1]!.oldObject!.status.conditions[0].status).toBe("True");
  });

  test("subscribe sees every kind with oldObject", () => {
    const s = new SimStore();
    const seen: string[] = [];
    const off = s.subscribe((e) => seen.push(`${e.kind.kind}:${e.type}`));
    s.create(node("a"));
    s.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" } });
    off();
    s.create(node("b"));
    expect(seen).toEqual(["Node:ADDED", "ConfigMap:ADDED"]);
  });

  test("history snapshots are frozen: a reader cannot corrupt the store", () => {
    const s = new SimStore();
    s.create(node("a"));
    const ev = s.history("nodes", "a")[0]!;
    expect(() => {
      ev.object.metadata.labels!.x = "1";
    }).toThrow(TypeError);
    expect(s.get("nodes", "a").metadata.labels).toEqual({});
  });

  test("returned objects are copies", () => {
    const s = new SimStore();
    const a = s.create(node("a"));
    a.metadata.labels!.x = "mutated";
    expect(s.get("nodes", "a").metadata.labels).toEqual({});
  });
});
