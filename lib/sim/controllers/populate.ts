/**
 * A ready-made cluster for `--state bootstrapped`: what the six bootstrap phases leave behind, built directly —
 * the 1Password items every ExternalSecret of the repo reads (random values), the Connect credentials and token
 * Secrets and the Git deploy key named by the repo's manifests, Flux v2.4 installed, and the repo's
 * kubernetes/flux/cluster applied. Flux then does the rest exactly as in a live bootstrap (Cilium, External
 * Secrets, Connect, Longhorn, pools, BGP objects, apps from their HelmReleases). Controller delays are skipped
 * while this runs, so the cluster is complete when start() returns.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fakeSecret } from "../vault.ts";
import { fakeConnectCredentials } from "./external-secrets.ts";
import { FLUX_NS, FLUX_VERSION, kustomizeBuild, readObjects, writeFluxComponents } from "./flux.ts";
import type { KObj } from "./obj.ts";
import type { Ctx } from "./runtime.ts";
import type { ToolHandler } from "../tools.ts";
import { stringify as yamlStringify } from "yaml";

function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) out.push(...yamlFiles(p));
    else if (/\.ya?ml$/.test(e)) out.push(p);
  }
  return out;
}

function repoObjects(root: string): KObj[] {
  const dir = path.join(root, "kubernetes");
  if (!existsSync(dir)) return [];
  return yamlFiles(dir).flatMap((f) => readObjects(f));
}

function ensureNamespace(ctx: Ctx, name: string): void {
  if (!ctx.get("namespaces", name)) ctx.store.create({ apiVersion: "v1", kind: "Namespace", metadata: { name } }, { fieldManager: "homeops-bootstrap" });
}

function putSecret(ctx: Ctx, name: string, namespace: string, values: Record<string, string>): void {
  ensureNamespace(ctx, namespace);
  if (ctx.get("secrets", name, namespace)) return;
  const data = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Buffer.from(v).toString("base64")]));
  ctx.store.create({ apiVersion: "v1", kind: "Secret", type: "Opaque", metadata: { name, namespace }, data } as KObj, { fieldManager: "homeops-bootstrap" });
}

/** Builds the bootstrapped state. Resolves once Flux has nothing left to do (or after `maxRounds` settles). */
export async function populateBootstrapped(ctx: Ctx, root: string, opts: { vault?: string; maxRounds?: number } = {}): Promise<void> {
  const objects = repoObjects(root);
  const vaultName = opts.vault ?? process.env.OP_VAULT ?? "home-ops";
  ctx.fast = true;
  try {
    // 1Password items the ExternalSecrets read
    for (const es of objects.filter((o) => o.kind === "ExternalSecret")) {
      for (const d of (es.spec?.data ?? []) as { remoteRef?: { key?: string; property?: string } }[]) {
        const key = d.remoteRef?.key;
        if (!key) continue;
        const item = ctx.host.vault.getItem(vaultName, key);
        const fields = Object.fromEntries((item?.fields ?? []).map((f) => [f.label, f.value]));
        const prop = d.remoteRef?.property ?? "password";
        if (fields[prop] === undefined) ctx.host.vault.setItem(vaultName, key, { ...fields, [prop]: fakeSecret() });
      }
      for (const d of (es.spec?.dataFrom ?? []) as { extract?: { key?: string } }[]) {
        const key = d.extract?.key;
        if (key && !ctx.host.vault.getItem(vaultName, key)) ctx.host.vault.setItem(vaultName, key, { value: fakeSecret() });
      }
    }
    // Connect credentials and token, where the repo's manifests expect them
    const connect = objects.find((o) => o.kind === "HelmRelease" && o.spec?.chart?.spec?.chart === "connect");
    const connectNs = connect?.metadata.namespace ?? "external-secrets";
    const credName = String(connect?.spec?.values?.connect?.credentialsName ?? "op-credentials");
    const credKey = String(connect?.spec?.values?.connect?.credentialsKey ?? "1password-credentials.json");
    putSecret(ctx, credName, connectNs, { [credKey]: Buffer.from(fakeConnectCredentials()).toString("base64") });
    const store = objects.find((o) => o.kind === "ClusterSecretStore");
    const tokenRef = store?.spec?.provider?.onepassword?.auth?.secretRef?.connectTokenSecretRef as { name?: string; key?: string; namespace?: string } | undefined;
    putSecret(ctx, tokenRef?.name ?? "onepassword-token", tokenRef?.namespace ?? connectNs, { [tokenRef?.key ?? "token"]: fakeSecret(32) });
    // Flux and its Git credentials
    writeFluxComponents(ctx, FLUX_VERSION);
    const clusterDir = path.join(root, "kubernetes", "flux", "cluster");
    const sync = existsSync(clusterDir) ? kustomizeBuild(clusterDir) : [];
    for (const g of sync.filter((o) => o.kind === "GitRepository")) {
      const ref = g.spec?.secretRef?.name as string | undefined;
      if (ref) putSecret(ctx, ref, g.metadata.namespace ?? FLUX_NS, { identity: `-----BEGIN OPENSSH PRIVATE KEY-----\n${fakeSecret(48)}\n-----END OPENSSH PRIVATE KEY-----\n`, "identity.pub": "ecdsa-sha2-nistp384 AAAAsim", known_hosts: "github.com ecdsa-sha2-nistp256 AAAAsim" });
    }
    await ctx.settle();
    for (const o of sync) ctx.store.apply(o, { fieldManager: "homeops-bootstrap", force: true });
    for (let i = 0; i < (opts.maxRounds ?? 50); i++) {
      await ctx.settle();
      if (ctx.busy.size === 0) {
        await new Promise((r) => setTimeout(r, 1));
        if (ctx.busy.size === 0) break;
      }
    }
  } finally {
    ctx.fast = false;
  }
}

/**
 * State "bootstrapped": the CNI as bootstrap phase 3 installs it — Cilium from the repo's HelmRelease (chart,
 * version, values) through the helm stand-in — and nothing else of kubernetes/. Resolves once it runs.
 */
export async function installCilium(ctx: Ctx, root: string, helm: ToolHandler): Promise<void> {
  const objects = repoObjects(root);
  const hr = objects.find((o) => o.kind === "HelmRelease" && o.spec?.chart?.spec?.chart === "cilium");
  if (!hr) return;
  const chart = hr.spec!.chart.spec as { chart: string; version?: string; sourceRef?: { name?: string } };
  const repo = objects.find((o) => o.kind === "HelmRepository" && o.metadata.name === chart.sourceRef?.name);
  const ns = String(hr.spec?.targetNamespace ?? hr.metadata.namespace ?? "kube-system");
  ensureNamespace(ctx, ns);
  ctx.fast = true;
  try {
    const argv = ["upgrade", "--install", String(hr.spec?.releaseName ?? hr.metadata.name), chart.chart];
    if (repo?.spec?.url) argv.push("--repo", String(repo.spec.url));
    if (chart.version) argv.push("--version", chart.version);
    argv.push("--namespace", ns, "--values", "-");
    // in-process: the helm stand-in only needs to see that a kubeconfig is set
    const r = await helm({ argv, stdin: yamlStringify(hr.spec?.values ?? {}), env: { KUBECONFIG: "(in-process)" }, cwd: root });
    if (r.exitCode !== 0) throw new Error(`the simulated Cilium install failed: ${r.stderr.trim().split("\n")[0]}`);
    for (let i = 0; i < 50; i++) {
      await ctx.settle();
      if (ctx.busy.size === 0) break;
    }
  } finally {
    ctx.fast = false;
  }
}
