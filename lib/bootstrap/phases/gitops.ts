/**
 * Phase 5: Flux at the repo's pinned version (`flux install`), its Git credentials from 1Password written as a
 * Secret through the API, then the repo's own sync objects (kubernetes/flux/: the GitRepository and the root
 * Kustomizations) applied, and the root Kustomizations Ready.
 */
import { ConfigError } from "../../cli/errors.ts";
import { FLUX_CONTROLLERS, FLUX_CRDS, fluxInstall, fluxInstallArgv } from "../../flux/index.ts";
import type { RepoDocument } from "../../repo/model.ts";
import { conditionReady, rolledOut } from "../checks.ts";
import { applyDocuments, crdsEstablished, ensureNamespace } from "../install.ts";
import type { KubeApi, KubeObj } from "../kube.ts";
import {
  externalSecretRefs,
  FLUX_DEPLOY_KEY,
  FLUX_GIT_TOKEN,
  FLUX_KNOWN_HOSTS,
  opaqueSecret,
  readReference,
  readSecret,
  requireOpSignedIn,
  secretHasKey,
} from "../secrets.ts";
import type { BootstrapContext, Detection, Phase } from "../types.ts";

export const FLUX_NAMESPACE = "flux-system";

/** The sync objects of kubernetes/flux/: its GitRepository and the Kustomizations there (the roots). */
export function syncDocuments(ctx: Pick<BootstrapContext, "model">): { git: RepoDocument; roots: RepoDocument[] } {
  const inFlux = ctx.model.documents.filter((d) => d.file.startsWith("kubernetes/flux/"));
  const git = inFlux.find((d) => d.kind === "GitRepository" && d.apiVersion?.startsWith("source.toolkit.fluxcd.io/"));
  if (!git)
    throw new ConfigError(
      "no GitRepository under kubernetes/flux/: Flux would not know which repository to sync",
      "add kubernetes/flux/.../gitrepository.yaml pointing at this repository",
    );
  const roots = inFlux.filter((d) => d.kind === "Kustomization" && d.apiVersion?.startsWith("kustomize.toolkit.fluxcd.io/"));
  if (roots.length === 0) throw new ConfigError("no Flux Kustomization under kubernetes/flux/ (the root of the apps)", "add kubernetes/flux/cluster/ks.yaml");
  return { git, roots };
}

/** Git credentials the GitRepository references (spec.secretRef), in the shape its URL needs. */
function gitAuth(git: RepoDocument): { secretName?: string; ssh: boolean; url: string } {
  const spec = ((git.object as KubeObj).spec ?? {}) as { url?: string; secretRef?: { name?: string } };
  const url = spec.url ?? "";
  return { secretName: spec.secretRef?.name, ssh: url.startsWith("ssh://") || /^[\w.-]+@/.test(url), url };
}

async function controllersState(kube: KubeApi, version: string): Promise<string[]> {
  const deps = await kube.list({ apiVersion: "apps/v1", kind: "Deployment", namespace: FLUX_NAMESPACE });
  const missing: string[] = [];
  const want = version.startsWith("v") ? version : `v${version}`;
  for (const name of FLUX_CONTROLLERS) {
    const d = deps.find((x) => x.metadata.name === name);
    if (!d) {
      missing.push(`${name} is not installed`);
      continue;
    }
    const v = d.metadata.labels?.["app.kubernetes.io/version"];
    if (v && v !== want) missing.push(`${name} is ${v}, ${want} wanted`);
    const r = rolledOut(d);
    if (!r.ready) missing.push(r.detail);
  }
  return missing;
}

async function detect(ctx: BootstrapContext): Promise<Detection> {
  if (!(await ctx.kubeReachable())) return { done: false, summary: "the Kubernetes API does not answer yet", missing: ["Kubernetes API"] };
  const kube = await ctx.kube();
  const version = ctx.model.versions.flux.value;
  const missing = await controllersState(kube, version);
  missing.push(...(await crdsEstablished(kube, [...FLUX_CRDS])).map((c) => `CRD ${c} not Established`));
  const { git, roots } = syncDocuments(ctx);
  // without the controllers and CRDs the sync objects cannot exist yet: do not ask
  const installed = missing.length === 0;
  for (const d of [git, ...roots]) {
    const live = !installed ? undefined : await kube.get({ apiVersion: d.apiVersion!, kind: d.kind! }, d.name!, d.namespace);
    const r = conditionReady(live);
    if (!r.ready) missing.push(`${d.kind} ${d.namespace ?? FLUX_NAMESPACE}/${d.name}: ${r.detail}`);
  }
  return {
    done: missing.length === 0,
    summary: missing.length === 0 ? `Flux ${version}, ${roots.map((r) => r.name).join(", ")} Ready` : `${missing.length} thing(s) to do`,
    missing,
  };
}

/** Does the GitRepository need a credentials Secret that is not in place yet? */
async function gitSecretNeeded(kube: KubeApi, git: RepoDocument): Promise<boolean> {
  const auth = gitAuth(git);
  if (!auth.secretName) return false;
  const existing = await kube.get({ apiVersion: "v1", kind: "Secret" }, auth.secretName, git.namespace ?? FLUX_NAMESPACE);
  return !secretHasKey(existing, auth.ssh ? "identity" : "password");
}

async function applyGitSecret(ctx: BootstrapContext, kube: KubeApi, git: RepoDocument): Promise<void> {
  const auth = gitAuth(git);
  if (!auth.secretName) {
    ctx.step(`GitRepository ${git.name} needs no credentials (public ${auth.url})`);
    return;
  }
  const ns = git.namespace ?? FLUX_NAMESPACE;
  const existing = await kube.get({ apiVersion: "v1", kind: "Secret" }, auth.secretName, ns);
  if (secretHasKey(existing, auth.ssh ? "identity" : "password")) {
    ctx.step(`Secret ${ns}/${auth.secretName} (Git credentials) already in place`);
    return;
  }
  await requireOpSignedIn(ctx.exec);
  const target = { name: auth.secretName, namespace: ns };
  // the ExternalSecret that keeps this Secret current names the 1Password fields: the first copy uses the same ones
  const refs = externalSecretRefs(ctx.model, target, ctx.env);
  const data: Record<string, string> = {};
  if (refs) {
    for (const [key, ref] of Object.entries(refs)) data[key] = (await readReference(ctx.exec, ref, `${auth.secretName}/${key}`)).reveal();
    ctx.step(`Secret ${ns}/${auth.secretName} (${Object.keys(refs).join(", ")}) from the 1Password fields its ExternalSecret names`);
  } else if (auth.ssh) {
    data.identity = (await readSecret(ctx.exec, FLUX_DEPLOY_KEY, ctx.env)).reveal();
    data.known_hosts = (await readSecret(ctx.exec, FLUX_KNOWN_HOSTS, ctx.env)).reveal();
    ctx.step(`Secret ${ns}/${auth.secretName}: deploy key and known_hosts from 1Password`);
  } else {
    data.username = "git";
    data.password = (await readSecret(ctx.exec, FLUX_GIT_TOKEN, ctx.env)).reveal();
    ctx.step(`Secret ${ns}/${auth.secretName}: GitHub token from 1Password`);
  }
  await kube.apply(opaqueSecret(target, data));
}

/** The work of phase 5, also what `flux-bootstrap` runs. */
export async function bootstrapFlux(ctx: BootstrapContext): Promise<void> {
  const kube = await ctx.kube();
  const version = ctx.model.versions.flux.value;
  const { git, roots } = syncDocuments(ctx);
  // preconditions before the first change: when the Git credentials still have to be written from 1Password, op
  // must be signed in now, not after Flux is installed
  if (await gitSecretNeeded(kube, git)) await requireOpSignedIn(ctx.exec);
  const controllers = await controllersState(kube, version);
  if (controllers.length > 0) {
    ctx.step(`flux ${fluxInstallArgv(version, FLUX_NAMESPACE).join(" ")}`);
    await fluxInstall(ctx.exec, version, FLUX_NAMESPACE);
  } else ctx.step(`Flux ${version} controllers already running`);
  await ctx.wait("the Flux controllers to roll out", (onProgress) =>
    kube.waitFor(
      { apiVersion: "apps/v1", kind: "Deployment", namespace: FLUX_NAMESPACE },
      (items) => {
        const waiting = FLUX_CONTROLLERS.map((n) => {
          const d = items.find((x) => x.metadata.name === n);
          return d ? rolledOut(d) : { ready: false, detail: `${n} not created yet` };
        }).filter((r) => !r.ready);
        return { done: waiting.length === 0, detail: waiting.map((w) => w.detail).join("; ") };
      },
      { what: "Flux controllers rolled out", timeoutMs: ctx.timeouts.waitMs, signal: ctx.signal, onProgress },
    ),
  );
  await ctx.wait("the Flux CRDs to be Established", (onProgress) =>
    kube.waitForCrds([...FLUX_CRDS], { what: "Flux CRDs Established", timeoutMs: ctx.timeouts.waitMs, signal: ctx.signal, onProgress }),
  );
  await ensureNamespace(ctx, kube, git.namespace ?? FLUX_NAMESPACE);
  await applyGitSecret(ctx, kube, git);
  await applyDocuments(ctx, kube, [git, ...roots]);
  for (const d of [git, ...roots]) {
    await ctx.wait(`${d.kind} ${d.name} to be Ready`, (onProgress) =>
      kube.waitFor(
        { apiVersion: d.apiVersion!, kind: d.kind!, name: d.name!, namespace: d.namespace ?? FLUX_NAMESPACE },
        (items) => {
          const r = conditionReady(items[0]);
          return { done: r.ready, detail: r.detail };
        },
        { what: `${d.kind} ${d.name} Ready`, timeoutMs: ctx.timeouts.waitMs, signal: ctx.signal, onProgress },
      ),
    );
  }
}

export const gitopsPhase: Phase = {
  n: 5,
  id: "gitops",
  title: "GitOps (Flux)",
  detect,
  run: bootstrapFlux,
  verify: detect,
};
