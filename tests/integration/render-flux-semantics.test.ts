import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, type Dirent } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fluxCheck } from "../../lib/checks/flux.ts";
import { loadRenderedRepo, loadRepo } from "../../lib/repo/load.ts";
import { topsRead } from "../../lib/repo/render/index.ts";
import { validateRepo } from "../../lib/checks/index.ts";

/**
 * Flux semantics the render stage follows beyond the kustomize build (reference/flux-render.md): what the source
 * leaves out of its artifact (spec.ignore, .sourceignore), a FluxInstance's kustomize.patches on the objects
 * flux-operator makes, HelmRelease valuesFrom an object generated in another folder, top-level folders outside
 * kubernetes/ that a kustomization reads. Small repos written here;
 * needs kubectl (kustomize) like tests/integration/kustomize.test.ts.
 */

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function repo(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), "home-ops-render-semantics-"));
  made.push(dir);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

const configMap = (name: string) => `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
  namespace: default
data:
  a: b
`;

/** A FluxInstance syncing `syncPath` of this repo, with `patches` (YAML list items) under spec.kustomize.patches. */
const fluxInstance = (syncPath: string, patches: string) => `apiVersion: fluxcd.controlplane.io/v1
kind: FluxInstance
metadata:
  name: flux
  namespace: flux-system
spec:
  distribution:
    version: 2.6.x
    registry: ghcr.io/fluxcd
  sync:
    kind: GitRepository
    url: https://example.com/home-ops.git
    ref: refs/heads/main
    path: ${syncPath}
  kustomize:
    patches:${patches}
`;

/** The Flux Kustomization cluster-apps (flux-system) that syncs ./kubernetes/apps, with `spec` lines added. */
const clusterApps = (spec = "") => `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: cluster-apps
  namespace: flux-system
spec:
  interval: 1h
  path: ./kubernetes/apps
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system${spec}
`;

describe("a FluxInstance patch that moves the sync path", () => {
  const dir = repo({
    "kubernetes/flux/instance.yaml": fluxInstance("kubernetes/old", `
      - target:
          kind: Kustomization
        patch: |
          - op: replace
            path: /spec/path
            value: kubernetes/new`),
    "kubernetes/old/a.yaml": configMap("old"),
    "kubernetes/new/b.yaml": configMap("new"),
  });

  test(
    "flux-operator syncs the patched path: its objects render, the old path is unreferenced",
    async () => {
      const r = (await loadRenderedRepo(dir, { mode: "lenient" })).render;
      expect(r.clusters[0]!.rootPath).toBe("kubernetes/new");
      expect(r.clusters[0]!.objects.filter((o) => o.object.kind === "ConfigMap").map((o) => (o.object.metadata as { name: string }).name)).toEqual(["new"]);
      expect(r.unreferenced.map((u) => u.file)).toContain("kubernetes/old/a.yaml");
    },
    { timeout: 120_000 },
  );
});

describe("what the source leaves out of its artifact never renders", () => {
  // flux-operator makes the GitRepository from spec.sync; the FluxInstance's patch gives it spec.ignore
  const dir = repo({
    "kubernetes/flux/instance.yaml": fluxInstance("kubernetes/cluster", `
      - target:
          kind: GitRepository
        patch: |
          - op: add
            path: /spec/ignore
            value: |
              /kubernetes/cluster/by-spec-ignore.yaml`),
    "kubernetes/cluster/kept.yaml": configMap("kept"),
    "kubernetes/cluster/by-spec-ignore.yaml": configMap("by-spec-ignore"),
    "kubernetes/cluster/extra/by-sourceignore.yaml": configMap("by-sourceignore"),
    "kubernetes/cluster/extra/also-kept.yaml": configMap("also-kept"),
    "kubernetes/cluster/.sourceignore": "by-sourceignore.yaml\n",
  });

  const rendered = () => loadRenderedRepo(dir, { mode: "lenient" }).then((r) => r.render);
  const configMaps = (r: Awaited<ReturnType<typeof rendered>>) =>
    r.clusters[0]!.objects.filter((o) => o.object.kind === "ConfigMap").map((o) => (o.object.metadata as { name: string }).name);
  // Flux never sees them: nothing applies them (the FluxInstance itself is the bootstrap's, outside the sync path)
  const unreferenced = (r: Awaited<ReturnType<typeof rendered>>) => r.unreferenced.map((u) => u.file).filter((f) => f.startsWith("kubernetes/cluster/"));

  test(
    "a FluxInstance's kustomize.patches reach the GitRepository flux-operator makes; its spec.ignore leaves a file out",
    async () => {
      const r = await rendered();
      const source = r.clusters[0]!.objects.find((o) => o.object.kind === "GitRepository");
      expect((source!.object.spec as { ignore?: string }).ignore).toContain("/kubernetes/cluster/by-spec-ignore.yaml");
      expect(configMaps(r)).not.toContain("by-spec-ignore");
      expect(unreferenced(r)).toContain("kubernetes/cluster/by-spec-ignore.yaml");
    },
    { timeout: 120_000 },
  );

  test(
    "a .sourceignore leaves out what it names in its folder and below",
    async () => {
      const r = await rendered();
      expect(configMaps(r).sort()).toEqual(["also-kept", "kept"]);
      expect(unreferenced(r)).toContain("kubernetes/cluster/extra/by-sourceignore.yaml");
    },
    { timeout: 120_000 },
  );
});

describe("HelmRelease valuesFrom an object generated in another folder", () => {
  const dir = repo({
    "kubernetes/flux/cluster/ks.yaml": `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 1h
  path: ./kubernetes/apps
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
`,
    // a Flux path with its own kustomization.yaml: Flux's fields are written into it (in the scratch copy only)
    "kubernetes/apps/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ./values
  - ./app
`,
    "kubernetes/apps/values/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: demo
generatorOptions:
  disableNameSuffixHash: true
configMapGenerator:
  - name: app-values
    files:
      - values.yaml=./app-values.yaml
secretGenerator:
  - name: app-secret-values
    files:
      - values.yaml=./secret-values.yaml
`,
    "kubernetes/apps/values/app-values.yaml": "replicaCount: 3\nui:\n  color: red\n",
    "kubernetes/apps/values/secret-values.yaml": "auth:\n  enabled: true\n",
    "kubernetes/apps/app/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: demo
resources:
  - ./helmrelease.yaml
`,
    "kubernetes/apps/app/helmrelease.yaml": `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: app
spec:
  interval: 1h
  chart:
    spec:
      chart: podinfo
      sourceRef:
        kind: HelmRepository
        name: podinfo
        namespace: flux-system
  valuesFrom:
    - kind: ConfigMap
      name: app-values
    - kind: Secret
      name: app-secret-values
  values:
    ui:
      color: blue
`,
  });

  test(
    "ConfigMap and Secret values merged in order, spec.values last",
    async () => {
      const { models } = await loadRenderedRepo(dir, { mode: "lenient" });
      const hr = models[0]!.helmReleases.find((h) => h.name === "app");
      expect(hr?.namespace).toBe("demo");
      expect(hr?.values).toEqual({ replicaCount: 3, ui: { color: "blue" }, auth: { enabled: true } });
    },
    { timeout: 120_000 },
  );

  test(
    "the render never writes into the repo (its scratch copy links the files it does not write)",
    async () => {
      const snapshot = () =>
        (readdirSync(dir, { recursive: true, withFileTypes: true }) as Dirent[])
          .filter((e) => e.isFile())
          // the modification time too: a write put back afterwards is still a write (an editor or a crash sees it)
          .map((e) => `${path.relative(dir, path.join(e.parentPath, e.name))} ${statSync(path.join(e.parentPath, e.name)).mtimeMs} ${readFileSync(path.join(e.parentPath, e.name), "utf8")}`)
          .sort();
      const before = snapshot();
      await loadRenderedRepo(dir, { mode: "lenient" });
      expect(snapshot()).toEqual(before);
    },
    { timeout: 120_000 },
  );
});

describe("a kustomization reads a top-level folder outside kubernetes/", () => {
  // Flux's artifact is the whole repo minus its source-ignore rules: a configMapGenerator may read any folder of it
  const base = mkdtempSync(path.join(tmpdir(), "home-ops-render-tops-"));
  made.push(base);
  const dir = path.join(base, "repo");
  const write = (rel: string, text: string) => {
    mkdirSync(path.dirname(path.join(base, rel)), { recursive: true });
    writeFileSync(path.join(base, rel), text);
  };
  const generator = (name: string, file: string) => `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: default
generatorOptions:
  disableNameSuffixHash: true
configMapGenerator:
  - name: ${name}
    files:
      - ${file}
`;
  write("repo/kubernetes/flux/instance.yaml", fluxInstance("kubernetes/cluster", " []"));
  // one Flux Kustomization per app folder: each builds (or fails) on its own
  for (const app of ["adguard", "shared", "private", "leak"])
    write(`repo/kubernetes/cluster/${app}.yaml`, `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: ${app}
  namespace: flux-system
spec:
  interval: 1h
  path: ./kubernetes/apps/${app}
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
`);
  write("repo/kubernetes/apps/adguard/kustomization.yaml", generator("adguard", "AdGuardHome.yaml=../../../adguard/AdGuardHome.yaml"));
  write("repo/adguard/AdGuardHome.yaml", "dns:\n  port: 53\n");
  // a folder outside kubernetes/ with its own kustomization, which reads a third top-level folder and a root file
  write("repo/kubernetes/apps/shared/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../../shared/base\n");
  write("repo/shared/base/kustomization.yaml", generator("shared", "conf.yaml=../../values/conf.yaml") + "  - name: root-file\n    files:\n      - ../../settings.yaml\n");
  write("repo/values/conf.yaml", "a: b\n");
  write("repo/settings.yaml", "c: d\n");
  // a folder the source ignores is not in the artifact: the build fails as Flux's would
  write("repo/.sourceignore", "/private/\n");
  write("repo/private/token.yaml", "t: x\n");
  write("repo/kubernetes/apps/private/kustomization.yaml", generator("private", "../../../private/token.yaml"));
  // a path that leaves the repo stays refused
  write("outside/leak.yaml", "l: x\n");
  write("repo/kubernetes/apps/leak/kustomization.yaml", generator("leak", "../../../../outside/leak.yaml"));
  write("repo/tests/unrelated.yaml", "u: x\n");

  test(
    "what it reads renders; an ignored folder and a path out of the repo do not build",
    async () => {
      const r = (await loadRenderedRepo(dir, { mode: "lenient" })).render;
      const names = r.clusters[0]!.objects.filter((o) => o.object.kind === "ConfigMap").map((o) => (o.object.metadata as { name: string }).name);
      expect(names.filter((n) => !n.startsWith("flux")).sort()).toEqual(["adguard", "root-file", "shared"]);
      const failed = r.findings.filter((f) => f.id === "kustomize/build").map((f) => f.dir).sort();
      expect(failed).toEqual(["kubernetes/apps/leak", "kubernetes/apps/private"]);
    },
    { timeout: 120_000 },
  );

  test("only the top-level entries a kustomization names join the scratch copy", () => {
    const { documents } = loadRepo(dir, { mode: "lenient" });
    expect(topsRead(dir, documents, ["kubernetes"])).toEqual(["adguard", "private", "settings.yaml", "shared", "values"]);
  });
});

describe("a Flux path with one broken entry: the rest renders as Flux would apply it once that entry is fixed", () => {
  const dir = repo({
    "kubernetes/flux/cluster/apps.yaml": clusterApps(),
    "kubernetes/apps/kustomization.yaml": "resources:\n  - ./media\n  - ./broken\n",
    // the namespace component idiom: the Namespace is renamed by the folder's namespace:
    "kubernetes/apps/media/kustomization.yaml": "namespace: media\nresources:\n  - ./namespace.yaml\n  - ./config.yaml\n",
    "kubernetes/apps/media/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: not-used\n",
    "kubernetes/apps/media/config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: media-config\ndata:\n  a: b\n",
    "kubernetes/apps/broken/kustomization.yaml": "resources:\n  - ./gone.yaml\n  - ./kept.yaml\n",
    "kubernetes/apps/broken/kept.yaml": configMap("kept"),
  });

  test(
    "objects of the healthy entries carry kustomize's transforms; only the missing entry is left out",
    async () => {
      const { render } = await loadRenderedRepo(dir, { mode: "lenient" });
      const objects = render.clusters[0]!.objects.map((o) => o.object as { kind: string; metadata: { name: string; namespace?: string } });
      expect(objects.filter((o) => o.kind === "Namespace").map((o) => o.metadata.name)).toEqual(["media"]);
      expect(objects.find((o) => o.metadata.name === "media-config")?.metadata.namespace).toBe("media");
      expect(objects.map((o) => o.metadata.name)).toContain("kept");
      expect(render.unrendered).toEqual(["kubernetes/apps/broken/gone.yaml"]);
      expect(render.complete).toBe(true);
      const build = render.findings.find((f) => f.id === "kustomize/build");
      expect(build?.message).toContain("(without kubernetes/apps/broken/gone.yaml) was rendered and checked");
      // validate: the missing entry at its line, no false finding about the renamed Namespace
      // (the small repo lacks what the other families want: a source, Cilium, a .gitignore)
      const v = await validateRepo(dir, { only: ["kustomize", "flux"] });
      const errors = v.findings.filter((f) => f.severity === "error" && /^(kustomize|flux)\//.test(f.id) && f.id !== "flux/source-missing");
      expect(errors.map((f) => `${f.id} ${f.file}`)).toEqual(["kustomize/missing-entry kubernetes/apps/broken/kustomization.yaml"]);
    },
    { timeout: 120_000 },
  );
});

/**
 * cluster-template's older layout next to a FluxInstance: kubernetes/flux/config/cluster.yaml, applied by the
 * bootstrap (`kubectl apply -k kubernetes/flux/config`), syncs ./kubernetes/flux, which holds itself, the chart
 * sources and the cluster-settings the FluxInstance root's cluster-apps substitutes from.
 */
const selfManaged: Record<string, string> = {
  "kubernetes/flux/cluster/ks.yaml": clusterApps(`
  postBuild:
    substituteFrom:
      - kind: ConfigMap
        name: cluster-settings`),
  "kubernetes/flux/cluster/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ./ks.yaml\n",
  "kubernetes/flux/config/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ./cluster.yaml\n",
  "kubernetes/flux/config/cluster.yaml": `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 30m
  url: https://example.com/home-ops.git
  ref:
    branch: main
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: cluster
  namespace: flux-system
spec:
  interval: 30m
  path: ./kubernetes/flux
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
  postBuild:
    substituteFrom:
      - kind: ConfigMap
        name: cluster-settings
`,
  "kubernetes/flux/repositories/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ./podinfo.yaml\n",
  "kubernetes/flux/repositories/podinfo.yaml": `apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: podinfo
  namespace: flux-system
  annotations:
    example.com/color: \${APP_COLOR}
spec:
  interval: 1h
  url: https://stefanprodan.github.io/podinfo
`,
  "kubernetes/flux/vars/cluster-settings.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: cluster-settings
  namespace: flux-system
data:
  APP_COLOR: red
`,
  "kubernetes/apps/demo/helmrelease.yaml": `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: app
  namespace: demo
spec:
  interval: 1h
  chart:
    spec:
      chart: podinfo
      sourceRef:
        kind: HelmRepository
        name: podinfo
        namespace: flux-system
  values:
    ui:
      color: \${APP_COLOR}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: other
  namespace: demo
spec:
  interval: 1h
  chart:
    spec:
      chart: other
      sourceRef:
        kind: HelmRepository
        name: nowhere
        namespace: flux-system
`,
};

/** What both a FluxInstance root and the self-managing Kustomization give: checked the same way for each repo. */
async function expectSelfManagedRendered(dir: string) {
  const { models, render } = await loadRenderedRepo(dir, { mode: "lenient" });
  expect(render.clusters).toHaveLength(1);
  expect(render.unreferenced.map((u) => u.file).filter((f) => f.startsWith("kubernetes/flux/"))).toEqual([]);
  const model = models[0]!;
  // the sources it applies are there: only the HelmRelease whose source is in no file lacks one, and the fix says
  // where this repo keeps its chart sources
  const missing = fluxCheck(model).filter((f) => f.id === "flux/source-missing");
  expect(missing.map((f) => f.file + ":" + f.message)).toEqual(["kubernetes/apps/demo/helmrelease.yaml:HelmRelease other: source HelmRepository flux-system/nowhere does not exist"]);
  expect(missing[0]!.fix).toContain("under kubernetes/flux/repositories,");
  // cluster-apps substitutes from the cluster-settings the other sync applies
  expect(model.helmReleases.find((h) => h.name === "app")?.values).toEqual({ ui: { color: "red" } });
  // and so does the Kustomization that builds itself, from the settings it applies (they exist once it ran)
  const objects = render.clusters[0]!.objects;
  const repository = objects.find((o) => o.object.kind === "HelmRepository")?.object as { metadata: { annotations: Record<string, string> } };
  expect(repository.metadata.annotations["example.com/color"]).toBe("red");
  // an object two syncs apply (and the Kustomization that builds itself) is modelled once
  const count = (kind: string, name: string) => objects.filter((o) => o.object.kind === kind && (o.object.metadata as { name: string }).name === name).length;
  for (const [kind, name] of [["GitRepository", "flux-system"], ["Kustomization", "cluster"], ["Kustomization", "cluster-apps"], ["HelmRepository", "podinfo"]]) expect(count(kind!, name!), `${kind} ${name}`).toBe(1);
  return render;
}

describe("a self-managing Kustomization the bootstrap applies next to a FluxInstance", () => {
  const dir = repo({ ...selfManaged, "kubernetes/apps/flux-system/instance.yaml": fluxInstance("kubernetes/flux/cluster", " []") });

  test(
    "it renders into the FluxInstance's cluster: its sources and settings are there, nothing twice",
    async () => {
      const render = await expectSelfManagedRendered(dir);
      expect(render.clusters[0]!.rootPath).toBe("kubernetes/flux/cluster");
      const ks = (name: string) => render.clusters[0]!.objects.find((o) => o.object.kind === "Kustomization" && (o.object.metadata as { name: string }).name === name);
      // the root's sync renders first: cluster-apps is the FluxInstance's, the other Kustomization the bootstrap's
      expect(ks("cluster-apps")?.appliedBy).toBe("flux-system/flux-system");
      expect(ks("cluster")?.appliedBy).toBe("bootstrap");
    },
    { timeout: 120_000 },
  );
});

describe("a self-managing Kustomization in a repo without another root", () => {
  const dir = repo(selfManaged);

  test(
    "it is the root (before the kubernetes/flux/cluster convention)",
    async () => {
      const render = await expectSelfManagedRendered(dir);
      expect(render.clusters[0]!.rootPath).toBe("kubernetes/flux");
    },
    { timeout: 120_000 },
  );
});

describe("flux bootstrap's gotk-sync.yaml", () => {
  // the bootstrap applies the flux-system folder; the Kustomization it holds builds the cluster's path, that folder too
  const dir = repo({
    "kubernetes/clusters/home/flux-system/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ./gotk-sync.yaml\n",
    "kubernetes/clusters/home/flux-system/gotk-sync.yaml": selfManaged["kubernetes/flux/config/cluster.yaml"]!.replace("name: cluster\n", "name: flux-system\n").replace("./kubernetes/flux", "./kubernetes/clusters/home").replace(/  postBuild:[^]*$/, ""),
    "kubernetes/clusters/home/settings.yaml": configMap("settings"),
  });

  test(
    "what the bootstrap applied and the sync applies again is one object",
    async () => {
      const r = (await loadRenderedRepo(dir, { mode: "lenient" })).render;
      const kinds = r.clusters[0]!.objects.map((o) => `${o.object.kind} ${(o.object.metadata as { name: string }).name} ${o.appliedBy}`).sort();
      expect(kinds).toEqual(["ConfigMap settings flux-system/flux-system", "GitRepository flux-system bootstrap", "Kustomization flux-system bootstrap"]);
    },
    { timeout: 120_000 },
  );
});
