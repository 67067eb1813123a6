/**
 * The bootstrap secrets: 1Password Connect credentials and token, and Flux's Git credentials. Each goes from `op`
 * (stdout, into memory) straight into a Kubernetes Secret through the API: never argv, never a log, never a file.
 *
 * Where they go on the cluster comes from the repo: the Connect chart's `connect.credentialsName/credentialsKey`
 * values (chart defaults otherwise), the ClusterSecretStore's `connectTokenSecretRef`, the GitRepository's
 * `secretRef`. Where they come from in 1Password: `op://$OP_VAULT/<item>/<field>` with the items below, each
 * overridable by an env var holding another reference.
 */
import { ConfigError, OperationError } from "../cli/errors.ts";
import type { Exec, Secret } from "../exec.ts";
import type { ClusterModel, RepoDocument } from "../repo/model.ts";
import { opRead, opSignedIn, classifyOpError } from "../secrets/op.ts";
import type { KubeObj } from "./kube.ts";

export interface SecretRef {
  /** what it is, for messages */
  what: string;
  /** env var that may hold another op:// reference */
  env: string;
  /** item/field under $OP_VAULT */
  item: string;
  field: string;
}

export const CONNECT_CREDENTIALS: SecretRef = {
  what: "1Password Connect credentials (1password-credentials.json)",
  env: "OP_CONNECT_CREDENTIALS_REF",
  item: "1password-connect",
  field: "credentials",
};
export const CONNECT_TOKEN: SecretRef = {
  what: "1Password Connect token",
  env: "OP_CONNECT_TOKEN_REF",
  item: "1password-connect",
  field: "token",
};
export const FLUX_GIT_TOKEN: SecretRef = {
  what: "GitHub token for Flux",
  env: "FLUX_GITHUB_TOKEN_REF",
  item: "flux",
  field: "github-token",
};
export const FLUX_DEPLOY_KEY: SecretRef = {
  what: "GitHub deploy key for Flux (private key)",
  env: "FLUX_DEPLOY_KEY_REF",
  item: "flux",
  field: "deploy-key",
};
export const FLUX_KNOWN_HOSTS: SecretRef = {
  what: "github.com known_hosts line for Flux",
  env: "FLUX_KNOWN_HOSTS_REF",
  item: "flux",
  field: "known-hosts",
};

/** The op:// reference of a bootstrap secret under this environment. */
export function referenceOf(ref: SecretRef, env: Record<string, string | undefined>): string {
  const override = env[ref.env];
  if (override) return override;
  const vault = env.OP_VAULT;
  if (!vault) throw new ConfigError("OP_VAULT is not set", "copy .env.example to .env and set OP_VAULT (the 1Password vault of home-ops)");
  return `op://${vault}/${ref.item}/${ref.field}`;
}

export const SIGNIN_HINT = "run `op signin` (or `eval $(op signin)`), then run this again";

/** Stops with "run `op signin`" when the 1Password CLI is signed out. */
export async function requireOpSignedIn(exec: Exec): Promise<void> {
  if (!(await opSignedIn(exec))) throw new ConfigError("the 1Password CLI is not signed in", SIGNIN_HINT);
}

/** Reads a bootstrap secret; a signed-out op becomes the one "run `op signin`" message. */
export async function readSecret(exec: Exec, ref: SecretRef, env: Record<string, string | undefined>): Promise<Secret> {
  const reference = referenceOf(ref, env);
  try {
    return await opRead(exec, reference, { label: ref.item + "/" + ref.field });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/signed out/i.test(msg) || classifyOpError(msg) === "signed-out")
      throw new ConfigError(`the 1Password CLI is not signed in (reading the ${ref.what})`, SIGNIN_HINT);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 1Password Connect

const CREDENTIAL_FIELDS = ["verifier", "encCredentials", "version", "deviceUuid", "uniqueKey"];

function looksLikeCredentials(text: string): boolean {
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    return typeof v === "object" && v !== null && CREDENTIAL_FIELDS.every((k) => k in v);
  } catch {
    return false;
  }
}

function b64decode(text: string): string | undefined {
  const t = text.trim();
  if (!/^[A-Za-z0-9+/=_-]+$/.test(t)) return undefined;
  try {
    return Buffer.from(t, "base64").toString("utf8");
  } catch {
    return undefined;
  }
}

/**
 * The value the Connect server expects in its credentials Secret key: base64 of the 1password-credentials.json
 * file (the Secret's `data` then holds it base64-encoded once more, as the API always does). 1Password may hold the
 * file itself or its base64; both are accepted, anything else (a truncated or double-encoded value) is refused
 * before it reaches the cluster.
 */
export function connectCredentialsValue(fromOp: string): string {
  const text = fromOp.trim();
  if (looksLikeCredentials(text)) return Buffer.from(text, "utf8").toString("base64");
  const once = b64decode(text);
  if (once !== undefined && looksLikeCredentials(once.trim())) return text;
  if (once !== undefined) {
    const twice = b64decode(once);
    if (twice !== undefined && looksLikeCredentials(twice.trim()))
      throw new ConfigError(
        "the 1Password Connect credentials in 1Password are base64-encoded twice",
        "store the 1password-credentials.json file itself (or its base64 once) in the item",
      );
  }
  throw new ConfigError(
    "the 1Password Connect credentials in 1Password are not a 1password-credentials.json file (truncated or not the file?)",
    `it must be the JSON file with ${CREDENTIAL_FIELDS.join(", ")} (or its base64)`,
  );
}

/** Checks a credentials Secret as read back from the API: data -> base64 -> base64 -> the JSON file. */
export function credentialsSecretValid(secret: KubeObj | undefined, key: string): { ok: boolean; detail: string } {
  if (!secret) return { ok: false, detail: "missing" };
  const data = secret.data?.[key];
  if (!data) return { ok: false, detail: `has no key ${key}` };
  const once = b64decode(data);
  const twice = once === undefined ? undefined : b64decode(once);
  if (twice !== undefined && looksLikeCredentials(twice.trim())) return { ok: true, detail: "holds the credentials file, base64-encoded as Connect expects" };
  if (once !== undefined && looksLikeCredentials(once.trim()))
    return { ok: false, detail: `key ${key} holds the JSON file, not its base64: Connect cannot read it` };
  return { ok: false, detail: `key ${key} does not decode to a 1password-credentials.json file` };
}

export interface SecretTarget {
  name: string;
  namespace: string;
  key: string;
}

const get = (v: unknown, ...p: string[]): unknown => {
  let cur = v;
  for (const k of p) cur = cur && typeof cur === "object" ? (cur as Record<string, unknown>)[k] : undefined;
  return cur;
};

/** Where the Connect chart reads its credentials: values connect.credentialsName / credentialsKey. */
export function connectCredentialsTarget(model: ClusterModel): SecretTarget {
  const hr = model.helmReleases.find((h) => h.chart === "connect" || h.name === "onepassword-connect");
  if (!hr) throw new ConfigError("no HelmRelease for 1Password Connect (chart `connect`) under kubernetes/", "add it under kubernetes/apps/");
  const name = get(hr.values, "connect", "credentialsName");
  const key = get(hr.values, "connect", "credentialsKey");
  return {
    name: typeof name === "string" ? name : "op-credentials",
    key: typeof key === "string" ? key : "1password-credentials.json",
    namespace: hr.targetNamespace ?? hr.namespace ?? "external-secrets",
  };
}

/** The ClusterSecretStore (provider onepassword) document of the repo. */
export function onepasswordStore(model: ClusterModel): { store: ClusterModel["secretStores"][number]; doc: RepoDocument } {
  const store = model.secretStores.find((s) => s.provider === "onepassword") ?? model.secretStores[0];
  if (!store) throw new ConfigError("no ClusterSecretStore under kubernetes/", "add the 1Password ClusterSecretStore");
  const doc = model.documents.find((d) => d.file === store.source.file && d.line === store.source.line);
  if (!doc) throw new OperationError(`ClusterSecretStore ${store.name} has no document`);
  return { store, doc };
}

/** Where ESO reads the Connect token: the store's `connectTokenSecretRef`. */
export function connectTokenTarget(model: ClusterModel): SecretTarget {
  const { store, doc } = onepasswordStore(model);
  const ref = get(doc.object, "spec", "provider", "onepassword", "auth", "secretRef", "connectTokenSecretRef") as
    | { name?: string; key?: string; namespace?: string }
    | undefined;
  const creds = connectCredentialsTarget(model);
  if (!ref?.name)
    throw new ConfigError(
      `${store.source.file}:${store.source.line}: ClusterSecretStore ${store.name} has no auth.secretRef.connectTokenSecretRef`,
      "set the Secret name, key and namespace of the Connect token",
    );
  return { name: ref.name, key: ref.key ?? "token", namespace: ref.namespace ?? store.namespace ?? creds.namespace };
}

export function opaqueSecret(t: { name: string; namespace: string }, data: Record<string, string>, labels: Record<string, string> = {}): KubeObj {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: t.name, namespace: t.namespace, labels: { "app.kubernetes.io/managed-by": "home-ops-bootstrap", ...labels } },
    type: "Opaque",
    // base64 here, so what lands in `data` is exactly what was meant (no stringData re-encoding surprises)
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, "utf8").toString("base64")])),
  };
}

/** Presence (not value) of a Secret key. */
export function secretHasKey(secret: KubeObj | undefined, key: string): boolean {
  return !!secret && (!!secret.data?.[key] || !!secret.stringData?.[key]);
}

/**
 * The op:// references of a Secret an ExternalSecret of the repo keeps in sync (so bootstrap writes the first copy
 * from the same 1Password fields): secretKey -> op://<vault>/<remoteRef.key>/<remoteRef.property>. The vault is
 * $OP_VAULT, else the first vault the 1Password ClusterSecretStore lists.
 */
export function externalSecretRefs(
  model: ClusterModel,
  target: { name: string; namespace: string },
  env: Record<string, string | undefined>,
): Record<string, string> | undefined {
  const es = model.externalSecrets.find((e) => e.targetName === target.name && (e.namespace ?? target.namespace) === target.namespace);
  if (!es) return undefined;
  const doc = model.documents.find((d) => d.file === es.source.file && d.line === es.source.line);
  const data = get(doc?.object, "spec", "data");
  if (!Array.isArray(data)) return undefined;
  let vault = env.OP_VAULT;
  if (!vault) {
    try {
      const vaults = get(onepasswordStore(model).doc.object, "spec", "provider", "onepassword", "vaults");
      vault = vaults && typeof vaults === "object" ? Object.keys(vaults)[0] : undefined;
    } catch {
      vault = undefined;
    }
  }
  if (!vault) throw new ConfigError("OP_VAULT is not set", "copy .env.example to .env and set OP_VAULT");
  const refs: Record<string, string> = {};
  for (const entry of data) {
    const key = get(entry, "secretKey");
    const item = get(entry, "remoteRef", "key");
    const prop = get(entry, "remoteRef", "property");
    if (typeof key === "string" && typeof item === "string" && typeof prop === "string") refs[key] = `op://${vault}/${item}/${prop}`;
  }
  return Object.keys(refs).length ? refs : undefined;
}

/** Reads an op:// reference (not a SecretRef), with the same signed-out message. */
export async function readReference(exec: Exec, reference: string, label: string): Promise<Secret> {
  try {
    return await opRead(exec, reference, { label });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/signed out/i.test(msg)) throw new ConfigError(`the 1Password CLI is not signed in (reading ${label})`, SIGNIN_HINT);
    throw e;
  }
}

/**
 * Every 1Password reference the bootstrap reads (besides the Talos bundle of talos-generate-config), with what its
 * value must look like — for documentation, `--check`, and a simulated vault that wants to hold them.
 */
export function bootstrapReferences(
  model: ClusterModel,
  env: Record<string, string | undefined>,
): Array<{ reference: string; what: string; shape: "connect-credentials" | "token" | "ssh-private-key" | "known-hosts" }> {
  const out: Array<{ reference: string; what: string; shape: "connect-credentials" | "token" | "ssh-private-key" | "known-hosts" }> = [
    { reference: referenceOf(CONNECT_CREDENTIALS, env), what: CONNECT_CREDENTIALS.what, shape: "connect-credentials" },
    { reference: referenceOf(CONNECT_TOKEN, env), what: CONNECT_TOKEN.what, shape: "token" },
  ];
  const git = model.documents.find((d) => d.file.startsWith("kubernetes/flux/") && d.kind === "GitRepository");
  const spec = ((git?.object as KubeObj | undefined)?.spec ?? {}) as { url?: string; secretRef?: { name?: string } };
  if (git && spec.secretRef?.name) {
    const ns = git.namespace ?? "flux-system";
    const refs = externalSecretRefs(model, { name: spec.secretRef.name, namespace: ns }, env);
    const ssh = (spec.url ?? "").startsWith("ssh://") || /^[\w.-]+@/.test(spec.url ?? "");
    if (refs)
      for (const [key, reference] of Object.entries(refs))
        out.push({ reference, what: `Flux Git credentials (${key})`, shape: key === "known_hosts" ? "known-hosts" : key === "identity" ? "ssh-private-key" : "token" });
    else if (ssh) {
      out.push({ reference: referenceOf(FLUX_DEPLOY_KEY, env), what: FLUX_DEPLOY_KEY.what, shape: "ssh-private-key" });
      out.push({ reference: referenceOf(FLUX_KNOWN_HOSTS, env), what: FLUX_KNOWN_HOSTS.what, shape: "known-hosts" });
    } else out.push({ reference: referenceOf(FLUX_GIT_TOKEN, env), what: FLUX_GIT_TOKEN.what, shape: "token" });
  }
  return out;
}
