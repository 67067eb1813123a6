/**
 * @kubernetes/client-node 1.x itself (not lib/kube) against the simulated API through the generated kubeconfig and
 * mTLS: typed and generic lists, merge patch and server-side apply, Watch with resume from a resourceVersion and the
 * 410 ERROR event, and an informer that re-lists after 410.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CoreV1Api, KubeConfig, KubernetesObjectApi, makeInformer, PatchStrategy, Watch, type KubernetesObject, type V1Node } from "@kubernetes/client-node";
import { startKubeApi, type KubeApi } from "../../lib/sim/kube-api.ts";
import { SimStore } from "../../lib/sim/store.ts";

let store: SimStore;
let api: KubeApi;
let kc: KubeConfig;

const node = (name: string) => ({
  apiVersion: "v1",
  kind: "Node",
  metadata: { name, labels: { "kubernetes.io/hostname": name } },
  spec: {},
  status: { conditions: [{ type: "Ready", status: "True" }] },
});
const label = (name: string, key: string, value: string) =>
  store.patch("nodes", name, undefined, { metadata: { labels: { [key]: value } } }, { type: "merge" });

beforeAll(async () => {
  store = new SimStore({ watchHistory: 20 });
  for (const n of ["k8s-0", "k8s-1", "k8s-2"]) store.create(node(n));
  api = await startKubeApi({ store, kubernetesVersion: "v1.31.1" });
  kc = new KubeConfig();
  kc.loadFromFile(api.kubeconfigPath);
});

afterAll(async () => {
  await api?.stop();
});

describe("@kubernetes/client-node 1.x against the simulated API", () => {
  test("CoreV1Api.listNode and KubernetesObjectApi.list", async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const nodes = await core.listNode();
    expect(nodes.items.map((n) => n.metadata?.name)).toEqual(["k8s-0", "k8s-1", "k8s-2"]);
    const objects = KubernetesObjectApi.makeApiClient(kc);
    const list = await objects.list("v1", "Node", undefined, undefined, undefined, undefined, undefined, "kubernetes.io/hostname=k8s-1");
    expect(list.items.map((n) => n.metadata?.name)).toEqual(["k8s-1"]);
  });

  test("merge patch and server-side apply through KubernetesObjectApi", async () => {
    const objects = KubernetesObjectApi.makeApiClient(kc);
    const patched = await objects.patch(
      { apiVersion: "v1", kind: "Node", metadata: { name: "k8s-0", labels: { zone: "a" } } },
      undefined,
      undefined,
      undefined,
      undefined,
      PatchStrategy.MergePatch,
    );
    expect(patched.metadata?.labels?.zone).toBe("a");
    expect(store.get("nodes", "k8s-0").metadata.labels?.zone).toBe("a");
    const cm: KubernetesObject & { data: Record<string, string> } = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cn", namespace: "default" }, data: { a: "1" } };
    await objects.patch(cm, undefined, undefined, "client-node-test", true, PatchStrategy.ServerSideApply);
    const stored = store.get("configmaps", "cn", "default");
    expect(stored.data).toEqual({ a: "1" });
    expect(stored.metadata.managedFields?.[0]).toMatchObject({ manager: "client-node-test", operation: "Apply" });
  });

  test("Watch resumes from a resourceVersion", async () => {
    const from = store.resourceVersion;
    label("k8s-1", "step", "1");
    const seen: string[] = [];
    let controller: AbortController | undefined;
    await new Promise<void>((resolve, reject) => {
      void new Watch(kc)
        .watch(
          "/api/v1/nodes",
          { resourceVersion: from },
          (type, obj: V1Node) => {
            seen.push(`${type}:${obj.metadata?.name}:${obj.metadata?.labels?.step}`);
            if (seen.length === 2) resolve();
          },
          (err) => (err ? reject(err) : undefined),
        )
        .then((c) => {
          controller = c;
          label("k8s-1", "step", "2");
        });
    });
    controller?.abort();
    expect(seen).toEqual(["MODIFIED:k8s-1:1", "MODIFIED:k8s-1:2"]);
  });

  test("Watch from a compacted resourceVersion gets the 410 ERROR event", async () => {
    const old = store.resourceVersion;
    for (let i = 0; i < 25; i++) label("k8s-2", "i", String(i));
    const [type, obj] = await new Promise<[string, { code?: number; reason?: string }]>((resolve) => {
      void new Watch(kc).watch("/api/v1/nodes", { resourceVersion: old }, (t, o) => resolve([t, o]), () => {});
    });
    expect(type).toBe("ERROR");
    expect(obj).toMatchObject({ code: 410, reason: "Expired" });
  });

  test("an informer lists, watches, and re-lists after 410", async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const informer = makeInformer(kc, "/api/v1/nodes", () => core.listNode());
    const updates: string[] = [];
    let onUpdate: (name: string) => void = () => {};
    informer.on("update", (n: V1Node) => {
      updates.push(`${n.metadata?.name}:${n.metadata?.labels?.phase ?? ""}`);
      onUpdate(`${n.metadata?.name}:${n.metadata?.labels?.phase ?? ""}`);
    });
    const watching = api.nextWatch();
    await informer.start();
    await watching;
    expect(informer.list().map((n) => n.metadata?.name).sort()).toEqual(["k8s-0", "k8s-1", "k8s-2"]);
    const first = new Promise<void>((r) => (onUpdate = (u) => u === "k8s-0:one" && r()));
    label("k8s-0", "phase", "one");
    await first;
    // the server drops the stream and the history is compacted: resuming gets 410, the informer re-lists
    const rewatch = api.nextWatch();
    label("k8s-1", "unrelated", "x");
    store.compact();
    api.closeWatches();
    label("k8s-0", "phase", "two");
    await rewatch;
    await new Promise<void>((r) => {
      if (informer.get("k8s-0")?.metadata?.labels?.phase === "two") return r();
      onUpdate = (u) => u === "k8s-0:two" && r();
    });
    expect(informer.get("k8s-0")?.metadata?.labels?.phase).toBe("two");
    await informer.stop();
  });
});
