/**
 * lib/kube (over @kubernetes/client-node 1.x) against the simulated API through a real kubeconfig and mTLS:
 * CRUD, patches, server-side apply, raw watches (resume, 410), and the watch-based waits.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, InterruptedError, OperationError } from "../../lib/cli/errors.ts";
import { KubeApiError, KubeClient, nodeReady, waitForCrdsEstablished, waitForNodesReady, waitForRollout, type KubeObject } from "../../lib/kube/index.ts";
import { CILIUM_KINDS } from "../../lib/sim/kinds.ts";
import { startKubeApi, type KubeApi } from "../../lib/sim/kube-api.ts";
import { createPki, writeKubeconfig } from "../../lib/sim/pki.ts";
import { SimStore } from "../../lib/sim/store.ts";

let store: SimStore;
let api: KubeApi;
let client: KubeClient;
let tmp: string;

const NODE = { apiVersion: "v1", kind: "Node" } as const;
const node = (name: string, ready: boolean) => ({
  apiVersion: "v1",
  kind: "Node",
  metadata: { name, labels: { "kubernetes.io/hostname": name } },
  spec: {},
  status: { conditions: [{ type: "Ready", status: ready ? "True" : "False" }] },
});
const setReady = (name: string, ready: boolean) =>
  store.mutate("nodes", name, undefined, (o) => {
    o.status.conditions = [{ type: "Ready", status: ready ? "True" : "False" }];
  }, { subresource: "status", fieldManager: "kubelet" });

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "sim-kube-client-"));
  store = new SimStore({ watchHistory: 50 });
  for (const n of ["k8s-0", "k8s-1", "k8s-2"]) store.create(node(n, n !== "k8s-2"));
  api = await startKubeApi({ store, kubernetesVersion: "v1.31.1", bookmarkIntervalMs: 200 });
  client = KubeClient.fromEnv({ KUBECONFIG: api.kubeconfigPath });
});

afterAll(async () => {
  client?.close();
  await api?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe("KubeClient CRUD", () => {
  test("list and get return the raw objects (string timestamps, CRD-style fields kept)", async () => {
    const list = await client.list(NODE);
    expect(list.items.map((n) => n.metadata.name)).toEqual(["k8s-0", "k8s-1", "k8s-2"]);
    expect(list.resourceVersion).toBe(store.resourceVersion);
    expect(list.items.filter(nodeReady).length).toBe(2);
    const n = await client.get({ ...NODE, name: "k8s-0" });
    expect(typeof n.metadata.creationTimestamp).toBe("string");
    expect(n.metadata.uid).toBe(store.get("nodes", "k8s-0").metadata.uid);
  });

  test("selectors", async () => {
    expect((await client.list(NODE, { labelSelector: "kubernetes.io/hostname=k8s-1" })).items.map((n) => n.metadata.name)).toEqual(["k8s-1"]);
    expect((await client.list(NODE, { fieldSelector: "metadata.name!=k8s-1" })).items).toHaveLength(2);
  });

  test("get of a missing object is a KubeApiError 404 with kube's sentence; tryGet gives undefined", async () => {
    const err = await client.get({ ...NODE, name: "ghost" }).catch((e) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err.code).toBe(404);
    expect(err.message).toBe('cannot get Node ghost: nodes "ghost" not found');
    expect(await client.tryGet({ ...NODE, name: "ghost" })).toBeUndefined();
  });

  test("a kind the cluster does not serve names the missing CRD", async () => {
    const err = await client.list({ apiVersion: "example.com/v1", kind: "Widget" }).catch((e) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err.message).toBe("the cluster has no Widget in example.com/v1 (is its CRD installed?)");
  });

  test("server-side apply creates, updates, records home-ops as the manager, and reports conflicts", async () => {
    const cm = (v: string): KubeObject => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings", namespace: "default" }, data: { mode: v } });
    const created = await client.apply(cm("a"));
    expect(created.data).toEqual({ mode: "a" });
    expect(store.get("configmaps", "settings", "default").metadata.managedFields?.[0]?.manager).toBe("home-ops");
    expect((await client.apply(cm("b"))).data).toEqual({ mode: "b" });
    store.apply(cm("c"), { fieldManager: "flux", force: true });
    const err = await client.apply(cm("d")).catch((e) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err.code).toBe(409);
    expect(err.message).toContain('conflict with "flux"');
    expect((await client.apply(cm("d"), { force: true })).data).toEqual({ mode: "d" });
  });

  test("merge, JSON and status patches", async () => {
    const ref = { ...NODE, name: "k8s-1" };
    const m = await client.patch(ref, { metadata: { labels: { zone: "a" } } });
    expect(m.metadata.labels?.zone).toBe("a");
    const j = await client.patch(ref, [{ op: "remove", path: "/metadata/labels/zone" }], "json");
    expect(j.metadata.labels?.zone).toBeUndefined();
    const bad = await client.patch(ref, [{ op: "test", path: "/metadata/name", value: "other" }], "json").catch((e) => e);
    expect(bad).toBeInstanceOf(KubeApiError);
    expect(bad.code).toBe(422);
    const st = await client.patch(ref, { status: { conditions: [{ type: "Ready", status: "False" }] }, spec: { unschedulable: true } }, "merge", { subresource: "status" });
    expect(nodeReady(st)).toBe(false);
    expect(st.spec.unschedulable).toBeUndefined();
    setReady("k8s-1", true);
  });

  test("create then delete; delete of a missing object is false", async () => {
    const obj: KubeObject = { apiVersion: "v1", kind: "Secret", metadata: { name: "s1", namespace: "default" }, type: "Opaque" };
    await client.create(obj);
    expect((await client.create(obj).catch((e) => e)).code).toBe(409);
    expect(await client.delete({ apiVersion: "v1", kind: "Secret", name: "s1", namespace: "default" })).toBe(true);
    expect(await client.delete({ apiVersion: "v1", kind: "Secret", name: "s1", namespace: "default" })).toBe(false);
  });
});

describe("watch", () => {
  test("resumes from a resourceVersion: sees exactly the changes after it", async () => {
    const from = store.resourceVersion;
    store.patch("nodes", "k8s-0", undefined, { metadata: { labels: { a: "1" } } }, { type: "merge" });
    const seen: string[] = [];
    let resolveSeen: () => void = () => {};
    const twoSeen = new Promise<void>((r) => (resolveSeen = r));
    const w = await client.watch(NODE, { resourceVersion: from }, {
      onEvent: (ev) => {
        seen.push(`${ev.type}:${ev.object.metadata.name}:${ev.object.metadata.labels?.a ?? ""}`);
        if (seen.length === 2) resolveSeen();
      },
      onClose: () => {},
    });
    store.patch("nodes", "k8s-0", undefined, { metadata: { labels: { a: "2" } } }, { type: "merge" });
    await twoSeen;
    w.stop();
    expect(seen).toEqual(["MODIFIED:k8s-0:1", "MODIFIED:k8s-0:2"]);
  });

  test("a resourceVersion older than the kept history ends the watch with a 410 KubeApiError", async () => {
    const old = store.resourceVersion;
    for (let i = 0; i < 60; i++) store.patch("nodes", "k8s-0", undefined, { metadata: { labels: { i: String(i) } } }, { type: "merge" });
    const closed = await new Promise<unknown>((resolve) => {
      void client.watch(NODE, { resourceVersion: old }, { onEvent: () => {}, onClose: resolve });
    });
    expect(closed).toBeInstanceOf(KubeApiError);
    expect((closed as KubeApiError).code).toBe(410);
    expect((closed as KubeApiError).message).toMatch(/too old resource version/);
  });

  test("bookmarks carry the current resourceVersion", async () => {
    const rv = await new Promise<string>((resolve) => {
      let w: { stop(): void } | undefined;
      void client.watch(NODE, { resourceVersion: store.resourceVersion, allowBookmarks: true }, {
        onEvent: () => {},
        onBookmark: (v) => {
          w?.stop();
          resolve(v);
        },
        onClose: () => {},
      }).then((x) => (w = x));
    });
    expect(Number(rv)).toBeGreaterThan(0);
  });

  test("timeoutSeconds: the server ends the stream and onClose gets no error", async () => {
    const err = await new Promise<unknown>((resolve) => {
      void client.watch(NODE, { resourceVersion: store.resourceVersion, timeoutSeconds: 1, allowBookmarks: false }, { onEvent: () => {}, onClose: resolve });
    });
    expect(err).toBeNull();
  });
});

describe("waitFor", () => {
  test("resolves once a watched change makes until() true, reporting progress on the way", async () => {
    setReady("k8s-2", false);
    const progress: string[] = [];
    const watching = api.nextWatch();
    const wait = waitForNodesReady(client, { timeoutMs: 10_000, count: 3, onProgress: (r) => progress.push(r) });
    await watching;
    setReady("k8s-2", true);
    const nodes = await wait;
    expect(nodes.filter(nodeReady)).toHaveLength(3);
    expect(progress[0]).toBe("2/3 nodes Ready (not ready: k8s-2)");
  });

  test("already true: resolves from the first list without waiting", async () => {
    const objs = await client.waitFor({ ...NODE, name: "k8s-0", until: (o) => o.length === 1, timeoutMs: 5000 });
    expect(objs.map((o) => o.metadata.name)).toEqual(["k8s-0"]);
  });

  test("times out with the last reason", async () => {
    const err = await client
      .waitFor({ ...NODE, name: "k8s-0", until: () => "k8s-0 has not rebooted", timeoutMs: 300, description: "k8s-0 to reboot" })
      .catch((e) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect(err.message).toBe("timed out after 0.3s waiting for k8s-0 to reboot: k8s-0 has not rebooted");
  });

  test("an abort signal interrupts it", async () => {
    const ctl = new AbortController();
    const p = client.waitFor({ ...NODE, until: () => false, timeoutMs: 10_000, signal: ctl.signal }).catch((e) => e);
    ctl.abort();
    expect(await p).toBeInstanceOf(InterruptedError);
  });

  test("until() throwing fails the wait with that error", async () => {
    const err = await client
      .waitFor({ ...NODE, until: () => {
          throw new OperationError("node k8s-0 was reset");
        }, timeoutMs: 5000 })
      .catch((e) => e);
    expect(err.message).toBe("node k8s-0 was reset");
  });

  test("survives the server closing the stream and a 410 on resume, by re-listing", async () => {
    setReady("k8s-2", false);
    const watching = api.nextWatch();
    const wait = client.waitFor({ ...NODE, name: "k8s-2", until: (o) => nodeReady(o[0]) || "k8s-2 not Ready", timeoutMs: 10_000 });
    await watching;
    // the server drops the watch, history is compacted, and the change happens while the client is away
    const rewatch = api.nextWatch();
    store.patch("nodes", "k8s-0", undefined, { metadata: { labels: { unrelated: "change" } } }, { type: "merge" });
    store.compact(); // the client's last resourceVersion is now older than the history: resuming gets 410
    api.closeWatches();
    setReady("k8s-2", true);
    const [n] = await wait;
    expect(nodeReady(n)).toBe(true);
    await rewatch;
  });

  test("waits for a CRD that does not exist yet, then for it to be Established", async () => {
    const names = ["ciliumbgpclusterconfigs.cilium.io", "ciliumbgppeerconfigs.cilium.io"];
    store.options.autoEstablishCrds = false;
    try {
      const progress: string[] = [];
      const wait = waitForCrdsEstablished(client, names, { timeoutMs: 10_000, onProgress: (r) => progress.push(r) });
      await api.nextWatch();
      store.installCrds(CILIUM_KINDS.slice(0, 2), { established: false });
      expect(store.kinds.tryResolve("cbgpcluster")).toBeDefined();
      for (const n of names) store.establishCrd(n);
      const crds = await wait;
      expect(crds.map((c) => c.metadata.name).sort()).toEqual(names);
      expect(progress[0]).toBe(`not created yet: ${names.join(", ")}`);
    } finally {
      store.options.autoEstablishCrds = true;
    }
  });

  test("waitForRollout follows a Deployment's status to kubectl's success sentence", async () => {
    store.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "flux-system" } });
    store.create({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "source-controller", namespace: "flux-system" }, spec: { replicas: 1 } });
    const progress: string[] = [];
    const watching = api.nextWatch();
    const wait = waitForRollout(client, { kind: "Deployment", name: "source-controller", namespace: "flux-system" }, { timeoutMs: 10_000, onProgress: (r) => progress.push(r) });
    await watching;
    const dep = () => store.get("deployments", "source-controller", "flux-system");
    store.updateStatus({ ...dep(), status: { observedGeneration: 1, replicas: 1, updatedReplicas: 1, availableReplicas: 0 } });
    store.updateStatus({ ...dep(), status: { observedGeneration: 1, replicas: 1, updatedReplicas: 1, availableReplicas: 1, readyReplicas: 1 } });
    const d = await wait;
    expect(d.status.availableReplicas).toBe(1);
    expect(progress).toContain('Waiting for deployment "source-controller" rollout to finish: 0 of 1 updated replicas are available...');
  });
});

describe("errors a user can act on", () => {
  test("nothing listening: one sentence naming the URL and what to check", async () => {
    const dead = await startKubeApi({ store: new SimStore() });
    const path = join(tmp, "dead.kubeconfig");
    const { copyFileSync } = await import("node:fs");
    copyFileSync(dead.kubeconfigPath, path);
    const url = dead.url;
    await dead.stop();
    const c = KubeClient.fromKubeconfig(path);
    const err = await c.list(NODE).catch((e) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect(err.message).toBe(`cannot reach the Kubernetes API at ${url}: connection refused — is the cluster up? check KUBECONFIG`);
    c.close();
  });

  test("a client certificate the server never issued is refused (mTLS enforced for client-node too)", async () => {
    const other = await createPki();
    try {
      const path = join(tmp, "foreign.kubeconfig");
      writeKubeconfig(path, { server: api.url, pki: { caCert: api.pki.caCert, clientCert: other.clientCert, clientKey: other.clientKey } });
      const c = KubeClient.fromKubeconfig(path);
      const err = await c.list(NODE).catch((e) => e);
      expect(err).toBeInstanceOf(Error);
      expect(err).not.toBeInstanceOf(KubeApiError);
      expect(err.message).toContain(api.url);
      c.close();
    } finally {
      other.cleanup();
    }
  }, 20_000);

  test("credentials lib/kube does not read itself (an exec plugin) go through client-node's KubeConfig", async () => {
    const marker = join(tmp, "exec-plugin-ran");
    const cred = JSON.stringify({ apiVersion: "client.authentication.k8s.io/v1beta1", kind: "ExecCredential", status: { token: "sim-token" } });
    const exec = [
      "    exec:",
      "      apiVersion: client.authentication.k8s.io/v1beta1",
      "      command: sh",
      `      args: ["-c", ${JSON.stringify(`touch '${marker}'; echo '${cred}'`)}]`,
      "      interactiveMode: Never",
    ].join("\n");
    const text = (await Bun.file(api.kubeconfigPath).text()).replace(/^(\s+client-key-data: .*)$/m, `$1\n${exec}`);
    const path = join(tmp, "exec.kubeconfig");
    await Bun.write(path, text);
    const c = KubeClient.fromKubeconfig(path);
    expect((await c.list(NODE)).items).toHaveLength(3);
    expect(await Bun.file(marker).exists()).toBe(true);
    c.close();
  });

  test("a certificate file path relative to the kubeconfig is read from its directory", async () => {
    const { writeFileSync } = await import("node:fs");
    writeFileSync(join(tmp, "ca.crt"), api.pki.caCert);
    writeFileSync(join(tmp, "client.crt"), api.pki.clientCert);
    writeFileSync(join(tmp, "client.key"), api.pki.clientKey, { mode: 0o600 });
    const path = join(tmp, "files.kubeconfig");
    writeFileSync(
      path,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters: [{name: c, cluster: {server: '" + api.url + "', certificate-authority: ca.crt}}]",
        "users: [{name: u, user: {client-certificate: client.crt, client-key: client.key}}]",
        "contexts: [{name: x, context: {cluster: c, user: u, namespace: flux-system}}]",
        "current-context: x",
        "",
      ].join("\n"),
    );
    const c = KubeClient.fromKubeconfig(path);
    expect(c.defaultNamespace).toBe("flux-system");
    expect((await c.list(NODE)).items).toHaveLength(3);
    c.close();
  });

  test("KUBECONFIG pointing at nothing is a ConfigError", () => {
    expect(() => KubeClient.fromEnv({ KUBECONFIG: join(tmp, "missing") })).toThrow(ConfigError);
    expect(() => KubeClient.fromEnv({ KUBECONFIG: join(tmp, "missing") })).toThrow(/KUBECONFIG points at .*missing, which does not exist/);
    expect(() => KubeClient.fromEnv({ HOME: tmp })).toThrow("KUBECONFIG is not set and ~/.kube/config does not exist");
  });
});
