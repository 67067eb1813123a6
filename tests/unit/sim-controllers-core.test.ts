/** CRD establishment, workloads (pods, readiness, CNI) and the helm stand-in, against the store in-process. */
import { afterEach, describe, expect, test } from "bun:test";
import { decodeRelease } from "../../lib/sim/controllers/helm-releases.ts";
import { isStatusError } from "../../lib/sim/store.ts";
import { CILIUM_VALUES, installCilium, type Rig, rig, threeNodes } from "./sim-controllers-helpers.ts";

let current: Rig | undefined;

/** Polls `ok` until true (a deadline, not a fixed sleep: timers fire late on a loaded machine). */
async function eventually(ok: () => boolean | Promise<boolean>, deadlineMs = 20_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`not true within ${deadlineMs} ms`);
    await Bun.sleep(10);
  }
}
afterEach(() => current?.stop());

const crd = (plural: string, group: string, kind: string) => ({
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: `${plural}.${group}` },
  spec: { group, names: { kind, plural, singular: kind.toLowerCase() }, scope: "Namespaced", versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object" } } }] },
});

describe("CRD establishment", () => {
  test("a CR is rejected (404) until its CRD is Established, accepted after the lag", async () => {
    const r = (current = rig({ scale: 1, delays: { crdEstablish: 30 } }));
    r.store.create(crd("widgets", "example.io", "Widget"), { fieldManager: "test" });
    const cr = { apiVersion: "example.io/v1", kind: "Widget", metadata: { name: "w", namespace: "default" } };
    let err: unknown;
    try {
      r.store.create(cr, { fieldManager: "test" });
    } catch (e) {
      err = e;
    }
    expect(isStatusError(err, 404)).toBe(true);
    expect(r.store.kinds.tryResolve("widgets")).toBeUndefined();
    await eventually(() => r.store.kinds.tryResolve("widgets") !== undefined);
    const established = r.get("customresourcedefinitions", "widgets.example.io");
    expect(established?.status?.conditions?.find((c: { type: string }) => c.type === "Established")?.status).toBe("True");
    expect(r.store.create(cr, { fieldManager: "test" }).metadata.name).toBe("w");
  });

  test("the crds-slow fault adds its (scaled) lag", async () => {
    // a lag (2 s) that a loaded machine's settle() cannot outlast; then it is established after all
    const r = (current = rig({ scale: 1, delays: { crdEstablish: 0 }, faults: ["crds-slow=2000"] }));
    r.store.create(crd("gadgets", "example.io", "Gadget"), { fieldManager: "test" });
    await r.settle();
    expect(r.store.kinds.tryResolve("gadgets")).toBeUndefined();
    await eventually(() => r.store.kinds.tryResolve("gadgets") !== undefined);
    expect(r.store.kinds.tryResolve("gadgets")?.kind).toBe("Gadget");
  });
});

describe("workloads and the CNI", () => {
  test("before Cilium: nodes NotReady, ordinary pods Pending/Unschedulable; Cilium makes nodes Ready and pods run", async () => {
    const r = (current = rig());
    threeNodes(r);
    r.store.create({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "app", namespace: "default" }, spec: { replicas: 2, selector: { matchLabels: { app: "x" } }, template: { metadata: { labels: { app: "x" } }, spec: { containers: [{ name: "c", image: "i" }] } } } }, { fieldManager: "test" });
    await r.settle();
    const pods = () => r.list("pods", "default");
    expect(pods()).toHaveLength(2);
    expect(pods()[0]?.status?.phase).toBe("Pending");
    expect(pods()[0]?.status?.conditions?.[0]).toMatchObject({ type: "PodScheduled", status: "False", reason: "Unschedulable" });
    expect(r.get("deployments", "app", "default")?.status?.readyReplicas).toBe(0);
    await installCilium(r);
    expect(r.list("nodes").map((n) => n.status.conditions.find((c: { type: string }) => c.type === "Ready").status)).toEqual(["True", "True", "True"]);
    expect(pods().every((p) => p.status?.phase === "Running")).toBe(true);
    expect(r.get("deployments", "app", "default")?.status).toMatchObject({ readyReplicas: 2, availableReplicas: 2 });
    const ds = r.get("daemonsets", "cilium", "kube-system");
    expect(ds?.status).toMatchObject({ desiredNumberScheduled: 3, numberReady: 3 });
  });

  test("a node going Unknown makes its pods unready and the DaemonSet short", async () => {
    const r = (current = rig());
    threeNodes(r);
    await installCilium(r);
    r.setNodeReady("mini03", "Unknown");
    await r.settle();
    expect(r.get("daemonsets", "cilium", "kube-system")?.status?.numberReady).toBe(2);
    r.setNodeReady("mini03", "False");
    await r.settle();
    expect(r.get("daemonsets", "cilium", "kube-system")?.status?.numberReady).toBe(3);
    expect(r.get("nodes", "mini03")?.status?.conditions?.find((c: { type: string }) => c.type === "Ready")?.status).toBe("True");
  });

  test("pods of an unreachable node are evicted after tolerationSeconds and rescheduled; pods of a deleted node go", async () => {
    const r = (current = rig({ scale: 1, delays: { podStart: 0, ciliumAgent: 0, ciliumOperatorCrds: 0, crdEstablish: 0 } }));
    threeNodes(r);
    await installCilium(r);
    r.store.create({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "app", namespace: "default" }, spec: { replicas: 3, selector: { matchLabels: { app: "x" } }, template: { metadata: { labels: { app: "x" } }, spec: { containers: [{ name: "c", image: "i" }] } } } }, { fieldManager: "test" });
    await r.settle();
    const onNode = (n: string) => r.list("pods", "default").filter((p) => p.spec?.nodeName === n).length;
    expect(onNode("mini03")).toBeGreaterThan(0);
    r.c.ctx.host.timing.scale = 0.01; // 300 s -> 3 s: long enough that "not yet" cannot race a loaded machine
    r.setNodeReady("mini03", "Unknown");
    await r.settle();
    expect(onNode("mini03")).toBeGreaterThan(0); // not yet: tolerationSeconds
    await eventually(async () => {
      await r.settle();
      return onNode("mini03") === 0;
    });
    expect(onNode("mini03")).toBe(0);
    expect(r.get("deployments", "app", "default")?.status?.readyReplicas).toBe(3);
    r.store.delete("nodes", "mini02");
    await r.settle();
    expect(onNode("mini02")).toBe(0);
    expect(r.get("daemonsets", "cilium", "kube-system")?.status?.desiredNumberScheduled).toBe(2);
  });

  test("Cilium with kubeProxyReplacement but no k8sServiceHost crash-loops and helm --wait fails", async () => {
    const r = (current = rig());
    threeNodes(r);
    const res = await installCilium(r, "kubeProxyReplacement: true\nbgpControlPlane:\n  enabled: true\n");
    expect(res.exitCode).toBe(1);
    expect(res.stderr).toBe("Error: INSTALLATION FAILED: context deadline exceeded\n");
    const pod = r.list("pods", "kube-system").find((p) => p.metadata.labels?.["k8s-app"] === "cilium");
    expect(pod?.status?.containerStatuses?.[0]?.state?.waiting?.reason).toBe("CrashLoopBackOff");
    expect(r.list("nodes").every((n) => n.status.conditions.find((c: { type: string }) => c.type === "Ready").status === "False")).toBe(true);
    const list = JSON.parse((await r.helm("list", "-A", "-o", "json")).stdout);
    expect(list[0]).toMatchObject({ name: "cilium", status: "failed" });
  });

  test("with a SimCluster-like host the CNI goes through setCniReady", async () => {
    const calls: [boolean, string | undefined][] = [];
    const r = (current = rig());
    (r.c.ctx.host as { setCniReady?: (ready: boolean, node?: string) => void }).setCniReady = (ready, node) => calls.push([ready, node]);
    threeNodes(r);
    await installCilium(r);
    expect([...new Set(calls.filter(([ready]) => ready).map(([, n]) => n))].sort()).toEqual(["mini01", "mini02", "mini03"]);
  });
});

describe("helm stand-in", () => {
  test("install output, release Secret like Helm's, list/status/get values, upgrade", async () => {
    const r = (current = rig());
    threeNodes(r);
    const res = await installCilium(r);
    expect(res.stdout).toStartWith('Release "cilium" does not exist. Installing it now.\nNAME: cilium\nLAST DEPLOYED: ');
    expect(res.stdout).toContain("\nNAMESPACE: kube-system\nSTATUS: deployed\nREVISION: 1\nTEST SUITE: None\n");
    const secret = r.get("secrets", "sh.helm.release.v1.cilium.v1", "kube-system");
    expect(secret?.type).toBe("helm.sh/release.v1");
    expect(secret?.metadata.labels).toMatchObject({ name: "cilium", owner: "helm", status: "deployed", version: "1" });
    const rel = decodeRelease(secret?.data?.release ?? "");
    expect(rel.chart.metadata).toMatchObject({ name: "cilium", version: "1.17.4", appVersion: "1.17.4" });
    expect(rel.config).toMatchObject({ bgpControlPlane: { enabled: true } });
    const list = JSON.parse((await r.helm("list", "-A", "-o", "json")).stdout);
    expect(list).toEqual([{ name: "cilium", namespace: "kube-system", revision: "1", updated: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9} \+0000 UTC$/), status: "deployed", chart: "cilium-1.17.4", app_version: "1.17.4" }]);
    const status = await r.helm("status", "cilium", "-n", "kube-system");
    expect(status.stdout).toContain("STATUS: deployed\nREVISION: 1\n");
    const values = JSON.parse((await r.helm("get", "values", "cilium", "-n", "kube-system", "-o", "json")).stdout);
    expect(values.k8sServicePort).toBe(7445);
    const up = await installCilium(r, `${CILIUM_VALUES}\noperator:\n  replicas: 1\n`);
    expect(up.stdout).toStartWith('Release "cilium" has been upgraded. Happy Helming!\n');
    expect(up.stdout).toContain("REVISION: 2");
    expect(r.get("secrets", "sh.helm.release.v1.cilium.v1", "kube-system")?.metadata.labels?.status).toBe("superseded");
    expect(r.get("deployments", "cilium-operator", "kube-system")?.spec?.replicas).toBe(1);
  });

  test("errors: missing namespace, unknown repo, unknown chart, no cluster, bad values", async () => {
    const r = (current = rig());
    const a = await r.helm("upgrade", "--install", "eso", "external-secrets", "--repo", "https://charts.external-secrets.io", "--version", "0.17.0", "-n", "external-secrets");
    expect(a).toMatchObject({ exitCode: 1, stderr: 'Error: INSTALLATION FAILED: create: failed to create: namespaces "external-secrets" not found\n' });
    expect((await r.helm("upgrade", "--install", "x", "nosuch/chart", "--version", "1.0.0")).stderr).toBe("Error: repo nosuch not found\n");
    expect((await r.helm("repo", "add", "weird", "https://example.invalid/charts")).exitCode).toBe(1);
    expect((await r.helm("repo", "add", "cilium", "https://helm.cilium.io")).stdout).toBe('"cilium" has been added to your repositories\n');
    expect((await r.helm("upgrade", "--install", "x", "cilium/nosuchchart", "--version", "1.0.0")).exitCode).toBe(1);
    expect((await r.helmStdin("- a\n- b\n", "upgrade", "--install", "cilium", "cilium/cilium", "--version", "1.17.4", "-n", "kube-system", "-f", "-")).stderr).toContain("cannot unmarshal array");
    const h = await import("../../lib/sim/tools/helm.ts");
    const bare = h.createHelmTool(r.c.ctx);
    const noKube = await bare({ argv: ["list", "-A"], stdin: "", env: {}, cwd: process.cwd() });
    expect(noKube.stderr).toStartWith("Error: Kubernetes cluster unreachable");
    expect((await r.helm("version", "--short")).stdout).toStartWith("v3.17.0");
  });

  test("external-secrets and longhorn charts create their CRDs and workloads; --create-namespace", async () => {
    const r = (current = rig());
    threeNodes(r);
    await installCilium(r);
    const eso = await r.helm("upgrade", "--install", "external-secrets", "oci://ghcr.io/external-secrets/charts/external-secrets", "--version", "0.17.0", "-n", "external-secrets", "--create-namespace", "--wait");
    expect(eso.exitCode).toBe(0);
    await r.settle();
    expect(r.get("customresourcedefinitions", "clustersecretstores.external-secrets.io")).toBeDefined();
    expect(r.store.kinds.tryResolve({ apiVersion: "external-secrets.io/v1", kind: "ExternalSecret" })).toBeDefined();
    expect(r.get("deployments", "external-secrets-webhook", "external-secrets")?.status?.readyReplicas).toBe(1);
    const lh = await r.helmStdin("defaultSettings:\n  defaultDataPath: /var/mnt/longhorn\n  defaultReplicaCount: 2\n", "upgrade", "--install", "longhorn", "longhorn", "--repo", "https://charts.longhorn.io", "--version", "1.9.0", "-n", "longhorn-system", "--create-namespace", "-f", "-", "--wait");
    expect(lh.exitCode).toBe(0);
    await r.settle();
    expect(r.list("daemonsets", "longhorn-system").map((d) => d.metadata.name)).toEqual(["longhorn-manager"]);
  });
});
