/**
 * Phase 4: the services Flux's apps need before Flux runs: the 1Password Connect credentials and token (op -> memory
 * -> Kubernetes Secret), External Secrets Operator, 1Password Connect, the ClusterSecretStore Ready, and Longhorn —
 * each from its HelmRelease.
 */
import { OperationError } from "../../cli/errors.ts";
import { conditionReady } from "../checks.ts";
import { applyDocuments, ensureNamespace, helmReleases, installRelease, releaseState, waitForKinds } from "../install.ts";
import type { KubeApi } from "../kube.ts";
import {
  CONNECT_CREDENTIALS,
  CONNECT_TOKEN,
  connectCredentialsTarget,
  connectCredentialsValue,
  connectTokenTarget,
  credentialsSecretValid,
  onepasswordStore,
  opaqueSecret,
  readSecret,
  requireOpSignedIn,
  secretHasKey,
} from "../secrets.ts";
import type { BootstrapContext, Detection, Phase } from "../types.ts";

export const CORE_CHARTS = { externalSecrets: "external-secrets", connect: "connect", longhorn: "longhorn" } as const;

export interface SecretsState {
  credentials: { ok: boolean; detail: string; where: string };
  token: { ok: boolean; detail: string; where: string };
}

/** Whether the Connect credentials and token Secrets are on the cluster in the shape their readers expect. */
export async function secretsState(ctx: BootstrapContext, kube: KubeApi): Promise<SecretsState> {
  const ct = connectCredentialsTarget(ctx.model);
  const tt = connectTokenTarget(ctx.model);
  const creds = await kube.get({ apiVersion: "v1", kind: "Secret" }, ct.name, ct.namespace);
  const token = await kube.get({ apiVersion: "v1", kind: "Secret" }, tt.name, tt.namespace);
  return {
    credentials: { ...credentialsSecretValid(creds, ct.key), where: `${ct.namespace}/${ct.name}` },
    token: {
      ok: secretHasKey(token, tt.key),
      detail: token ? (secretHasKey(token, tt.key) ? "present" : `has no key ${tt.key}`) : "missing",
      where: `${tt.namespace}/${tt.name}`,
    },
  };
}

/** Reads the Connect credentials and token from 1Password and writes them as Secrets through the API. */
export async function applyConnectSecrets(ctx: BootstrapContext, kube: KubeApi): Promise<void> {
  await requireOpSignedIn(ctx.exec);
  const ct = connectCredentialsTarget(ctx.model);
  const tt = connectTokenTarget(ctx.model);
  const raw = await readSecret(ctx.exec, CONNECT_CREDENTIALS, ctx.env);
  const value = ctx.exec.secret(connectCredentialsValue(raw.reveal()), "connect-credentials");
  const token = await readSecret(ctx.exec, CONNECT_TOKEN, ctx.env);
  for (const ns of new Set([ct.namespace, tt.namespace])) await ensureNamespace(ctx, kube, ns);
  ctx.step(`Secret ${ct.namespace}/${ct.name} key ${ct.key}: the credentials file, base64 (as Connect expects)`);
  await kube.apply(opaqueSecret(ct, { [ct.key]: value.reveal() }));
  ctx.step(`Secret ${tt.namespace}/${tt.name} key ${tt.key}: the Connect token`);
  await kube.apply(opaqueSecret(tt, { [tt.key]: token.reveal() }));
  if (ctx.dryRun) return;
  const st = await secretsState(ctx, kube);
  if (!st.credentials.ok)
    throw new OperationError(`Secret ${st.credentials.where} ${st.credentials.detail} after writing it`, "check what else writes that Secret (an ExternalSecret?)");
}

async function detect(ctx: BootstrapContext): Promise<Detection> {
  if (!(await ctx.kubeReachable())) return { done: false, summary: "the Kubernetes API does not answer yet", missing: ["Kubernetes API"] };
  const kube = await ctx.kube();
  const missing: string[] = [];
  const st = await secretsState(ctx, kube);
  if (!st.credentials.ok) missing.push(`Secret ${st.credentials.where}: ${st.credentials.detail}`);
  if (!st.token.ok) missing.push(`Secret ${st.token.where}: ${st.token.detail}`);
  const releases = await helmReleases(ctx);
  for (const chart of Object.values(CORE_CHARTS)) {
    const r = await releaseState(ctx, chart, releases);
    if (!r.deployed || !r.rolledOut) missing.push(`${r.install.release}: ${r.detail}`);
  }
  const { store, doc } = onepasswordStore(ctx.model);
  const live = doc.apiVersion && doc.kind ? await kube.get({ apiVersion: doc.apiVersion, kind: doc.kind }, store.name, store.namespace) : undefined;
  const ready = conditionReady(live);
  if (!ready.ready) missing.push(`${store.kind} ${store.name}: ${ready.detail}`);
  return {
    done: missing.length === 0,
    summary: missing.length === 0 ? `Connect secrets, External Secrets, 1Password Connect, ${store.kind} Ready, Longhorn` : `${missing.length} thing(s) to do`,
    missing,
  };
}

/** The work of phase 4, also what `apps-deploy-core` runs (`only` limits it to some steps). */
export async function deployCore(ctx: BootstrapContext, only?: Set<"secrets" | "external-secrets" | "connect" | "store" | "longhorn">): Promise<void> {
  const want = (s: "secrets" | "external-secrets" | "connect" | "store" | "longhorn") => !only || only.has(s);
  const kube = await ctx.kube();
  if (want("secrets")) {
    const st = await secretsState(ctx, kube);
    if (st.credentials.ok && st.token.ok) ctx.step("Connect credentials and token Secrets already in place");
    else await applyConnectSecrets(ctx, kube);
  }
  if (want("external-secrets")) await installRelease(ctx, CORE_CHARTS.externalSecrets);
  if (want("connect")) await installRelease(ctx, CORE_CHARTS.connect);
  if (want("store")) {
    const { store, doc } = onepasswordStore(ctx.model);
    await waitForKinds(ctx, kube, [doc], "External Secrets");
    await applyDocuments(ctx, kube, [doc]);
    await ctx.wait(`${store.kind} ${store.name} to be Ready`, (onProgress) =>
      kube.waitFor(
        { apiVersion: doc.apiVersion!, kind: doc.kind!, name: store.name, ...(store.namespace ? { namespace: store.namespace } : {}) },
        (items) => {
          const r = conditionReady(items[0]);
          return { done: r.ready, detail: r.detail };
        },
        { what: `${store.kind} ${store.name} Ready`, timeoutMs: ctx.timeouts.waitMs, signal: ctx.signal, onProgress },
      ),
    );
  }
  if (want("longhorn")) await installRelease(ctx, CORE_CHARTS.longhorn);
}

export const corePhase: Phase = {
  n: 4,
  id: "core",
  title: "core services",
  detect,
  run: (ctx) => deployCore(ctx),
  verify: detect,
};
