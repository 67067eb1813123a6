/**
 * Shared steps of the pre-Flux phases: a Helm release installed from its HelmRelease and watched until its
 * workloads roll out, and repo documents applied server-side.
 */
import { ConfigError } from "../cli/errors.ts";
import { helmInstallFor, helmList, helmUpgrade, helmUpgradeArgv, installState, type HelmInstall, type HelmReleaseStatus } from "../helm/index.ts";
import type { RepoDocument } from "../repo/model.ts";
import { crdEstablished, crdNameOf, ofRelease, releaseRolledOut } from "./checks.ts";
import { describeObj, type KubeApi, type KubeObj } from "./kube.ts";
import type { BootstrapContext } from "./types.ts";

const WORKLOAD_KINDS = ["Deployment", "DaemonSet", "StatefulSet"] as const;

export interface ReleaseState {
  install: HelmInstall;
  deployed: boolean;
  rolledOut: boolean;
  detail: string;
}

const RELEASES_TTL_MS = 10_000;
const releasesMemo = new WeakMap<BootstrapContext, { at: number; list: Promise<HelmReleaseStatus[]> }>();

/**
 * `helm list` of the cluster, shared by the detect/run/verify steps that follow each other within a few seconds
 * (each helm call is a process); forgotten after any helm install and after a few seconds.
 */
export function helmReleases(ctx: BootstrapContext): Promise<HelmReleaseStatus[]> {
  const hit = releasesMemo.get(ctx);
  if (hit && performance.now() - hit.at < RELEASES_TTL_MS) return hit.list;
  const list = (async () => (ctx.dryRun && !(await ctx.kubeReachable()) ? [] : await helmList(ctx.exec)))();
  list.catch(() => releasesMemo.delete(ctx));
  releasesMemo.set(ctx, { at: performance.now(), list });
  return list;
}

/** Helm's view (installed at the HelmRelease's version?) plus the API's (workloads rolled out?). */
export async function releaseState(ctx: BootstrapContext, chart: string, releases?: HelmReleaseStatus[]): Promise<ReleaseState> {
  const install = helmInstallFor(ctx.model, chart);
  // a dry run against a cluster whose API is not up yet plans the install instead of failing on `helm list`
  const list = releases ?? (await helmReleases(ctx));
  const st = installState(install, list);
  if (st.state !== "deployed") return { install, deployed: false, rolledOut: false, detail: st.detail };
  const kube = await ctx.kube();
  const items = (
    await Promise.all(WORKLOAD_KINDS.map((kind) => kube.list({ apiVersion: "apps/v1", kind, namespace: install.namespace })))
  ).flat();
  const r = releaseRolledOut(items, install.release);
  return { install, deployed: true, rolledOut: r.done, detail: r.done ? `${st.detail}, ${r.detail}` : r.detail };
}

/** Applies the repo's Namespace document for `ns` (labels such as pod-security levels), else a bare Namespace. */
export async function ensureNamespace(ctx: BootstrapContext, kube: KubeApi, ns: string): Promise<void> {
  const doc = ctx.model.documents.find((d) => d.kind === "Namespace" && d.name === ns && d.file.startsWith("kubernetes/"));
  const obj: KubeObj = doc ? (structuredClone(doc.object) as KubeObj) : { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } };
  const live = await kube.get({ apiVersion: "v1", kind: "Namespace" }, ns);
  if (live && !doc) return;
  await kube.apply(obj);
}

/** helm upgrade --install (values on stdin) unless already deployed at the wanted version, then watch the rollout. */
export async function installRelease(ctx: BootstrapContext, chart: string): Promise<HelmInstall> {
  const state = await releaseState(ctx, chart);
  const { install } = state;
  const kube = await ctx.kube();
  if (!state.deployed) {
    await ensureNamespace(ctx, kube, install.namespace);
    ctx.step(`helm ${helmUpgradeArgv(install).join(" ")}  (values from ${install.from.source.file})`);
    releasesMemo.delete(ctx);
    await helmUpgrade(ctx.exec, install);
    releasesMemo.delete(ctx);
  } else ctx.step(`${install.release} ${install.version} already deployed`);
  if (ctx.dryRun) {
    await ctx.wait(`${install.release} workloads to roll out`, async () => undefined);
    return install;
  }
  await waitRollout(ctx, kube, install);
  return install;
}

export async function waitRollout(ctx: BootstrapContext, kube: KubeApi, install: HelmInstall): Promise<void> {
  const present = await Promise.all(
    WORKLOAD_KINDS.map(async (kind) => ({
      kind,
      count: (await kube.list({ apiVersion: "apps/v1", kind, namespace: install.namespace })).filter(
        (o) => ofRelease([o], install.release).length > 0,
      ).length,
    })),
  );
  // helm has created the workloads by the time it returns: wait for the kinds it made (any, if none is there yet)
  const kinds = present.filter((p) => p.count > 0).map((p) => p.kind);
  const waitKind = (kind: string, onProgress: (d: string, ms: number) => void) =>
    kube.waitFor(
      { apiVersion: "apps/v1", kind, namespace: install.namespace },
      (items) => releaseRolledOut(items, install.release),
      { what: `${install.release} ${kind}s rolled out`, timeoutMs: ctx.timeouts.waitMs, signal: ctx.signal, onProgress },
    );
  await ctx.wait(`${install.release} to roll out in ${install.namespace}`, async (onProgress) => {
    if (kinds.length > 0) await Promise.all(kinds.map((k) => waitKind(k, onProgress)));
    else await Promise.any(WORKLOAD_KINDS.map((k) => waitKind(k, onProgress)));
  });
}

/** Waits until the CRDs of the given documents' kinds are Established (cold clusters take a moment). */
export async function waitForKinds(ctx: BootstrapContext, kube: KubeApi, docs: Array<{ apiVersion?: string; kind?: string }>, what: string) {
  const names = [...new Set(docs.filter((d) => d.apiVersion?.includes("/") && d.kind).map((d) => crdNameOf(d.apiVersion!, d.kind!)))];
  if (names.length === 0) return;
  await ctx.wait(`${what} CRDs to be Established`, (onProgress) =>
    kube.waitForCrds(names, { what: `${names.length} CRD(s) Established`, timeoutMs: ctx.timeouts.waitMs, signal: ctx.signal, onProgress }),
  );
}

/** Whether each named CRD exists and is Established. */
export async function crdsEstablished(kube: KubeApi, names: string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const n of names) {
    const crd = await kube.get({ apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition" }, n);
    if (!crd || !crdEstablished(crd)) missing.push(n);
  }
  return missing;
}

/** Server-side applies repo documents as written (Flux later owns them with the same content). */
export async function applyDocuments(ctx: BootstrapContext, kube: KubeApi, docs: RepoDocument[]): Promise<void> {
  for (const d of docs) {
    const obj = structuredClone(d.object) as KubeObj;
    if (JSON.stringify(obj).includes("${"))
      throw new ConfigError(
        `${d.file}:${d.line}: ${d.kind} ${d.name} uses \${VAR} substitution, which only Flux can resolve`,
        "bootstrap applies this document before Flux exists: write the values out",
      );
    ctx.step(`apply ${describeObj(obj)} (${d.file})`);
    await kube.apply(obj);
  }
}

/** Which of the documents are missing on the cluster (by kind, name, namespace). */
export async function missingDocuments(kube: KubeApi, docs: RepoDocument[]): Promise<RepoDocument[]> {
  const out: RepoDocument[] = [];
  for (const d of docs) {
    if (!d.apiVersion || !d.kind || !d.name) continue;
    const live = await kube.get({ apiVersion: d.apiVersion, kind: d.kind }, d.name, d.namespace);
    if (!live) out.push(d);
  }
  return out;
}
