/**
 * Stands for: 1Password Connect (connect-api/connect-sync) and the External Secrets Operator with its onepassword
 * provider.
 *
 * Connect: its pods read OP_SESSION from the credentials Secret the chart names (connect.credentialsName /
 * credentialsKey). The value must be the base64 of the 1password-credentials.json file — the Secret's `data`
 * therefore holds it base64-encoded twice. A value that is the raw JSON, base64 applied twice (double-encoded), or
 * cut short makes Connect exit at start-up, like the real one ("failed to credentialsDataFromBase64 ..."), so the
 * pods crash-loop and the Deployment never becomes available.
 *
 * External Secrets: a ClusterSecretStore/SecretStore with the onepassword provider is Ready when its Connect
 * Service has a ready pod behind it, the token Secret exists (and is non-empty), and every vault it lists exists in
 * the simulated 1Password account. An ExternalSecret becomes a Secret from the vault items (remoteRef.key = item
 * title, property = field label; dataFrom.extract = all fields), with ESO's conditions and messages.
 */
import type { StoreEvent } from "../store.ts";
import type { VaultItem } from "../vault.ts";
import { type KObj, secretValue, setConditions } from "./obj.ts";
import { type Ctx, Reconciler } from "./runtime.ts";
import { type Health, podIsReady, type WorkloadController } from "./workloads.ts";

const ESO_GROUP = "external-secrets.io";

/** A credentials file shaped like the real 1password-credentials.json (random values; for seeding the sim vault). */
export function fakeConnectCredentials(): string {
  const rnd = () => Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString("base64url");
  return JSON.stringify({
    verifier: { salt: rnd(), localHash: rnd() },
    encCredentials: { kid: "localauthv2keykid", enc: "A256GCM", cty: "b5+jwk+json", iv: rnd(), data: rnd() },
    version: "2",
    deviceUuid: rnd().slice(0, 26),
    uniqueKey: { alg: "A256GCM", ext: true, k: rnd(), key_ops: ["decrypt", "encrypt"], kty: "oct", kid: rnd().slice(0, 26) },
  });
}

const STRICT_B64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** What connect-api says about an OP_SESSION value (the decoded Secret value). */
export function checkConnectSession(value: string): Health {
  const prefix = "Server: (failed to FromEnvironment), Wrapped: (failed to loadCredentialsFile), Wrapped: (LoadLocalAuthV2 failed to credentialsDataFromBase64)";
  const text = value.trim();
  if (!STRICT_B64.test(text) || text.length % 4 !== 0) {
    const bad = [...text].findIndex((c) => !/[A-Za-z0-9+/=]/.test(c));
    return { ok: false, reason: "CrashLoopBackOff", message: `${prefix}, illegal base64 data at input byte ${bad >= 0 ? bad : text.length - (text.length % 4)}` };
  }
  const decoded = Buffer.from(text, "base64").toString("utf8");
  let doc: unknown;
  try {
    doc = JSON.parse(decoded);
  } catch {
    const msg = decoded.trim().startsWith("{") ? "unexpected end of JSON input" : `invalid character '${decoded.trim()[0] ?? ""}' looking for beginning of value`;
    return { ok: false, reason: "CrashLoopBackOff", message: `${prefix}, ${msg}` };
  }
  if (!doc || typeof doc !== "object" || !("verifier" in doc) || !("encCredentials" in doc)) {
    return { ok: false, reason: "CrashLoopBackOff", message: `${prefix}, credentials file is missing required fields (verifier, encCredentials)` };
  }
  return { ok: true };
}

/** Connect's start-up check as a workload health rule: nothing is ever Ready that the real Connect would not be. */
export class ConnectController extends Reconciler {
  readonly name = "onepassword-connect";

  constructor(
    ctx: Ctx,
    private readonly workloads: WorkloadController,
  ) {
    super(ctx);
  }

  override start(): void {
    this.workloads.addHealthRule((workload) => {
      const ref = sessionRef(workload);
      if (!ref) return undefined;
      const ns = workload.metadata.namespace ?? "default";
      const secret = this.ctx.get("secrets", ref.name, ns);
      if (!secret) return { ok: false, reason: "CreateContainerConfigError", message: `secret "${ref.name}" not found` };
      const value = secretValue(secret, ref.key);
      if (value === undefined) return { ok: false, reason: "CreateContainerConfigError", message: `couldn't find key ${ref.key} in Secret ${ns}/${ref.name}` };
      return checkConnectSession(value);
    });
    super.start();
  }

  protected interested(): boolean {
    return false;
  }

  protected reconcile(): void {}
}

function sessionRef(d: KObj): { name: string; key: string } | undefined {
  for (const c of (d.spec?.template?.spec?.containers ?? []) as { env?: { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[] }[]) {
    const e = c.env?.find((x) => x.name === "OP_SESSION" && x.valueFrom?.secretKeyRef);
    if (e?.valueFrom?.secretKeyRef) return e.valueFrom.secretKeyRef;
  }
  return undefined;
}

interface StoreVerdict {
  ready: boolean;
  message: string;
  vaults: string[];
}

export class ExternalSecretsController extends Reconciler {
  readonly name = "external-secrets";
  /** ExternalSecret key -> generation whose first sync delay has passed */
  private readonly settled = new Map<string, number | "pending">();

  constructor(ctx: Ctx) {
    super(ctx);
  }

  protected interested(ev: StoreEvent): boolean {
    const k = ev.kind;
    if (k.group === ESO_GROUP) return ev.type === "DELETED" || ev.object.kind !== "ExternalSecret" || ev.oldObject?.metadata.generation !== ev.object.metadata.generation;
    if (k.group === "" && (k.kind === "Secret" || k.kind === "Service" || k.kind === "Pod")) return !(ev.object.metadata.labels?.["reconcile.external-secrets.io/managed"] === "true");
    return k.group === "apps";
  }

  /** The operator's controller Deployment (the chart labels its pods app.kubernetes.io/name=external-secrets). */
  private operatorRunning(): boolean {
    return this.ctx
      .list("deployments")
      .some((d) => d.spec?.template?.metadata?.labels?.["app.kubernetes.io/name"] === "external-secrets" && (d.status?.readyReplicas ?? 0) >= 1);
  }

  protected reconcile(): void {
    if (!this.ctx.store.kinds.tryResolve({ group: ESO_GROUP, resource: "externalsecrets" }) && !this.ctx.store.kinds.tryResolve({ group: ESO_GROUP, resource: "clustersecretstores" })) return;
    if (!this.operatorRunning()) return;
    const now = this.ctx.now();
    const verdicts = new Map<string, StoreVerdict>();
    const stores: [string, KObj][] = [
      ...this.ctx.list({ group: ESO_GROUP, resource: "clustersecretstores" }).map((s) => [`ClusterSecretStore/${s.metadata.name}`, s] as [string, KObj]),
      ...this.ctx.list({ group: ESO_GROUP, resource: "secretstores" }).map((s) => [`SecretStore/${s.metadata.namespace}/${s.metadata.name}`, s] as [string, KObj]),
    ];
    for (const [key, s] of stores) {
      const v = this.validateStore(s);
      verdicts.set(key, v);
      const cond = v.ready
        ? { type: "Ready", status: "True" as const, reason: "Valid", message: "store validated" }
        : { type: "Ready", status: "False" as const, reason: "InvalidProviderConfig", message: v.message };
      this.ctx.writeStatus(s.kind === "ClusterSecretStore" ? { group: ESO_GROUP, resource: "clustersecretstores" } : { group: ESO_GROUP, resource: "secretstores" }, s, {
        capabilities: "ReadOnly",
        conditions: setConditions(s.status?.conditions, [cond], now),
      }, "external-secrets");
    }
    for (const es of this.ctx.list({ group: ESO_GROUP, resource: "externalsecrets" })) this.syncExternalSecret(es, verdicts, now);
  }

  private validateStore(s: KObj): StoreVerdict {
    const op = s.spec?.provider?.onepassword as
      | { connectHost?: string; vaults?: Record<string, number>; auth?: { secretRef?: { connectTokenSecretRef?: { name: string; key: string; namespace?: string } } } }
      | undefined;
    if (!op) return { ready: true, message: "store validated", vaults: [] };
    const host = op.connectHost ?? "";
    let url: URL | undefined;
    try {
      url = new URL(host);
    } catch {
      return { ready: false, message: `unable to validate store: invalid connectHost "${host}"`, vaults: [] };
    }
    const parts = url.hostname.split(".");
    const svcName = parts[0] ?? "";
    const svcNs = parts[1] && parts[1] !== "svc" ? parts[1] : (s.metadata.namespace ?? "default");
    const tokenRef = op.auth?.secretRef?.connectTokenSecretRef;
    const tokenNs = tokenRef?.namespace ?? s.metadata.namespace ?? "default";
    const token = tokenRef ? this.ctx.get("secrets", tokenRef.name, tokenNs) : undefined;
    if (!tokenRef || !token) {
      return { ready: false, message: `unable to create client: cannot get Kubernetes secret "${tokenRef?.name ?? ""}" from namespace "${tokenNs}": secrets "${tokenRef?.name ?? ""}" not found`, vaults: [] };
    }
    const tokenValue = secretValue(token, tokenRef.key);
    if (!tokenValue || tokenValue.trim() === "") {
      return { ready: false, message: `unable to create client: cannot find secret data for key: "${tokenRef.key}"`, vaults: [] };
    }
    const svc = this.ctx.get("services", svcName, svcNs);
    const selector = (svc?.spec?.selector ?? {}) as Record<string, string>;
    const backends = svc
      ? this.ctx.list("pods", svcNs).filter((p) => Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => p.metadata.labels?.[k] === v) && podIsReady(p))
      : [];
    if (!svc) return { ready: false, message: `unable to validate store: Get "${host}/v1/vaults": dial tcp: lookup ${url.hostname} on 10.96.0.10:53: no such host`, vaults: [] };
    if (backends.length === 0) return { ready: false, message: `unable to validate store: Get "${host}/v1/vaults": dial tcp ${svc.spec?.clusterIP ?? "10.96.0.1"}:${url.port || "8080"}: connect: connection refused`, vaults: [] };
    const vaults = Object.keys(op.vaults ?? {});
    const missing = vaults.filter((v) => !this.ctx.host.vault.hasVault(v));
    if (missing.length > 0) return { ready: false, message: `unable to validate store: vault "${missing[0]}" not found`, vaults };
    return { ready: true, message: "store validated", vaults };
  }

  private syncExternalSecret(es: KObj, verdicts: Map<string, StoreVerdict>, now: string): void {
    const ns = es.metadata.namespace ?? "default";
    const key = `${ns}/${es.metadata.name}`;
    const gen = es.metadata.generation ?? 1;
    const ref = (es.spec?.secretStoreRef ?? {}) as { kind?: string; name?: string };
    const storeKey = ref.kind === "ClusterSecretStore" ? `ClusterSecretStore/${ref.name}` : `SecretStore/${ns}/${ref.name}`;
    const verdict = verdicts.get(storeKey);
    const esKind = { group: ESO_GROUP, resource: "externalsecrets" };
    const fail = (message: string) =>
      this.ctx.writeStatus(esKind, es, {
        ...(es.status ?? {}),
        conditions: setConditions(es.status?.conditions, [{ type: "Ready", status: "False", reason: "SecretSyncedError", message }], now),
        refreshTime: es.status?.refreshTime ?? null,
      }, "external-secrets");
    if (!verdict) return void fail(`could not get ${ref.kind ?? "SecretStore"} "${ref.name ?? ""}", ${ref.kind === "ClusterSecretStore" ? "clustersecretstores" : "secretstores"}.external-secrets.io "${ref.name ?? ""}" not found`);
    if (!verdict.ready) return void fail(`${ref.kind ?? "SecretStore"} "${ref.name ?? ""}" is not ready`);
    const state = this.settled.get(key);
    if (state !== gen) {
      if (state === "pending") return;
      this.settled.set(key, "pending");
      this.ctx.after("externalSecretSync", () => {
        this.settled.set(key, gen);
        this.kick();
      });
      if (this.settled.get(key) !== gen) return;
    }
    const values: Record<string, string> = {};
    const data = (es.spec?.data ?? []) as { secretKey: string; remoteRef: { key: string; property?: string } }[];
    const find = (title: string): VaultItem | undefined => {
      for (const v of verdict.vaults.length > 0 ? verdict.vaults : [undefined]) {
        const item = this.ctx.host.vault.getItem(v, title);
        if (item) return item;
      }
      return undefined;
    };
    const vaultMap = `map[${verdict.vaults.map((v) => `${v}:1`).join(" ")}]`;
    for (const [i, d] of data.entries()) {
      const item = find(d.remoteRef.key);
      if (!item) return void fail(`error processing spec.data[${i}] (key: ${d.remoteRef.key}), err: key not found in 1Password Vaults: ${d.remoteRef.key} in: ${vaultMap}`);
      const field = d.remoteRef.property ? item.fields.find((f) => f.label === d.remoteRef.property) : item.fields.find((f) => f.purpose === "PASSWORD") ?? item.fields[0];
      if (!field) return void fail(`error processing spec.data[${i}] (key: ${d.remoteRef.key}), err: key not found in 1Password Vaults: ${d.remoteRef.property ?? "password"} in: ${vaultMap}`);
      values[d.secretKey] = field.value;
    }
    for (const [i, df] of ((es.spec?.dataFrom ?? []) as { extract?: { key: string } }[]).entries()) {
      if (!df.extract) continue;
      const item = find(df.extract.key);
      if (!item) return void fail(`error processing spec.dataFrom[${i}].extract, err: key not found in 1Password Vaults: ${df.extract.key} in: ${vaultMap}`);
      for (const f of item.fields) values[f.label] = f.value;
    }
    const tpl = es.spec?.target?.template?.data as Record<string, string> | undefined;
    const out: Record<string, string> = {};
    if (tpl) {
      for (const [k, t] of Object.entries(tpl)) out[k] = String(t).replace(/\{\{\s*\.([A-Za-z0-9_]+)(?:\s*\|\s*toString)?\s*\}\}/g, (_, name: string) => values[name] ?? "");
      if (es.spec?.target?.template?.mergePolicy === "Merge") for (const [k, v] of Object.entries(values)) out[k] ??= v;
    } else Object.assign(out, values);
    const targetName = (es.spec?.target?.name as string | undefined) ?? es.metadata.name;
    const encoded = Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Buffer.from(v).toString("base64")]));
    const hash = Bun.hash(JSON.stringify(encoded)).toString(16);
    this.ctx.upsert(
      {
        apiVersion: "v1",
        kind: "Secret",
        type: (es.spec?.target?.template?.type as string | undefined) ?? "Opaque",
        metadata: {
          name: targetName,
          namespace: ns,
          labels: { "reconcile.external-secrets.io/managed": "true", "reconcile.external-secrets.io/created-by": Bun.hash(`${ns}/${es.metadata.name}`).toString(16) },
          annotations: { "reconcile.external-secrets.io/data-hash": hash },
          ...(es.spec?.target?.creationPolicy === "Orphan"
            ? {}
            : { ownerReferences: [{ apiVersion: "external-secrets.io/v1", kind: "ExternalSecret", name: es.metadata.name, uid: es.metadata.uid ?? "", controller: true, blockOwnerDeletion: true }] }),
        },
        data: encoded,
      },
      "external-secrets",
    );
    this.ctx.writeStatus(esKind, es, {
      binding: { name: targetName },
      conditions: setConditions(es.status?.conditions, [{ type: "Ready", status: "True", reason: "SecretSynced", message: "secret synced" }], now),
      refreshTime: es.status?.conditions?.some((c: { type: string; status: string }) => c.type === "Ready" && c.status === "True") && es.status?.syncedResourceVersion === `${gen}-${hash}` ? es.status.refreshTime : now,
      syncedResourceVersion: `${gen}-${hash}`,
    }, "external-secrets");
  }
}
