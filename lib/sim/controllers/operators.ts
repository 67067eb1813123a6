/**
 * Stands for: cert-manager's controller and the CloudNativePG operator, as far as the toolkit and Flux read them —
 * the status of the objects whose CRDs their charts install (lib/repo/charts.ts).
 *
 * cert-manager (its Deployment ready): an Issuer/ClusterIssuer is Ready (ACME: the account registered); a
 * Certificate whose issuer is Ready gets its kubernetes.io/tls Secret and is Ready with notBefore, notAfter (90 days,
 * Let's Encrypt's lifetime) and renewalTime (two thirds in, cert-manager's default); one whose issuer is missing or
 * not Ready stays not Ready with cert-manager's message.
 *
 * CloudNativePG (its operator ready): a Cluster reports every instance ready ("Cluster in healthy state").
 */
import type { StoreEvent } from "../store.ts";
import { type Condition, type KObj, setConditions } from "./obj.ts";
import { type Ctx, Reconciler } from "./runtime.ts";

const CM = "cert-manager.io";
const PG = "postgresql.cnpg.io";
const K = {
  certificate: { group: CM, resource: "certificates" },
  issuer: { group: CM, resource: "issuers" },
  clusterIssuer: { group: CM, resource: "clusterissuers" },
  pgCluster: { group: PG, resource: "clusters" },
};
const DAY = 86_400_000;

const readyOf = (o: KObj | undefined): Condition | undefined => ((o?.status?.conditions ?? []) as Condition[]).find((c) => c.type === "Ready");

export class ChartOperatorsController extends Reconciler {
  readonly name = "chart-operators";

  constructor(ctx: Ctx) {
    super(ctx);
  }

  protected interested(ev: StoreEvent): boolean {
    const g = ev.kind.group;
    if (g === CM || g === PG) return ev.type === "DELETED" || ev.oldObject?.metadata.generation !== ev.object.metadata.generation;
    return g === "apps" || (g === "" && ev.kind.kind === "Secret" && ev.type === "DELETED");
  }

  /** The chart's controller Deployment has a ready pod (the charts label their pods app.kubernetes.io/name=<chart>). */
  private chartRunning(chart: string): boolean {
    return this.ctx.list("deployments").some((d) => d.spec?.template?.metadata?.labels?.["app.kubernetes.io/name"] === chart && (d.status?.readyReplicas ?? 0) >= 1);
  }

  private served(k: { group: string; resource: string }): boolean {
    return this.ctx.store.kinds.tryResolve(k) !== undefined;
  }

  protected reconcile(): void {
    const now = this.ctx.now();
    if (this.served(K.certificate) && this.chartRunning("cert-manager")) this.reconcileCertManager(now);
    if (this.served(K.pgCluster) && this.chartRunning("cloudnative-pg")) this.reconcileCnpg(now);
  }

  private reconcileCertManager(now: string): void {
    for (const k of [K.issuer, K.clusterIssuer]) {
      if (!this.served(k)) continue;
      for (const iss of this.ctx.list(k)) {
        const acme = iss.spec?.acme as { server?: string; email?: string } | undefined;
        const cond: Condition = acme
          ? { type: "Ready", status: "True", reason: "ACMEAccountRegistered", message: "The ACME account was registered with the ACME server" }
          : { type: "Ready", status: "True", reason: "IsReady", message: "Signing CA verified" };
        this.ctx.writeStatus(k, iss, {
          ...(acme ? { acme: { uri: `${(acme.server ?? "").replace(/\/directory$/, "")}/acme/acct/${Bun.hash(iss.metadata.name).toString(10).slice(0, 9)}`, lastRegisteredEmail: acme.email ?? "", lastPrivateKeyHash: Buffer.from(String(Bun.hash(iss.metadata.name))).toString("base64") } } : {}),
          conditions: setConditions(iss.status?.conditions, [{ ...cond, observedGeneration: iss.metadata.generation ?? 1 }], now),
        }, "cert-manager-clusterissuers");
      }
    }
    for (const cert of this.ctx.list(K.certificate)) this.reconcileCertificate(cert, now);
  }

  private reconcileCertificate(cert: KObj, now: string): void {
    const ns = cert.metadata.namespace ?? "default";
    const ref = (cert.spec?.issuerRef ?? {}) as { name?: string; kind?: string };
    const kind = ref.kind === "ClusterIssuer" ? K.clusterIssuer : K.issuer;
    const issuer = this.served(kind) ? this.ctx.get(kind, ref.name ?? "", kind === K.issuer ? ns : undefined) : undefined;
    const gen = cert.metadata.generation ?? 1;
    const secretName = String(cert.spec?.secretName ?? "");
    if (readyOf(issuer)?.status !== "True") {
      const msg = issuer ? `Issuer ${ref.name} is not Ready` : `Referenced "${ref.kind ?? "Issuer"}" not found: ${ref.kind === "ClusterIssuer" ? "clusterissuer" : "issuer"}.cert-manager.io "${ref.name ?? ""}" not found`;
      this.ctx.writeStatus(K.certificate, cert, {
        ...(cert.status ?? {}),
        conditions: setConditions(cert.status?.conditions, [
          { type: "Ready", status: "False", reason: "DoesNotExist", message: "Issuing certificate as Secret does not exist", observedGeneration: gen },
          { type: "Issuing", status: "True", reason: "DoesNotExist", message: msg, observedGeneration: gen },
        ], now),
      }, "cert-manager-certificates-readiness");
      return;
    }
    const issued = readyOf(cert)?.status === "True" && cert.status?.notAfter && this.ctx.get("secrets", secretName, ns);
    if (issued && (cert.status?.conditions as Condition[]).every((c) => c.type !== "Ready" || c.observedGeneration === gen)) return;
    const t = Date.parse(now);
    const notAfter = new Date(t + 90 * DAY).toISOString().replace(/\.\d+Z$/, "Z");
    if (!this.ctx.get("secrets", secretName, ns)) {
      const pem = (label: string) => `-----BEGIN ${label}-----\n${Buffer.from(`${ns}/${cert.metadata.name} ${label} (simulated)`).toString("base64")}\n-----END ${label}-----\n`;
      this.ctx.store.create({
        apiVersion: "v1",
        kind: "Secret",
        type: "kubernetes.io/tls",
        metadata: {
          name: secretName,
          namespace: ns,
          annotations: { "cert-manager.io/certificate-name": cert.metadata.name, "cert-manager.io/issuer-name": ref.name ?? "", "cert-manager.io/issuer-kind": ref.kind ?? "Issuer", "cert-manager.io/common-name": String(cert.spec?.commonName ?? "") },
        },
        data: { "tls.crt": Buffer.from(pem("CERTIFICATE")).toString("base64"), "tls.key": Buffer.from(pem("PRIVATE KEY")).toString("base64") },
      } as KObj, { fieldManager: "cert-manager-certificates-issuing" });
    }
    this.ctx.writeStatus(K.certificate, cert, {
      notBefore: now.replace(/\.\d+Z$/, "Z"),
      notAfter,
      renewalTime: new Date(t + 60 * DAY).toISOString().replace(/\.\d+Z$/, "Z"),
      revision: ((cert.status?.revision as number | undefined) ?? 0) + 1,
      conditions: setConditions(cert.status?.conditions, [{ type: "Ready", status: "True", reason: "Ready", message: "Certificate is up to date and has not expired", observedGeneration: gen }], now),
    }, "cert-manager-certificates-readiness");
  }

  private reconcileCnpg(now: string): void {
    for (const c of this.ctx.list(K.pgCluster)) {
      const instances = typeof c.spec?.instances === "number" ? c.spec.instances : 1;
      if (c.status?.readyInstances === instances && readyOf(c)?.status === "True") continue;
      const name = c.metadata.name;
      this.ctx.writeStatus(K.pgCluster, c, {
        instances,
        readyInstances: instances,
        phase: "Cluster in healthy state",
        currentPrimary: `${name}-1`,
        targetPrimary: `${name}-1`,
        instanceNames: Array.from({ length: instances }, (_, i) => `${name}-${i + 1}`),
        conditions: setConditions(c.status?.conditions, [{ type: "Ready", status: "True", reason: "ClusterIsReady", message: "Cluster is Ready" }], now),
      }, "cloudnative-pg");
    }
  }
}
