/**
 * The CRDs of the shared chart knowledge (lib/repo/charts.ts) against this repo: each chart of the repo whose CRDs
 * the toolkit knows installs them with the repo's values (and not when its switch is off), and every custom
 * resource of the repo whose kind comes with them is valid under strict field validation — names, types and
 * required fields as the upstream schema has them.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { type ChartCrd, chartCrds, knownChartCrds } from "../../lib/repo/charts.ts";
import { readObjects } from "../../lib/sim/controllers/flux.ts";
import type { KObj } from "../../lib/sim/controllers/obj.ts";
import { validateCustomResource } from "../../lib/sim/schema.ts";

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
