/** The Flux emulation (source/kustomize/helm controllers) and the flux stand-in, on a small fixture repository. */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { envsubst, kustomizeBuild } from "../../lib/sim/controllers/flux.ts";
import { populateBootstrapped } from "../../lib/sim/controllers/populate.ts";
import type { KObj } from "../../lib/sim/controllers/obj.ts";
import { ENV, installCilium, type Rig, rig, threeNodes } from "./sim-controllers-helpers.ts";

let root = "";
const files: Record<string, string> = {
  "kubernetes/flux/cluster/kustomization.yaml": "resources:\n  - ./gitrepository.yaml\n  - ./ks.yaml\n",
  "kubernetes/flux/cluster/gitrepository.yaml": `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: home-ops, namespace: flux-system}
spec: {interval: 1h, url: ssh://git@github.com/example/home-ops, ref: {branch: main}, secretRef: {name: github-deploy-key}}
`,
  "kubernetes/flux/cluster/ks.yaml": `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: cluster-meta, namespace: flux-system}
spec: {path: ./kubernetes/flux/meta, sourceRef: {kind: GitRepository, name: home-ops}, interval: 1h, prune: true, wait: true}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: cluster-apps, namespace: flux-system}
spec: {path: ./kubernetes/apps, sourceRef: {kind: GitRepository, name: home-ops}, dependsOn: [{name: cluster-meta}], interval: 1h, prune: true, wait: false}
`,
  "kubernetes/flux/meta/kustomization.yaml": "resources:\n  - ./settings.yaml\n  - ./repos.yaml\n",
  "kubernetes/flux/meta/settings.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cluster-settings, namespace: flux-system}\ndata: {GREETING: hello, REPLICAS: \"2\"}\n",
  "kubernetes/flux/meta/repos.yaml": `apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: jetstack, namespace: flux-system}
spec: {interval: 1h, url: https://charts.jetstack.io}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: podinfo, namespace: flux-system}
spec: {interval: 1h, url: https://stefanprodan.github.io/podinfo}
`,
  "kubernetes/apps/kustomization.yaml": "resources:\n  - ./demo\n",
  "kubernetes/apps/demo/kustomization.yaml": "resources:\n  - ./namespace.yaml\n  - ./cert-manager/ks.yaml\n  - ./podinfo/ks.yaml\n",
  "kubernetes/apps/demo/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n",
  "kubernetes/apps/demo/cert-manager/ks.yaml": `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: cert-manager, namespace: flux-system}
spec:
  targetNamespace: demo
  path: ./kubernetes/apps/demo/cert-manager/app
  sourceRef: {kind: GitRepository, name: home-ops}
  interval: 1h
  prune: true
  wait: true
  postBuild: {substituteFrom: [{kind: ConfigMap, name: cluster-settings}]}
`,
  "kubernetes/apps/demo/cert-manager/app/kustomization.yaml": "resources:\n  - ./helmrelease.yaml\n  - ./config.yaml\n  - ./middleware.yaml\n",
  "kubernetes/apps/demo/cert-manager/app/helmrelease.yaml": `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: cert-manager}
spec:
  interval: 1h
  chart: {spec: {chart: cert-manager, version: v1.17.2, sourceRef: {kind: HelmRepository, name: jetstack, namespace: flux-system}}}
  values:
    replicaCount: \${REPLICAS}
`,
  "kubernetes/apps/demo/cert-manager/app/config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: greeting}\ndata: {text: \"${GREETING} world ${UNSET:=fallback}\"}\n",
  // a kind of a chart the simulation has no knowledge of (its CRD never appears): counted as applied, not stored
  "kubernetes/apps/demo/cert-manager/app/middleware.yaml": "apiVersion: traefik.io/v1alpha1\nkind: Middleware\nmetadata: {name: cm}\nspec: {}\n",
  "kubernetes/apps/demo/podinfo/ks.yaml": `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: podinfo, namespace: flux-system}
spec:
  targetNamespace: demo
  path: ./kubernetes/apps/demo/podinfo/app
  sourceRef: {kind: GitRepository, name: home-ops}
  dependsOn: [{name: cert-manager}]
  interval: 1h
  prune: true
  wait: true
`,
  "kubernetes/apps/demo/podinfo/app/helmrelease.yaml": `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: podinfo}
spec:
  interval: 1h
  chart: {spec: {chart: podinfo, version: 6.7.1, sourceRef: {kind: HelmRepository, name: podinfo, namespace: flux-system}}}
`,
};

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), "sim-flux-"));
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    writeFileSync(path.join(root, f), text);
  }
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

let current: Rig | undefined;
afterEach(() => current?.stop());

const KS = "kustomizations.kustomize.toolkit.fluxcd.io";
const readyOf = (o: KObj | undefined) => ((o?.status?.conditions ?? []) as { type: string; status: string; reason: string; message: string }[]).find((c) => c.type === "Ready");

async function withFlux(): Promise<Rig> {
  const r = (current = rig({ root, flux: { revision: "main@sha1:0123456789abcdef0123456789abcdef01234567" } }));
  threeNodes(r);
  await installCilium(r);
  const res = await r.flux("install", "--version=v2.4.0");
  expect(res.exitCode).toBe(0);
  await r.settle();
  return r;
}

function applyDir(r: Rig, rel: string): void {
  for (const o of kustomizeBuild(path.join(root, rel))) r.store.apply(o, { fieldManager: "test", force: true });
}

describe("helpers", () => {
  test("envsubst like Flux: ${VAR}, ${VAR:=default}, unset -> empty", () => {
    expect(envsubst("a ${X} b ${Y:=d} c ${Z}", { X: "1" })).toBe("a 1 b d c ");
  });
  test("kustomizeBuild follows resources and directories", () => {
    expect(kustomizeBuild(path.join(root, "kubernetes/apps")).map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(["Namespace/demo", "Kustomization/cert-manager", "Kustomization/podinfo"]);
  });
});

describe("flux stand-in and controllers", () => {
  test("check --pre, install output, controllers ready", async () => {
    const r = (current = rig({ root }));
    threeNodes(r);
    await installCilium(r);
    const pre = await r.flux("check", "--pre");
    expect(pre).toMatchObject({ exitCode: 0, stderr: "► checking prerequisites\n✔ Kubernetes 1.32.3 >=1.30.0-0\n✔ prerequisites checks passed\n" });
    const inst = await r.flux("install", "--version=v2.4.0");
    expect(inst.exitCode).toBe(0);
    expect(inst.stderr).toContain("✔ source-controller: deployment ready\n✔ install finished\n");
    expect(inst.stdout).toContain("CustomResourceDefinition/kustomizations.kustomize.toolkit.fluxcd.io created\n");
    await r.settle();
    const check = await r.flux("check");
    expect(check.stderr).toContain("✔ all checks passed");
    expect((await r.flux("install", "--version=v9.9.9")).exitCode).toBe(1);
  });

  test("the repo's Kustomizations reconcile in dependsOn order to Ready, with substitution and targetNamespace", async () => {
    const r = await withFlux();
    applyDir(r, "kubernetes/flux/cluster");
    await r.settle();
    // no deploy key yet: the source cannot authenticate
    expect(readyOf(r.get("gitrepositories.source.toolkit.fluxcd.io", "home-ops", "flux-system"))).toMatchObject({ status: "False", reason: "AuthenticationFailed" });
    expect(readyOf(r.get(KS, "cluster-apps", "flux-system"))?.status).toBe("False");
    r.store.create({ apiVersion: "v1", kind: "Secret", metadata: { name: "github-deploy-key", namespace: "flux-system" }, data: { identity: "eA==" } } as KObj, { fieldManager: "test" });
    await r.settle();
    for (const name of ["cluster-meta", "cluster-apps", "cert-manager", "podinfo"]) {
      expect(readyOf(r.get(KS, name, "flux-system"))).toMatchObject({ status: "True", reason: "ReconciliationSucceeded", message: "Applied revision: main@sha1:0123456789abcdef0123456789abcdef01234567" });
    }
    expect(r.get("configmaps", "greeting", "demo")?.data?.text).toBe("hello world fallback");
    expect(r.get("deployments", "cert-manager", "demo")?.spec?.replicas).toBe(2);
    const hr = r.get("helmreleases.helm.toolkit.fluxcd.io", "podinfo", "demo");
    expect(readyOf(hr)).toMatchObject({ status: "True", reason: "InstallSucceeded", message: "Helm install succeeded for release demo/podinfo.v1 with chart podinfo@6.7.1" });
    const get = await r.flux("get", "ks", "-A");
    expect(get.stdout.split("\n")[0]).toMatch(/^NAMESPACE\s+\tNAME\s+\tREVISION\s+\tSUSPENDED\tREADY\tMESSAGE$/);
    expect(get.stdout).toContain("Applied revision: main@sha1:0123456789abcdef0123456789abcdef01234567");
  });

  test("dependsOn not Ready: DependencyNotReady with Flux's message; a missing modelled CRD fails the apply", async () => {
    const r = await withFlux();
    r.store.create({ apiVersion: "v1", kind: "Secret", metadata: { name: "github-deploy-key", namespace: "flux-system" }, data: { identity: "eA==" } } as KObj, { fieldManager: "test" });
    applyDir(r, "kubernetes/flux/cluster");
    r.store.apply({ apiVersion: "kustomize.toolkit.fluxcd.io/v1", kind: "Kustomization", metadata: { name: "needs-missing", namespace: "flux-system" }, spec: { interval: "1h", prune: true, path: "./kubernetes/apps", sourceRef: { kind: "GitRepository", name: "home-ops" }, dependsOn: [{ name: "nope" }] } }, { fieldManager: "test" });
    await r.settle();
    expect(readyOf(r.get(KS, "needs-missing", "flux-system"))).toMatchObject({ status: "False", reason: "DependencyNotReady", message: "dependency 'flux-system/nope' is not ready" });
    mkdirSync(path.join(root, "kubernetes/stores"), { recursive: true });
    writeFileSync(path.join(root, "kubernetes/stores/store.yaml"), "apiVersion: external-secrets.io/v1\nkind: ClusterSecretStore\nmetadata: {name: onepassword}\nspec: {}\n");
    try {
      r.store.apply({ apiVersion: "kustomize.toolkit.fluxcd.io/v1", kind: "Kustomization", metadata: { name: "stores", namespace: "flux-system" }, spec: { interval: "1h", prune: true, path: "./kubernetes/stores", sourceRef: { kind: "GitRepository", name: "home-ops" } } }, { fieldManager: "test" });
      await r.settle();
      const c = readyOf(r.get(KS, "stores", "flux-system"));
      expect(c?.status).toBe("False");
      expect(c?.message).toContain('ClusterSecretStore/onepassword dry-run failed: no matches for kind "ClusterSecretStore" in version "external-secrets.io/v1"');
    } finally {
      rmSync(path.join(root, "kubernetes/stores"), { recursive: true });
    }
  });

  test("suspend/resume --all, reconcile with source, errors", async () => {
    const r = await withFlux();
    r.store.create({ apiVersion: "v1", kind: "Secret", metadata: { name: "github-deploy-key", namespace: "flux-system" }, data: { identity: "eA==" } } as KObj, { fieldManager: "test" });
    applyDir(r, "kubernetes/flux/cluster");
    await r.settle();
    const sus = await r.flux("suspend", "ks", "--all");
    expect(sus.stderr).toContain("► suspending kustomization cluster-apps in flux-system namespace\n✔ kustomization suspended\n");
    await r.settle();
    expect(r.list(KS, "flux-system").every((k) => k.spec.suspend === true)).toBe(true);
    expect((await r.flux("reconcile", "ks", "cluster-apps")).stderr).toBe("✗ resource is suspended\n");
    const res = await r.flux("resume", "ks", "--all");
    expect(res.stderr).not.toContain("✗");
    expect(res.exitCode).toBe(0);
    expect(res.stderr).toContain("✔ Kustomization reconciliation completed");
    const rec = await r.flux("reconcile", "ks", "cluster-apps", "--with-source");
    expect(rec.exitCode).toBe(0);
    expect(rec.stderr).toContain("► annotating GitRepository home-ops in flux-system namespace");
    expect(rec.stderr).toContain("✔ applied revision main@sha1:0123456789abcdef0123456789abcdef01234567");
    expect((await r.flux("reconcile", "ks", "nope")).stderr).toBe('✗ Kustomization.kustomize.toolkit.fluxcd.io "nope" not found\n');
  });

  test("bootstrap github takes the token from the environment or stdin only", async () => {
    const r = (current = rig({ root }));
    threeNodes(r);
    await installCilium(r);
    const argvSecret = await r.fluxWith(ENV, "", "bootstrap", "github", "--owner=me", "--repository=home-ops", "--token=ghp_secret");
    expect(argvSecret).toMatchObject({ exitCode: 1, stderr: "✗ unknown flag: --token\n" });
    const none = await r.fluxWith(ENV, "", "bootstrap", "github", "--owner=me", "--repository=home-ops", "--path=kubernetes/flux/cluster");
    expect(none.stderr).toContain("✗ could not read token: EOF");
    const ok = await r.fluxWith({ ...ENV, GITHUB_TOKEN: "ghp_from_env" }, "", "bootstrap", "github", "--owner=me", "--repository=home-ops", "--branch=main", "--path=kubernetes/flux/meta", "--personal", "--token-auth");
    expect(ok.stderr).toContain("✔ Kustomization reconciled successfully");
    expect(ok.stderr).toContain("✔ all components are healthy");
    expect(ok.stdout + ok.stderr).not.toContain("ghp_from_env");
    const secret = r.get("secrets", "flux-system", "flux-system");
    expect(Buffer.from(secret?.data?.password ?? "", "base64").toString()).toBe("ghp_from_env");
    expect(r.get("gitrepositories.source.toolkit.fluxcd.io", "flux-system", "flux-system")?.spec?.url).toBe("https://github.com/me/home-ops.git");
  });

  test("populateBootstrapped builds the GitOps state of the repo (deploy key, Flux, every Kustomization Ready)", async () => {
    const r = (current = rig({ root, scale: 1 })); // real delays would take minutes: populate skips them
    threeNodes(r);
    for (const n of ["mini01", "mini02", "mini03"]) r.setNodeReady(n, "True");
    const t0 = Date.now();
    await populateBootstrapped(r.c.ctx, root);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(r.get("secrets", "github-deploy-key", "flux-system")).toBeDefined();
    const ks = r.list(KS, "flux-system");
    expect(ks.map((k) => k.metadata.name).sort()).toEqual(["cert-manager", "cluster-apps", "cluster-meta", "podinfo"]);
    expect(ks.every((k) => readyOf(k)?.status === "True")).toBe(true);
    expect(r.c.ctx.fast).toBe(false);
  });
});
