/**
 * The real kubectl against the complete simulated cluster, the way a person checks a change before pushing it:
 * every object of every Flux Kustomization of this repo (as `kubectl kustomize` builds its path), the kinds of the
 * charts' CRDs included, is applied server-side with --dry-run=server --validate=strict and accepted; objects a real
 * API server refuses are refused here too — a wrong type in a built-in (400), in a custom resource (422 naming the field), and a field the CRD's
 * schema does not declare (strict decoding error). Also: `kubectl rollout status` works on the DaemonSets and
 * Deployments (the server fills in their update strategy).
 *
 * kubectl: $HOMEOPS_KUBECTL, else the one on PATH (.ci/run installs the pinned minor).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { knownChartCrds } from "../../lib/repo/charts.ts";
import { type Simulation, startSimulation } from "../../lib/sim/index.ts";

const ROOT = path.resolve(import.meta.dir, "../..");
const KUBECTL = process.env.HOMEOPS_KUBECTL || "kubectl";
// every test runs the real kubectl (a Go binary, discovery first) two or three times: seconds each on a loaded machine
setDefaultTimeout(60_000);
let sim: Simulation;
let home: string;

beforeAll(async () => {
  home = mkdtempSync(path.join(tmpdir(), "sim-kubectl-strict-"));
  sim = await startSimulation({ root: ROOT, state: "complete" });
}, 120_000);
afterAll(async () => {
  await sim?.stop();
  rmSync(home, { recursive: true, force: true });
});

async function kubectl(args: string[], stdin?: string) {
  const p = Bun.spawn([KUBECTL, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, KUBECONFIG: sim.env.KUBECONFIG!, KUBECACHEDIR: path.join(home, "cache") },
    stdin: stdin === undefined ? "ignore" : new Blob([stdin]),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, stdout, stderr] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code, stdout, stderr };
}

const dryRunApply = (yaml: string) =>
  kubectl(["apply", "--server-side", "--force-conflicts", "--field-manager=rehearsal", "--dry-run=server", "--validate=strict", "-f", "-"], yaml);

describe("kubectl --dry-run=server --validate=strict against the complete simulated cluster", () => {
  test("every object of every Kustomization of this repo is accepted, custom kinds of the charts' CRDs included", async () => {
    const ks = sim.cluster.store.list({ group: "kustomize.toolkit.fluxcd.io", resource: "kustomizations" }).items;
    expect(ks.length).toBeGreaterThan(0);
    let applied = 0;
    const kinds = new Set<string>();
    const refused: string[] = [];
    for (const k of ks) {
      const dir = String((k as { spec?: { path?: string } }).spec?.path ?? "");
      const built = await kubectl(["kustomize", path.join(ROOT, dir)]);
      expect({ dir, stderr: built.stderr }).toEqual({ dir, stderr: "" });
      const docs = parseAllDocuments(built.stdout).map((d) => d.toJS()).filter(Boolean) as { apiVersion?: string; kind?: string }[];
      if (docs.length === 0) continue;
      applied += docs.length;
      for (const d of docs) kinds.add(`${d.apiVersion}/${d.kind}`);
      const r = await dryRunApply(docs.map((d) => stringify(d)).join("---\n"));
      if (r.code !== 0) refused.push(`${k.metadata.name}: ${r.stderr.trim()}`);
    }
    expect(refused).toEqual([]);
    expect(applied).toBeGreaterThan(ks.length);
    // the kinds that come with the CRDs of the repo's charts were among them (read from the shared chart knowledge)
    const chartKinds = knownChartCrds().flatMap(({ crd }) => crd.versions.map((v) => `${crd.group}/${v}/${crd.kind}`));
    expect([...kinds].filter((k) => chartKinds.includes(k)).length).toBeGreaterThanOrEqual(3);
  }, 300_000);

  test("a chart CRD's schema refuses what the real one refuses: a wrong type (422), an undeclared field (strict)", async () => {
    const cert = (spec: string) => `apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: rehearsal-bad, namespace: default}
spec: ${spec}
`;
    const ok = await dryRunApply(cert("{secretName: rehearsal-tls, issuerRef: {kind: ClusterIssuer, name: letsencrypt-staging}, dnsNames: [example.org]}"));
    expect({ code: ok.code, err: ok.stderr }).toEqual({ code: 0, err: "" });
    const wrongType = await dryRunApply(cert("{secretName: rehearsal-tls, issuerRef: {name: x}, dnsNames: example.org}"));
    expect(wrongType.code).toBe(1);
    expect(wrongType.stderr).toContain("spec.dnsNames in body must be of type array");
    const missing = await dryRunApply(cert("{issuerRef: {name: x}}"));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("spec.secretName: Required value");
    const typo = await dryRunApply(`apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: rehearsal-bad, namespace: default}
spec: {selector: {matchLabels: {app: x}}, endpoints: [{port: metrics, intervall: 30s}]}
`);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain('unknown field "spec.endpoints[0].intervall"');
  });

  test("a built-in with a wrong type is refused (400), as the real server's decoder does", async () => {
    const r = await dryRunApply(`apiVersion: apps/v1
kind: Deployment
metadata: {name: rehearsal-bad, namespace: default}
spec:
  replicas: "two"
  selector: {matchLabels: {app: rehearsal-bad}}
  template: {metadata: {labels: {app: rehearsal-bad}}, spec: {containers: [{name: c, image: busybox}]}}
`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("BadRequest");
    expect(r.stderr).toContain("spec.replicas of type int32");
  });

  test("a custom resource of the wrong type is Invalid (422) naming the field; an undeclared field is a strict decoding error", async () => {
    const wrongType = await dryRunApply(`apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: rehearsal-bad, namespace: flux-system}
spec: {interval: 5, prune: true, sourceRef: {kind: GitRepository, name: home-ops}}
`);
    expect(wrongType.code).toBe(1);
    expect(wrongType.stderr).toContain('is invalid: spec.interval: Invalid value: "integer": spec.interval in body must be of type string');
    const unknown = await dryRunApply(`apiVersion: cilium.io/v2alpha1
kind: CiliumLoadBalancerIPPool
metadata: {name: rehearsal-bad}
spec: {blocks: [{cidr: 198.51.100.0/24}], disabeld: true}
`);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('strict decoding error: unknown field "spec.disabeld"');
    // without strict validation the field is pruned, as a real server does
    const pruned = await kubectl(["apply", "--server-side", "--dry-run=server", "--validate=false", "-o", "json", "-f", "-"], `apiVersion: cilium.io/v2alpha1
kind: CiliumLoadBalancerIPPool
metadata: {name: rehearsal-bad}
spec: {blocks: [{cidr: 198.51.100.0/24}], disabeld: true}
`);
    expect(pruned.code).toBe(0);
    expect(JSON.parse(pruned.stdout).spec).toEqual({ blocks: [{ cidr: "198.51.100.0/24" }] });
  });

  test("kubectl rollout status works on every DaemonSet and Deployment (the server defaults their strategy)", async () => {
    for (const resource of ["daemonsets", "deployments"]) {
      const items = sim.cluster.store.list({ group: "apps", resource }).items;
      expect(items.length).toBeGreaterThan(0);
      for (const o of items.slice(0, 5)) {
        const r = await kubectl(["rollout", "status", `${resource}/${o.metadata.name}`, "-n", o.metadata.namespace!, "--timeout=20s"]);
        expect({ name: o.metadata.name, code: r.code, err: r.stderr }).toEqual({ name: o.metadata.name, code: 0, err: "" });
        expect(r.stdout).toContain("successfully rolled out");
      }
    }
  }, 120_000);
});
