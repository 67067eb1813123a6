/**
 * loadRepo mechanics on small fixtures: document splitting and line numbers (fast path vs the yaml package),
 * namespaces Flux applies, chart-rendered Services, valuesFrom merging, OCI chart versions, talenv substitution,
 * and malformed input: a RepoError with file:line (strict) or a problem (lenient), never a crash.
 */
import { describe, expect, test } from "bun:test";
import path from "node:path";
import { MINIMAL_FIXTURE, minimalVariants } from "../helpers/repo-variant.ts";
import { ConfigError } from "../../lib/cli/errors.ts";
import { RepoError, lineOf, loadRepo, sourceOf, type RepoDocument } from "../../lib/repo/model.ts";
import { locate, splitDocuments } from "../../lib/repo/yaml.ts";

const ROOT = path.resolve(import.meta.dir, "../..");
const FIXTURE = MINIMAL_FIXTURE;
/** A copy of the minimal fixture with some files replaced (path -> content; null deletes). */
const variant = minimalVariants("repo-load");

/** Every key path in an object. */
function* paths(v: unknown, p: (string | number)[] = []): Generator<(string | number)[]> {
  if (Array.isArray(v))
    for (let i = 0; i < v.length; i++) {
      yield [...p, i];
      yield* paths(v[i], [...p, i]);
    }
  else if (v && typeof v === "object")
    for (const [k, x] of Object.entries(v)) {
      yield [...p, k];
      yield* paths(x, [...p, k]);
    }
}

/** lineOf through the yaml package only (no fast-path info on this object). */
const slowLine = (d: RepoDocument, p: (string | number)[]) =>
  lineOf({ doc: d.doc, lineCounter: d.lineCounter, line: d.line, object: undefined }, p);

describe("document splitting", () => {
  test("a comment before the first --- stays in document 0; empty documents keep their index", () => {
    const lines = "# c\n---\na: 1\n---\n---\nb: 2\n".split("\n");
    expect(splitDocuments(lines)).toEqual([
      { index: 0, start: 2, end: 3 },
      { index: 1, start: 4, end: 4 },
      { index: 2, start: 5, end: 7 },
    ]);
    expect(splitDocuments(["a: 1", "b: 2"])).toEqual([{ index: 0, start: 0, end: 2 }]);
  });

  test("stream syntax it does not model sends the file to the full parser", () => {
    expect(splitDocuments(["%YAML 1.2", "---", "a: 1"])).toBeNull();
    expect(splitDocuments(["--- |", "  text"])).toBeNull();
    expect(splitDocuments(["a: 1", "...", "b: 2"])).toBeNull();
  });

  test("the fixture's documents, lines and objects", () => {
    const m = loadRepo(FIXTURE);
    const lb = m.documents.filter((d) => d.file.endsWith("lb.yaml"));
    expect(lb.map((d) => [d.kind, d.line, d.index])).toEqual([
      ["CiliumLoadBalancerIPPool", 3, 0],
      ["CiliumBGPClusterConfig", 13, 2],
      ["Service", 25, 3],
    ]);
    const svc = lb[2]!.object as any;
    expect(svc.metadata.labels["quoted key"]).toBe("yes"); // YAML 1.2: yes is a string
    expect(svc.spec.description).toBe("---\ntext that looks like: yaml\n- and a list\n");
  });
});

describe("line numbers", () => {
  test("the indentation locator agrees with the yaml package on every path of this repo and the fixture", () => {
    let n = 0;
    const bad: string[] = [];
    for (const root of [ROOT, FIXTURE]) {
      const m = loadRepo(root);
      for (const d of m.documents)
        for (const p of paths(d.object)) {
          n++;
          const fast = lineOf(d, p);
          const slow = slowLine(d, p);
          if (fast !== slow) bad.push(`${d.file} ${JSON.stringify(p)}: ${fast} vs ${slow}`);
        }
    }
    expect(bad.slice(0, 10)).toEqual([]);
    expect(n).toBeGreaterThan(2000);
  });

  test("flow collections, quoted keys, same-column sequences and block scalars", () => {
    const m = loadRepo(FIXTURE);
    const pool = m.documents.find((d) => d.kind === "CiliumLoadBalancerIPPool")!;
    expect(lineOf(pool, ["spec", "blocks", 1])).toBe(10);
    expect(lineOf(pool, ["spec", "blocks", 1, "stop"])).toBe(10);
    expect(lineOf(pool, ["metadata", "name"])).toBe(6);
    const cfg = m.talos.configDocument;
    expect(lineOf(cfg, ["nodes", 0, "networkInterfaces", 0, "addresses", 1])).toBe(13);
    expect(lineOf(cfg, ["nodes", 0, "networkInterfaces", 0, "routes", 0, "gateway"])).toBe(15);
    const svc = m.documents.find((d) => d.kind === "Service")!;
    expect(lineOf(svc, ["metadata", "labels", "quoted key"])).toBe(33);
    expect(lineOf(svc, ["spec", "ports", 0, "port"])).toBe(40);
  });

  test("a missing path points at its deepest existing ancestor", () => {
    const m = loadRepo(FIXTURE);
    const pool = m.documents.find((d) => d.kind === "CiliumLoadBalancerIPPool")!;
    expect(lineOf(pool, ["spec", "serviceSelector"])).toBe(7);
    expect(lineOf(pool, ["spec", "blocks", 5])).toBe(8);
    expect(sourceOf(pool)).toEqual({ file: "kubernetes/apps/kube-system/cilium/config/lb.yaml", line: 3 });
  });

  test("locate reports not-found instead of guessing", () => {
    const lines = ["a:", "  b: [1, 2]", "  c:", "  - x", "  - y"];
    expect(locate(lines, 0, lines.length, ["a", "c", 1])).toEqual({ line: 4, found: true });
    expect(locate(lines, 0, lines.length, ["a", "b", 1])).toEqual({ line: 1, found: false });
  });
});

describe("model facts from the fixture", () => {
  const m = loadRepo(FIXTURE);

  test("talenv substitution, sources at talenv for ${VAR} values", () => {
    expect(m.problems.filter((p) => !p.message.includes("flux2"))).toEqual([]);
    expect(m.versions.talos).toEqual({ value: "v1.10.5", source: { file: "talos/talenv.yaml", line: 1 } });
    expect(m.cluster.name).toEqual({ value: "tiny", source: { file: "talos/talconfig.yaml", line: 2 } });
    expect(m.nodes[0]).toMatchObject({ hostname: "n1", ipv4: "10.0.0.11", ipv6: "fd00:0:0:1::11", controlPlane: true, schedulable: false });
    expect(m.nodes[0]!.installDisk.disk).toBe("/dev/sda");
    expect(m.networks.nodeV4.value).toBe("10.0.0.0/24"); // from the interface address when no validSubnets
    expect(m.networks.podCidrs.map((c) => c.value)).toEqual(["10.42.0.0/16"]);
    expect(m.networks.router.ipv4?.value).toBe("10.0.0.1");
    expect(m.installerImage.value).toBe("ghcr.io/siderolabs/installer:v1.10.5");
  });

  test("Flux targetNamespace applies to namespaced objects; cluster-scoped pools keep what is written", () => {
    const hr = m.helmReleases.find((h) => h.name === "cilium")!;
    expect(hr.namespace).toBe("kube-system");
    expect(m.pools[0]!.namespace).toBeUndefined();
    expect(m.pools[0]!.blocks).toEqual([
      { cidr: "10.0.1.0/28", source: { file: "kubernetes/apps/kube-system/cilium/config/lb.yaml", line: 9 } },
      { start: "10.0.2.1", stop: "10.0.2.9", source: { file: "kubernetes/apps/kube-system/cilium/config/lb.yaml", line: 10 } },
    ]);
  });

  test("valuesFrom a configMapGenerator file merges under spec.values", () => {
    const hr = m.helmReleases.find((h) => h.name === "cilium")!;
    expect(hr.values).toEqual({ bgpControlPlane: { enabled: true }, ipv6: { enabled: true } });
    expect(m.bgp.controlPlaneEnabled?.value).toBe(true);
  });

  test("a chart's LoadBalancer Service is modelled from its values; OCI chart version from the OCIRepository tag", () => {
    const hr = m.helmReleases.find((h) => h.name === "ingress-nginx-lan")!;
    expect([hr.chart, hr.version]).toEqual(["ingress-nginx", "4.13.0"]);
    const svc = m.services.find((s) => s.origin === "helm-values")!;
    expect(svc).toMatchObject({ name: "ingress-nginx-lan-controller", namespace: "network", type: "LoadBalancer", labels: { pool: "a" } });
    const web = m.services.find((s) => s.name === "web")!;
    expect(web).toMatchObject({ namespace: "apps", requestedIPs: ["10.0.1.3"], origin: "manifest" });
  });

  test("BGP peers flattened with their source", () => {
    expect(m.bgp.peers).toEqual([
      {
        clusterConfig: "cc",
        instance: "i",
        name: "router",
        localASN: 65000,
        peerAddress: "10.0.0.1",
        peerASN: undefined,
        family: "ipv4",
        peerConfigRef: "pc",
        source: { file: "kubernetes/apps/kube-system/cilium/config/lb.yaml", line: 21 },
      },
    ]);
  });
});

describe("malformed and incomplete repos", () => {
  test("broken YAML: strict mode throws RepoError at file:line, a ConfigError (exit 2)", () => {
    const dir = variant({ "kubernetes/apps/kube-system/cilium/config/lb.yaml": "a: 1\nb: [1, 2\nc: 3\n" });
    let err: unknown;
    try {
      loadRepo(dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RepoError);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as RepoError).exitCode).toBe(2);
    expect((err as RepoError).file).toBe("kubernetes/apps/kube-system/cilium/config/lb.yaml");
    expect((err as RepoError).line).toBeGreaterThanOrEqual(2);
    expect((err as Error).message).toMatch(/^kubernetes\/apps\/kube-system\/cilium\/config\/lb\.yaml:\d+: invalid YAML/);
  });

  test("tabs (which Bun's parser rejects) are reported by the full parser at their line", () => {
    const dir = variant({ "talos/talenv.yaml": "A: 1\n\tB: 2\n" });
    expect(() => loadRepo(dir)).toThrow(/^talos\/talenv\.yaml:\d+:/);
  });

  test("lenient mode collects problems and still loads the rest", () => {
    const dir = variant({ "kubernetes/apps/kube-system/cilium/config/lb.yaml": "kind: [\n" });
    const m = loadRepo(dir, { mode: "lenient" });
    expect(m.problems.some((p) => p.file.endsWith("lb.yaml") && p.message.startsWith("invalid YAML"))).toBe(true);
    expect(m.helmReleases.length).toBe(2);
    expect(m.pools).toEqual([]);
  });

  test("an undefined ${VAR} in talconfig names the variable and where to define it", () => {
    const dir = variant({ "talos/talenv.yaml": "TALOS_VERSION: v1.10.5\n" });
    expect(() => loadRepo(dir)).toThrow("talos/talconfig.yaml:2: ${KUBERNETES_VERSION} is used but not defined in talos/talenv.yaml");
  });

  test("missing facts are problems with a location, never a crash", () => {
    const dir = variant({ "talos/talconfig.yaml": null, "kubernetes/apps/kube-system/cilium/app/helmrelease.yaml": null });
    const m = loadRepo(dir);
    expect(m.nodes).toEqual([]);
    const msgs = m.problems.map((p) => `${p.file}: ${p.message}`);
    expect(msgs).toContain("talos/talconfig.yaml: talconfig.yaml is missing");
    expect(msgs).toContain("kubernetes/apps/kube-system/cilium: no Cilium HelmRelease with a chart version");
  });

  test("garbage and huge input: errors, not crashes", () => {
    const garbage = variant({ "kubernetes/x.yaml": "\u0000\u0001: : : [[[{{{\n---\n- - - ]\n" });
    expect(() => loadRepo(garbage)).toThrow(RepoError);
    expect(loadRepo(garbage, { mode: "lenient" }).problems.length).toBeGreaterThan(0);
    const huge = variant({ "kubernetes/big.yaml": Array.from({ length: 20000 }, (_, i) => `k${i}: v${i}`).join("\n") });
    expect(loadRepo(huge).documents.some((d) => d.file === "kubernetes/big.yaml")).toBe(true);
    const aliases = variant({ "kubernetes/bomb.yaml": 'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n' });
    // Either parsed (small enough) or refused: it must return or throw a RepoError within the test's time.
    try {
      loadRepo(aliases);
    } catch (e) {
      expect(e).toBeInstanceOf(RepoError);
    }
  });

  test("well-formed YAML of the wrong shape never crashes the loader", () => {
    const weird = [null, 5, "x", [], [1, "a", null], { a: [1] }, true];
    const kinds = [
      ["cilium.io/v2alpha1", "CiliumLoadBalancerIPPool"],
      ["cilium.io/v2alpha1", "CiliumBGPClusterConfig"],
      ["cilium.io/v2alpha1", "CiliumBGPPeerConfig"],
      ["cilium.io/v2alpha1", "CiliumBGPAdvertisement"],
      ["v1", "Service"],
      ["v1", "Namespace"],
      ["kustomize.toolkit.fluxcd.io/v1", "Kustomization"],
      ["helm.toolkit.fluxcd.io/v2", "HelmRelease"],
      ["source.toolkit.fluxcd.io/v1", "HelmRepository"],
      ["external-secrets.io/v1", "ExternalSecret"],
      ["external-secrets.io/v1", "ClusterSecretStore"],
    ];
    for (const w of weird) {
      const docs = kinds.map(([apiVersion, kind]) => JSON.stringify({ apiVersion, kind, metadata: { name: w, labels: w }, spec: w }));
      const dir = variant({
        "kubernetes/weird.yaml": docs.join("\n---\n"),
        "talos/talconfig.yaml": JSON.stringify({ clusterName: w, nodes: w, endpoint: w }),
        "talos/patches/global/network.yaml": JSON.stringify({ cluster: { network: { podSubnets: w } }, machine: w }),
      });
      const m = loadRepo(dir, { mode: "lenient" });
      expect(Array.isArray(m.pools)).toBe(true);
    }
  });

  test("a folder that is not a home-ops repo", () => {
    // the minimal fixture without its two folders
    const dir = variant({ talos: null, kubernetes: null });
    expect(() => loadRepo(dir)).toThrow("is not a home-ops repo (no talos/ or kubernetes/ folder)");
  });
});
