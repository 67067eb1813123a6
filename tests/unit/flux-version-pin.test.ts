/**
 * Which Flux the model says the cluster runs, and where that is written: a flux-instance HelmRelease whose values
 * come from a configMapGenerator's file (cluster-template), and the tool pin in each of mise's config file names.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadRepo, MISE_FILES } from "../../lib/repo/load.ts";

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function repo(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), "home-ops-flux-pin-"));
  made.push(dir);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

const APP = "kubernetes/apps/flux-system/flux-instance/app";
/** The flux-instance chart with its values in helm/values.yaml (a configMapGenerator makes the valuesFrom ConfigMap). */
const fluxInstance = (values: string) => ({
  [`${APP}/kustomization.yaml`]: `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ./helmrelease.yaml
configMapGenerator:
  - name: flux-instance-values
    files:
      - values.yaml=./helm/values.yaml
`,
  [`${APP}/helmrelease.yaml`]: `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: flux-instance
spec:
  chartRef:
    kind: OCIRepository
    name: flux-instance
  valuesFrom:
    - kind: ConfigMap
      name: flux-instance-values
`,
  [`${APP}/helm/values.yaml`]: values,
});

const VALUES = `instance:
  distribution:
    version: 2.8.8
  sync:
    kind: GitRepository
    path: kubernetes/flux/cluster
`;

const lineOf = (dir: string, s: { file: string; line: number }) => readFileSync(path.join(dir, s.file), "utf8").split("\n")[s.line - 1] ?? "";

describe("the Flux version", () => {
  test("read from the flux-instance values a configMapGenerator makes, at their file and line", () => {
    const dir = repo(fluxInstance(VALUES));
    const flux = loadRepo(dir, { mode: "lenient" }).versions.flux;
    expect(flux.source.file).toBe(`${APP}/helm/values.yaml`);
    expect(lineOf(dir, flux.source)).toBe(`    version: ${flux.value}`);
    expect(flux.value).not.toBe("");
  });

  test("spec.values beats valuesFrom, as Flux merges them", () => {
    const dir = repo(fluxInstance(VALUES));
    const hr = path.join(dir, APP, "helmrelease.yaml");
    writeFileSync(hr, `${readFileSync(hr, "utf8")}  values:\n    instance:\n      distribution:\n        version: 2.7.x\n`);
    const flux = loadRepo(dir, { mode: "lenient" }).versions.flux;
    expect(flux.source.file).toBe(`${APP}/helmrelease.yaml`);
    expect(lineOf(dir, flux.source)).toBe(`        version: ${flux.value}`);
  });

  for (const file of MISE_FILES)
    test(`the flux2 pin of ${file} wins, at its line`, () => {
      const dir = repo({ ...fluxInstance(VALUES), [file]: `[tools]\nflux2 = "2.6.1"\n` });
      const flux = loadRepo(dir, { mode: "lenient" }).versions.flux;
      expect(flux.source.file).toBe(file);
      expect(lineOf(dir, flux.source)).toBe(`flux2 = "${flux.value}"`);
    });

  test('flux2 = "latest" is no pin: the manifests say which Flux runs', () => {
    const dir = repo({ ...fluxInstance(VALUES), "mise.toml": `[tools]\nflux2 = "latest"\n` });
    expect(loadRepo(dir, { mode: "lenient" }).versions.flux.source.file).toBe(`${APP}/helm/values.yaml`);
  });

  test("no pin anywhere: the model points at the repo's mise config, else at the flux-instance", () => {
    const unpinned = VALUES.replace(/ {2}distribution:\n.*\n/, "");
    const withMise = loadRepo(repo({ ...fluxInstance(unpinned), "mise.toml": `[tools]\nkubectl = "1.33.0"\n` }), { mode: "lenient" }).versions.flux;
    expect(withMise).toEqual({ value: "", source: { file: "mise.toml", line: 0 } });
    const without = loadRepo(repo(fluxInstance(unpinned)), { mode: "lenient" }).versions.flux;
    expect(without).toEqual({ value: "", source: { file: `${APP}/helmrelease.yaml`, line: 0 } });
  });
});
