/**
 * The real kubectl of the machine image against the simulated API: discovery, get (JSON and server-side Table),
 * server-side apply of the repo's own manifests, watch, patch, delete, and mutual TLS really enforced.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadRepo } from "../../lib/repo/load.ts";
import { startKubeApi, type KubeApi } from "../../lib/sim/kube-api.ts";
import { createPki, writeKubeconfig } from "../../lib/sim/pki.ts";
import { SimStore } from "../../lib/sim/store.ts";

const ROOT = join(import.meta.dir, "..", "..");
const KUBECTL = process.env.HOMEOPS_KUBECTL ?? Bun.which("kubectl") ?? "kubectl";

let store: SimStore;
let api: KubeApi;
let home: string;
let kubernetesVersion: string;

function env(kubeconfig = api.kubeconfigPath): Record<string, string> {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, KUBECONFIG: kubeconfig, KUBECACHEDIR: join(home, "cache") };
}

async function kubectl(args: string[], o: { stdin?: string; kubeconfig?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = Bun.spawn([KUBECTL, ...args], { env: env(o.kubeconfig), stdin: o.stdin === undefined ? "ignore" : new Blob([o.stdin]), stdout: "pipe", stderr: "pipe" });
  const [code, stdout, stderr] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code, stdout, stderr };
}

const node = (name: string, ready: boolean, role = "control-plane") => ({
  apiVersion: "v1",
  kind: "Node",
  metadata: { name, labels: { "kubernetes.io/hostname": name, [`node-role.kubernetes.io/${role}`]: "" } },
  spec: {},
  status: { conditions: [{ type: "Ready", status: ready ? "True" : "False" }], nodeInfo: { kubeletVersion: kubernetesVersion } },
});

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), "sim-kubectl-home-"));
  kubernetesVersion = loadRepo(ROOT).versions.kubernetes.value;
  store = new SimStore();
  for (const [i, ready] of [true, true, false].entries()) store.create(node(`k8s-${i}`, ready));
  api = await startKubeApi({ store, kubernetesVersion });
});

afterAll(async () => {
  await api?.stop();
  rmSync(home, { recursive: true, force: true });
});

describe("kubectl against the simulated API", () => {
  test("kubectl version reports the repo's Kubernetes version", async () => {
    const r = await kubectl(["version", "-o", "json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).serverVersion.gitVersion).toBe(kubernetesVersion);
  });

  test("kubectl get nodes -o json lists the nodes", async () => {
    const r = await kubectl(["get", "nodes", "-o", "json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout) as { kind: string; items: { metadata: { name: string } }[] };
    expect(list.kind).toBe("List");
    expect(list.items.map((n) => n.metadata.name)).toEqual(["k8s-0", "k8s-1", "k8s-2"]);
  });

  test("plain kubectl get nodes prints the server-side table", async () => {
    const r = await kubectl(["get", "nodes"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION$/);
    expect(lines[1]).toMatch(new RegExp(`^k8s-0\\s+Ready\\s+control-plane\\s+\\d+s\\s+${kubernetesVersion.replace(/\./g, "\\.")}$`));
    expect(lines[3]).toMatch(/^k8s-2\s+NotReady\s/);
  });

  test("label and field selectors go to the server", async () => {
    const r = await kubectl(["get", "nodes", "-l", "kubernetes.io/hostname in (k8s-1,k8s-2)", "--field-selector", "metadata.name!=k8s-2", "-o", "name"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("node/k8s-1");
    const bad = await kubectl(["get", "pods", "--field-selector", "spec.image=x"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("field label not supported: spec.image");
  });

  test("ciliumbgpnodeconfigs: unknown before Cilium's CRDs, listed after", async () => {
    const before = await kubectl(["get", "ciliumbgpnodeconfigs"]);
    expect(before.code).toBe(1);
    expect(before.stderr).toContain(`the server doesn't have a resource type "ciliumbgpnodeconfigs"`);
    store.installCrds();
    store.create({
      apiVersion: "cilium.io/v2alpha1",
      kind: "CiliumBGPNodeConfig",
      metadata: { name: "k8s-0" },
      spec: { bgpInstances: [{ name: "home", localASN: 64512, peers: [{ name: "router", peerAddress: "192.0.2.1" }] }] },
    });
    const after = await kubectl(["get", "ciliumbgpnodeconfigs"]);
    expect(after.code).toBe(0);
    expect(after.stdout).toMatch(/^NAME\s+AGE\nk8s-0\s+\d+s\n$/);
    const short = await kubectl(["get", "cbgpnode", "k8s-0", "-o", "jsonpath={.spec.bgpInstances[0].localASN}"]);
    expect(short.stdout).toBe("64512");
  });

  test("kubectl apply --server-side of the repo's Cilium pool and BGP manifests, re-apply unchanged", async () => {
    store.installCrds();
    const files = ["kubernetes/apps/kube-system/cilium/config/pools.yaml", "kubernetes/apps/kube-system/cilium/config/bgp.yaml"].map((f) => join(ROOT, f));
    const args = ["apply", "--server-side", ...files.flatMap((f) => ["-f", f])];
    const first = await kubectl(args);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/ciliumloadbalancerippool\.cilium\.io\/\S+ serverside-applied/);
    expect(first.stdout).toMatch(/ciliumbgpclusterconfig\.cilium\.io\/\S+ serverside-applied/);
    const pools = store.list("ciliumloadbalancerippools").items;
    expect(pools.length).toBeGreaterThan(0);
    expect(pools[0]!.metadata.managedFields?.[0]).toMatchObject({ manager: "kubectl", operation: "Apply" });
    const rv = store.resourceVersion;
    const again = await kubectl(args);
    expect(again.code).toBe(0);
    expect(store.resourceVersion).toBe(rv);
    // the manifest's own content arrived intact
    const text = readFileSync(files[0]!, "utf8");
    const firstName = text.match(/^\s+name:\s*(\S+)/m)?.[1];
    expect(pools.map((p) => p.metadata.name)).toContain(firstName!);
    // plain get prints the CRD's additionalPrinterColumns, as the real server does
    const table = await kubectl(["get", "ippools"]);
    expect(table.stdout.split("\n")[0]).toMatch(/^NAME\s+DISABLED\s+CONFLICTING\s+IPS AVAILABLE\s+AGE$/);
  });

  test("server-side apply conflicts are reported by kubectl; --force-conflicts takes over", async () => {
    const cm = (v: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: owned\n  namespace: default\ndata:\n  key: "${v}"\n`;
    expect((await kubectl(["apply", "--server-side", "--field-manager", "flux", "-f", "-"], { stdin: cm("a") })).code).toBe(0);
    const clash = await kubectl(["apply", "--server-side", "-f", "-"], { stdin: cm("b") });
    expect(clash.code).toBe(1);
    expect(clash.stderr).toContain('conflict with "flux"');
    expect(clash.stderr).toContain(".data.key");
    const forced = await kubectl(["apply", "--server-side", "--force-conflicts", "-f", "-"], { stdin: cm("b") });
    expect(forced.code).toBe(0);
    expect(store.get("configmaps", "owned", "default").data).toEqual({ key: "b" });
  });

  test("kubectl get pods -w sees a pod created after it started", async () => {
    store.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "watch-test" } });
    const watching = api.nextWatch();
    const p = Bun.spawn([KUBECTL, "get", "pods", "-n", "watch-test", "-w", "-o", "name"], { env: env(), stdout: "pipe", stderr: "pipe" });
    const reader = p.stdout.getReader();
    let seen = "";
    // kubectl lists, then watches from the list's resourceVersion: create once its watch is open
    await watching;
    store.create({ apiVersion: "v1", kind: "Pod", metadata: { name: "late-pod", namespace: "watch-test" }, spec: { containers: [{ name: "c", image: "x" }] } });
    const deadline = Date.now() + 10_000;
    const killer = setTimeout(() => p.kill(), 10_000);
    while (!seen.includes("pod/late-pod") && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      if (value) seen += new TextDecoder().decode(value);
    }
    clearTimeout(killer);
    p.kill();
    await p.exited;
    expect(seen).toContain("pod/late-pod");
  });

  test("kubectl patch (json and merge) and delete", async () => {
    const j = await kubectl(["patch", "node", "k8s-1", "--type=json", "-p", '[{"op":"add","path":"/metadata/labels/zone","value":"a"}]']);
    expect(j.code).toBe(0);
    expect(store.get("nodes", "k8s-1").metadata.labels?.zone).toBe("a");
    const m = await kubectl(["patch", "node", "k8s-1", "--type=merge", "-p", '{"metadata":{"labels":{"zone":null}}}']);
    expect(m.code).toBe(0);
    expect(store.get("nodes", "k8s-1").metadata.labels?.zone).toBeUndefined();
    const d = await kubectl(["delete", "configmap", "owned", "-n", "default"]);
    expect(d.code).toBe(0);
    expect(d.stdout).toContain('configmap "owned" deleted');
    expect(store.tryGet("configmaps", "owned", "default")).toBeUndefined();
    const missing = await kubectl(["get", "node", "nope"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('Error from server (NotFound): nodes "nope" not found');
  });
});

describe("kubectl workloads", () => {
  test("kubectl create deployment, then kubectl scale through the scale subresource", async () => {
    store.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "apps" } });
    expect((await kubectl(["create", "deployment", "web", "--image=nginx", "-n", "apps"])).code).toBe(0);
    const before = store.get("deployments", "web", "apps");
    const r = await kubectl(["scale", "deployment/web", "-n", "apps", "--replicas=3"]);
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe("deployment.apps/web scaled");
    const after = store.get("deployments", "web", "apps");
    expect(after.spec.replicas).toBe(3);
    expect(after.metadata.generation).toBe((before.metadata.generation ?? 0) + 1);
    const scale = await kubectl(["get", "--raw", "/apis/apps/v1/namespaces/apps/deployments/web/scale"]);
    expect(JSON.parse(scale.stdout)).toMatchObject({ kind: "Scale", apiVersion: "autoscaling/v1", spec: { replicas: 3 } });
  });

  test("kubectl set image and a client-side apply use strategic merge: other container fields survive", async () => {
    const manifest = (image: string) =>
      [
        "apiVersion: apps/v1",
        "kind: Deployment",
        "metadata: {name: api, namespace: apps}",
        "spec:",
        "  selector: {matchLabels: {app: api}}",
        "  template:",
        "    metadata: {labels: {app: api}}",
        "    spec:",
        "      containers:",
        `      - {name: api, image: "${image}", ports: [{containerPort: 8080, name: http}]}`,
        "      - {name: proxy, image: envoy}",
        "",
      ].join("\n");
    expect((await kubectl(["apply", "-f", "-"], { stdin: manifest("api:1") })).code).toBe(0);
    expect((await kubectl(["apply", "-f", "-"], { stdin: manifest("api:2") })).code).toBe(0);
    expect((await kubectl(["set", "image", "deployment/api", "-n", "apps", "proxy=envoy:2"])).code).toBe(0);
    const containers = store.get("deployments", "api", "apps").spec.template.spec.containers;
    expect(containers).toEqual([
      { name: "api", image: "api:2", ports: [{ containerPort: 8080, name: "http" }] },
      { name: "proxy", image: "envoy:2" },
    ]);
    expect(JSON.stringify(store.get("deployments", "api", "apps"))).not.toContain("$setElementOrder");
  });
});

describe("mutual TLS is enforced", () => {
  test("a client certificate from another CA is refused", async () => {
    const other = await createPki();
    try {
      const path = join(home, "foreign.kubeconfig");
      // trusts the real server CA, presents a client certificate the server never issued
      writeKubeconfig(path, { server: api.url, pki: { caCert: api.pki.caCert, clientCert: other.clientCert, clientKey: other.clientKey } });
      const r = await kubectl(["get", "--raw", "/api/v1/nodes", "--request-timeout=5s"], { kubeconfig: path });
      expect(r.code).not.toBe(0);
      expect(r.stdout).toBe("");
      // and the same kubeconfig with the right client certificate works: the refusal is about the certificate
      const good = await kubectl(["get", "--raw", "/api/v1/nodes", "--request-timeout=5s"]);
      expect(good.code).toBe(0);
    } finally {
      other.cleanup();
    }
  }, 30_000);

  test("no client certificate at all is refused at the handshake", async () => {
    const p = Bun.spawn(["curl", "-sS", "--max-time", "5", "--cacert", api.pki.paths.caCert, `${api.url}/api/v1/nodes`], { stdout: "pipe", stderr: "pipe" });
    const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
    expect(code).not.toBe(0);
    expect(out).toBe("");
    expect(err).toMatch(/certificate required|alert|handshake/i);
  });

  test("the server certificate is only trusted through the per-run CA", async () => {
    const p = Bun.spawn(["curl", "-sS", "--max-time", "5", "--cert", api.pki.paths.clientCert, "--key", api.pki.paths.clientKey, `${api.url}/version`], {
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()]);
    expect(code).toBe(60);
    expect(err).toMatch(/certificate/i);
  });

  test("with the right certificates curl gets JSON discovery", async () => {
    const p = Bun.spawn(["curl", "-sS", "--max-time", "5", "--cacert", api.pki.paths.caCert, "--cert", api.pki.paths.clientCert, "--key", api.pki.paths.clientKey, `${api.url}/apis`], {
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, out] = await Promise.all([p.exited, new Response(p.stdout).text()]);
    expect(code).toBe(0);
    const groups = (JSON.parse(out) as { groups: { name: string }[] }).groups.map((g) => g.name);
    expect(groups).toContain("apps");
    expect(groups).toContain("cilium.io");
  });

  test("the key material is private (0600)", async () => {
    const { statSync } = await import("node:fs");
    for (const p of [api.kubeconfigPath, api.pki.paths.caKey, api.pki.paths.clientKey, api.pki.paths.serverKey]) {
      expect(statSync(p).mode & 0o777).toBe(0o600);
    }
    writeFileSync(join(home, "touch"), "");
  });
});
