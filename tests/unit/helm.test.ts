import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { ConfigError } from "../../lib/cli/errors.ts";
import { Exec } from "../../lib/exec.ts";
import { findHelmRelease, helmInstallFor, helmUpgrade, helmUpgradeArgv, installState, parseHelmList, valuesYaml } from "../../lib/helm/index.ts";
import { loadRepo } from "../../lib/repo/model.ts";

const root = path.resolve(import.meta.dir, "../..");
const model = loadRepo(root);

/** A tiny repo with one HelmRelease per source kind. */
function fixtureRepo(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), "helm-test-"));
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    writeFileSync(path.join(dir, f), text);
  }
  return dir;
}

describe("helmInstallFor (the repo's own HelmReleases)", () => {
  test("cilium: chart, version and values come from kubernetes/apps/kube-system/cilium", () => {
    const i = helmInstallFor(model, "cilium");
    const hr = model.helmReleases.find((h) => h.chart === "cilium")!;
    expect(i.release).toBe("cilium");
    expect(i.namespace).toBe("kube-system");
    expect(i.version).toBe(hr.version!);
    expect(i.version).toBe(model.versions.cilium.value);
    expect(i.repoUrl).toMatch(/^https:\/\//);
    expect(i.values).toBe(hr.values);
    expect(i.from.source.file).toStartWith("kubernetes/apps/kube-system/cilium/");
  });

  test("every pre-Flux chart resolves with a namespace from its Flux Kustomization", () => {
    for (const chart of ["cilium", "external-secrets", "connect", "longhorn"]) {
      const i = helmInstallFor(model, chart);
      expect(i.namespace.length).toBeGreaterThan(0);
      expect(i.version).toMatch(/^\d+\.\d+\.\d+/);
    }
    expect(helmInstallFor(model, "connect").namespace).toBe("external-secrets");
  });

  test("an unknown chart is a ConfigError naming where to add it", () => {
    expect(() => findHelmRelease(model, "no-such-chart")).toThrow(ConfigError);
    expect(() => findHelmRelease(model, "no-such-chart")).toThrow(/no HelmRelease for the no-such-chart chart/);
  });

  test("OCI sources and a missing source", () => {
    const dir = fixtureRepo({
      "kubernetes/apps/x/app/helmrelease.yaml": `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web, namespace: x}
spec:
  chart: {spec: {chart: web, version: 1.2.3, sourceRef: {kind: HelmRepository, name: oci-repo, namespace: flux-system}}}
  values: {replicas: 2}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: lost, namespace: x}
spec:
  chart: {spec: {chart: lost, version: 1.0.0, sourceRef: {kind: HelmRepository, name: nowhere}}}
`,
      "kubernetes/flux/repos.yaml": `apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: oci-repo, namespace: flux-system}
spec: {type: oci, url: oci://ghcr.io/example/charts}
`,
    });
    try {
      const m = loadRepo(dir, { mode: "lenient" });
      const i = helmInstallFor(m, "web");
      expect(i.chart).toBe("oci://ghcr.io/example/charts/web");
      expect(i.repoUrl).toBeUndefined();
      expect(helmUpgradeArgv(i)).not.toContain("--repo");
      expect(() => helmInstallFor(m, "lost")).toThrow(/HelmRepository "nowhere", which is not defined/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("helm argv and values", () => {
  test("upgrade --install reads values from stdin and never waits inside helm", () => {
    const i = helmInstallFor(model, "cilium");
    const argv = helmUpgradeArgv(i);
    expect(argv.slice(0, 4)).toEqual(["upgrade", "--install", "cilium", "cilium"]);
    expect(argv).toContain("--create-namespace");
    expect(argv.slice(-2)).toEqual(["--values", "-"]);
    expect(argv).not.toContain("--wait");
    expect(argv[argv.indexOf("--version") + 1]).toBe(i.version);
    expect(argv[argv.indexOf("--namespace") + 1]).toBe("kube-system");
  });

  test("the values helm gets are exactly the HelmRelease's", () => {
    const i = helmInstallFor(model, "cilium");
    expect(parse(valuesYaml(i))).toEqual(JSON.parse(JSON.stringify(i.values)));
  });

  test("helmUpgrade passes values on stdin (dry run prints the command with `< (stdin)`)", async () => {
    const lines: string[] = [];
    const exec = new Exec({ dryRun: true, out: { line: (t: string) => lines.push(t), debug() {} } as never });
    const i = helmInstallFor(model, "longhorn");
    const r = await helmUpgrade(exec, i);
    expect(r.dryRun).toBe(true);
    expect(lines[0]).toStartWith("[dry-run] helm upgrade --install longhorn longhorn");
    expect(lines[0]).toEndWith("< (stdin)");
  });
});

describe("helm list", () => {
  const text = JSON.stringify([
    { name: "cilium", namespace: "kube-system", revision: "2", status: "deployed", chart: "cilium-1.17.6", app_version: "1.17.6" },
    { name: "longhorn", namespace: "longhorn-system", revision: "1", status: "failed", chart: "longhorn-1.9.0" },
  ]);

  test("parses name, namespace, status and the chart version", () => {
    const l = parseHelmList(text);
    expect(l[0]).toEqual({ name: "cilium", namespace: "kube-system", revision: 2, status: "deployed", chart: "cilium", version: "1.17.6" });
    expect(l[1]!.status).toBe("failed");
    expect(parseHelmList("")).toEqual([]);
    expect(() => parseHelmList("Error: boom")).toThrow(/not JSON/);
  });

  test("installState: missing, deployed, other version, failed", () => {
    const i = helmInstallFor(model, "cilium");
    const l = parseHelmList(text);
    expect(installState(i, []).state).toBe("missing");
    expect(installState({ ...i, version: "1.17.6" }, l).state).toBe("deployed");
    expect(installState({ ...i, version: "1.18.0" }, l).state).toBe("other-version");
    const lh = helmInstallFor(model, "longhorn");
    expect(installState(lh, l).state).toBe("failed");
  });
});
