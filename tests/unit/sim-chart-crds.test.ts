/**
 * The CRDs of the shared chart knowledge (lib/repo/charts.ts) against this repo: each chart of the repo whose CRDs
 * the toolkit knows installs them with the repo's values (and not when its switch is off), and every custom
 * resource of the repo whose kind comes with them is valid under strict field validation — names, types and
 * required fields as the upstream schema has them.
 */
import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { schemaCheck } from "../../lib/checks/schema.ts";
import { type ChartCrd, chartCrdCoverage, chartCrds, knownChartCrds } from "../../lib/repo/charts.ts";
import { loadRepo } from "../../lib/repo/load.ts";
import { findChart } from "../../lib/sim/charts.ts";
import { EXTERNAL_SECRETS_KINDS, LONGHORN_KINDS } from "../../lib/sim/kinds.ts";
import { readObjects } from "../../lib/sim/controllers/flux.ts";
import type { KObj } from "../../lib/sim/controllers/obj.ts";
import { validateCustomResource } from "../../lib/sim/schema.ts";
import { rig } from "./sim-controllers-helpers.ts";

const ROOT = path.resolve(import.meta.dir, "../..");

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = path.join(dir, e);
    return statSync(p).isDirectory() ? yamlFiles(p) : /\.ya?ml$/.test(e) ? [p] : [];
  });
}
const objects: KObj[] = yamlFiles(path.join(ROOT, "kubernetes")).flatMap((f) => readObjects(f));

/** chart name of each HelmRelease (spec.chart.spec.chart, or the OCIRepository its chartRef names) with its values */
const releases = objects
  .filter((o) => o.kind === "HelmRelease")
  .map((hr) => {
    const ref = hr.spec?.chartRef as { kind?: string; name?: string } | undefined;
    const oci = ref?.kind === "OCIRepository" ? objects.find((o) => o.kind === "OCIRepository" && o.metadata.name === ref.name) : undefined;
    const chart = oci ? String(oci.spec?.url ?? "").split("/").pop()! : String(hr.spec?.chart?.spec?.chart ?? "");
    return { chart, values: (hr.spec?.values ?? {}) as Record<string, unknown> };
  });

describe("chart CRDs of this repo", () => {
  test("each chart of the repo whose CRDs the toolkit knows installs them with the repo's values", () => {
    const known = new Set(knownChartCrds().map((c) => c.chart));
    const mine = releases.filter((r) => known.has(r.chart));
    expect(mine.length).toBeGreaterThanOrEqual(3);
    for (const r of mine) expect({ chart: r.chart, crds: chartCrds(r.chart, r.values).length > 0 }).toEqual({ chart: r.chart, crds: true });
  });

  test("a chart's CRD switch and its default are honoured (cert-manager: off unless crds.enabled)", () => {
    expect(chartCrds("cert-manager", {})).toEqual([]);
    expect(chartCrds("cert-manager", { crds: { enabled: true } }).map((c) => c.kind)).toContain("Certificate");
    expect(chartCrds("kube-prometheus-stack", {}).map((c) => c.kind)).toContain("ServiceMonitor");
    expect(chartCrds("kube-prometheus-stack", { crds: { enabled: false } })).toEqual([]);
    expect(chartCrds("cloudnative-pg", { crds: { create: false } })).toEqual([]);
    expect(chartCrds("a-chart-nobody-knows", {})).toEqual([]);
  });

  test("every custom resource of the repo whose kind a chart installs is valid under strict field validation", () => {
    const byKind = new Map<string, ChartCrd>(knownChartCrds().flatMap(({ crd }) => crd.versions.map((v) => [`${crd.group}/${v}/${crd.kind}`, crd] as const)));
    let checked = 0;
    for (const o of objects) {
      const crd = byKind.get(`${o.apiVersion}/${o.kind}`);
      if (!crd) continue;
      checked++;
      const problems = validateCustomResource(crd.schema as never, structuredClone(o) as Record<string, unknown>, "Strict");
      expect({ object: `${o.kind}/${o.metadata.name}`, problems }).toEqual({ object: `${o.kind}/${o.metadata.name}`, problems: [] });
    }
    expect(checked).toBeGreaterThanOrEqual(3);
  });

  test("the schemas refuse what the real ones refuse: a misspelt field, a wrong type, a value outside an enum", () => {
    const schemaOf = (kind: string) => knownChartCrds().find((c) => c.crd.kind === kind)!.crd.schema as never;
    const cluster = { apiVersion: "postgresql.cnpg.io/v1", kind: "Cluster", metadata: { name: "db" }, spec: { instances: "2", primaryUpdateStrategy: "automatic", storage: { sise: "5Gi" } } };
    const problems = validateCustomResource(schemaOf("Cluster"), cluster, "Strict").map((p) => p.field).sort();
    expect(problems).toEqual(["spec.instances", "spec.primaryUpdateStrategy", "spec.storage.sise"]);
    const issuer = { apiVersion: "cert-manager.io/v1", kind: "ClusterIssuer", metadata: { name: "x" }, spec: { acme: { server: "https://acme.invalid/directory" } } };
    expect(validateCustomResource(schemaOf("ClusterIssuer"), issuer, "Strict").map((p) => `${p.field}: ${p.message}`)).toEqual(["spec.acme.privateKeySecretRef: Required value"]);
  });
});

describe("one home for what a chart installs", () => {
  const kinds = (xs: readonly { group: string; kind: string }[]) => xs.map((k) => `${k.group}/${k.kind}`).sort();

  test("the simulated cluster's External Secrets and Longhorn kinds are the chart-CRD table's, with each chart's switch", () => {
    expect(kinds(LONGHORN_KINDS)).toEqual(kinds(chartCrds("longhorn")));
    expect(kinds(EXTERNAL_SECRETS_KINDS)).toEqual(kinds(chartCrds("external-secrets")));
    expect(kinds(findChart("longhorn")!.crds({}))).toEqual(kinds(chartCrds("longhorn")));
    expect(kinds(findChart("external-secrets")!.crds({}))).toEqual(kinds(chartCrds("external-secrets")));
    expect(findChart("external-secrets")!.crds({ installCRDs: false })).toEqual([]);
    expect(kinds(findChart("cert-manager")!.crds({ crds: { enabled: true } }))).toEqual(kinds(chartCrds("cert-manager", { crds: { enabled: true } })));
  });

  test("a chart whose CRDs are in its crds/ folder: install.crds: Skip and --skip-crds leave them out, in validate and the simulated cluster alike", async () => {
    const on = { crds: { enabled: true } };
    // kube-prometheus-stack ships them in crds/ (Helm's policy applies), cert-manager in templates (always applied)
    expect(chartCrds("kube-prometheus-stack", on, { skipCrdsDir: true })).toEqual([]);
    expect(kinds(findChart("kube-prometheus-stack")!.crds(on, true))).toEqual([]);
    expect(kinds(findChart("kube-prometheus-stack")!.crds(on, false))).toEqual(kinds(chartCrds("kube-prometheus-stack", on)));
    expect(kinds(chartCrds("cert-manager", on, { skipCrdsDir: true }))).toEqual(kinds(chartCrds("cert-manager", on)));
    // validate: the repo's kube-prometheus-stack release with install.crds: Skip leaves its ServiceMonitors without CRD
    const model = loadRepo(ROOT);
    const kps = model.helmReleases.find((r) => r.chart === "kube-prometheus-stack")!;
    expect(kps.installCrds).not.toBe("Skip");
    const skip = { ...model, helmReleases: model.helmReleases.map((r) => (r === kps ? { ...r, installCrds: "Skip" } : r)) };
    const missing = (m: typeof model) => schemaCheck(m).filter((f) => f.id === "schema/crd-not-installed").map((f) => f.message);
    expect(missing(model)).toEqual([]);
    expect(missing(skip).join("\n")).toContain("sets install.crds: Skip");
    // the simulated helm: --skip-crds on install, and an upgrade, leave the crds/ folder out
    const crd = "servicemonitors.monitoring.coreos.com";
    const install = (r: ReturnType<typeof rig>, ...extra: string[]) =>
      r.helm("install", "kps", "kube-prometheus-stack", "--repo", "https://prometheus-community.github.io/helm-charts", "--version", "75.15.1", "--namespace", "observability", "--create-namespace", ...extra);
    const skipped = rig();
    try {
      const r = await install(skipped, "--skip-crds");
      expect([r.exitCode, r.stderr]).toEqual([0, ""]);
      expect(skipped.get("CustomResourceDefinition", crd)).toBeUndefined();
    } finally {
      skipped.stop();
    }
    const plain = rig();
    try {
      const r = await install(plain);
      expect([r.exitCode, r.stderr]).toEqual([0, ""]);
      expect(plain.get("CustomResourceDefinition", crd)).toBeDefined();
    } finally {
      plain.stop();
    }
  });

  test("validate says once per release when the chart version is outside the CRD table, and not when it is inside", () => {
    const model = loadRepo(ROOT);
    const cnpg = model.helmReleases.find((r) => r.chart === "cloudnative-pg")!;
    const notes = (m: typeof model) => schemaCheck(m).filter((f) => f.id === "schema/chart-crds-version-unknown");
    // the repo's own version: a note exactly when the table does not cover it
    const own = notes(model).filter((f) => f.message.includes("cloudnative-pg"));
    expect(own.length).toBe(chartCrdCoverage("cloudnative-pg", cnpg.version)!.covered ? 0 : 1);
    const newer = { ...model, helmReleases: model.helmReleases.map((r) => (r === cnpg ? { ...r, version: "0.99.0" } : r)) };
    const said = notes(newer).filter((f) => f.message.includes("cloudnative-pg"));
    expect(said.map((f) => ({ severity: f.severity, file: f.file }))).toEqual([{ severity: "info", file: cnpg.source.file }]);
    // at the line that writes the chart version
    expect(readFileSync(path.join(ROOT, said[0]!.file), "utf8").split("\n")[said[0]!.line - 1]).toContain(`version: ${cnpg.version}`);
    expect(said[0]!.message).toContain(`CRDs of cloudnative-pg 0.99.0 not known; checked against cloudnative-pg ${chartCrdCoverage("cloudnative-pg", "0.99.0")!.known}`);
    // no error appears because the version is unknown: the objects are still checked against the known schemas
    expect(schemaCheck(newer).filter((f) => f.severity !== "info")).toEqual(schemaCheck(model).filter((f) => f.severity !== "info"));
  });

  test("a field the known CRDs lack is an error for the version they describe, a warning for another version", () => {
    const model = loadRepo(ROOT);
    const cnpg = model.helmReleases.find((r) => r.chart === "cloudnative-pg")!;
    const cluster = model.documents.find((d) => d.apiVersion === "postgresql.cnpg.io/v1" && d.kind === "Cluster")!;
    // this test's own model (a document keeps its parsed YAML for line lookups: change the object in place)
    (cluster.object as { spec: Record<string, unknown> }).spec.instancez = 2;
    const misspelt = model;
    const about = (m: typeof model) => schemaCheck(m).filter((f) => f.message.includes("spec.instancez")).map((f) => `${f.severity} ${f.id}`);
    const covered = chartCrdCoverage("cloudnative-pg", cnpg.version)!.covered;
    expect(about(misspelt)).toEqual([`${covered ? "error" : "warning"} schema/unknown-field`]);
    const other = { ...misspelt, helmReleases: misspelt.helmReleases.map((r) => (r === cnpg ? { ...r, version: "0.99.0" } : r)) };
    expect(about(other)).toEqual(["warning schema/unknown-field"]);
  });

  test("a kind whose chart release leaves its CRDs off is missing, unless a bootstrap helmfile installs that chart", () => {
    const model = loadRepo(ROOT);
    const cm = model.helmReleases.find((r) => r.chart === "cert-manager")!;
    const off = { ...model, helmReleases: model.helmReleases.map((r) => (r === cm ? { ...r, values: { ...r.values, crds: { enabled: false } } } : r)) };
    const missing = (m: typeof model) => schemaCheck(m).filter((f) => f.id === "schema/crd-not-installed");
    expect(missing(model)).toEqual([]);
    const kinds = new Set(chartCrds("cert-manager", { crds: { enabled: true } }).map((c) => c.kind));
    const used = new Set(model.documents.filter((d) => d.apiVersion?.startsWith("cert-manager.io/") && kinds.has(d.kind ?? "")).map((d) => d.kind));
    expect(missing(off).length).toBe(used.size); // one finding per kind
    const dir = mkdtempSync(path.join(tmpdir(), "home-ops-helmfile-"));
    try {
      mkdirSync(path.join(dir, "bootstrap"));
      writeFileSync(path.join(dir, "bootstrap/helmfile.yaml"), `releases:\n  - name: cert-manager\n    namespace: ${cm.namespace}\n    chart: oci://quay.io/jetstack/charts/cert-manager\n`);
      expect(missing({ ...off, root: dir })).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
