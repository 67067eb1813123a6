/** 1Password Connect, External Secrets, Longhorn, endpoints and cert-manager emulations, against the store in-process. */
import { afterEach, describe, expect, test } from "bun:test";
import { checkConnectSession, fakeConnectCredentials } from "../../lib/sim/controllers/external-secrets.ts";
import type { KObj } from "../../lib/sim/controllers/obj.ts";
import { installCilium, type Rig, rig, threeNodes } from "./sim-controllers-helpers.ts";

let current: Rig | undefined;
afterEach(() => current?.stop());

const b64 = (s: string) => Buffer.from(s).toString("base64");

async function coreServices(r: Rig, credentialsValue: string, token = "tok-123"): Promise<{ eso: number; connect: number }> {
  if (!r.vault.hasVault("home-ops")) r.vault.setItem("home-ops", "talos", { talsecret: "x" });
  threeNodes(r);
  await installCilium(r);
  const eso = await r.helm("upgrade", "--install", "external-secrets", "external-secrets", "--repo", "https://charts.external-secrets.io", "--version", "0.17.0", "-n", "external-secrets", "--create-namespace", "--wait");
  await r.settle();
  const put = (name: string, data: Record<string, string>) =>
    r.store.create({ apiVersion: "v1", kind: "Secret", metadata: { name, namespace: "external-secrets" }, type: "Opaque", data } as KObj, { fieldManager: "test" });
  // the credentials file goes into the Secret as base64 text (so `data` holds it base64-encoded twice)
  put("onepassword-connect-credentials", { "1password-credentials.json": b64(credentialsValue) });
  put("onepassword-connect-token", { token: b64(token) });
  const connect = await r.helmStdin(
    "connect:\n  applicationName: onepassword-connect\n  credentialsName: onepassword-connect-credentials\n  credentialsKey: 1password-credentials.json\noperator:\n  create: false\n",
    "upgrade", "--install", "onepassword-connect", "connect", "--repo", "https://1password.github.io/connect-helm-charts", "--version", "2.0.2", "-n", "external-secrets", "-f", "-", "--wait",
  );
  await r.settle();
  return { eso: eso.exitCode, connect: connect.exitCode };
}

const store = (vaultName = "home-ops"): KObj => ({
  apiVersion: "external-secrets.io/v1",
  kind: "ClusterSecretStore",
  metadata: { name: "onepassword" },
  spec: {
    provider: {
      onepassword: {
        connectHost: "http://onepassword-connect.external-secrets.svc.cluster.local:8080",
        vaults: { [vaultName]: 1 },
        auth: { secretRef: { connectTokenSecretRef: { name: "onepassword-connect-token", namespace: "external-secrets", key: "token" } } },
      },
    },
  },
});

const readyOf = (o: KObj | undefined) => ((o?.status?.conditions ?? []) as { type: string; status: string; reason: string; message: string }[]).find((c) => c.type === "Ready");

describe("1Password Connect credentials", () => {
  const json = fakeConnectCredentials();
  test("base64 of the credentials file is accepted", () => {
    expect(checkConnectSession(b64(json))).toEqual({ ok: true });
  });
  test("double-encoded, raw JSON and truncated values make Connect fail like the real one", () => {
    const dbl = checkConnectSession(b64(b64(json)));
    expect(dbl.ok).toBe(false);
    if (!dbl.ok) expect(dbl.message).toContain("invalid character");
    const raw = checkConnectSession(json);
    expect(raw.ok).toBe(false);
    if (!raw.ok) expect(raw.message).toContain("illegal base64 data at input byte 0");
    const cut = b64(json).slice(0, 120);
    const truncated = checkConnectSession(cut);
    expect(truncated.ok).toBe(false);
    if (!truncated.ok) expect(truncated.message).toContain("unexpected end of JSON input");
  });

  test("a double-encoded credentials Secret: Connect crash-loops and helm --wait fails", async () => {
    const r = (current = rig());
    const res = await coreServices(r, b64(b64(json)));
    expect(res.connect).toBe(1);
    const pod = r.list("pods", "external-secrets").find((p) => p.metadata.labels?.app === "onepassword-connect");
    expect(pod?.status?.containerStatuses?.[0]?.state?.waiting?.reason).toBe("CrashLoopBackOff");
  });
});

describe("External Secrets", () => {
  test("ClusterSecretStore Ready once Connect runs and the token exists; ExternalSecret -> Secret from the vault", async () => {
    const r = (current = rig());
    r.vault.setItem("home-ops", "authentik", { "secret-key": "s3cr3t-value", "postgres-password": "pg-pass" });
    const res = await coreServices(r, b64(json()));
    expect(res).toEqual({ eso: 0, connect: 0 });
    r.store.create(store(), { fieldManager: "test" });
    r.store.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "identity" } }, { fieldManager: "test" });
    r.store.create({
      apiVersion: "external-secrets.io/v1",
      kind: "ExternalSecret",
      metadata: { name: "authentik", namespace: "identity" },
      spec: {
        secretStoreRef: { kind: "ClusterSecretStore", name: "onepassword" },
        target: { name: "authentik", template: { data: { AUTHENTIK_SECRET_KEY: "{{ .secret_key }}", DSN: "postgres://u:{{ .pg }}@db" } } },
        data: [
          { secretKey: "secret_key", remoteRef: { key: "authentik", property: "secret-key" } },
          { secretKey: "pg", remoteRef: { key: "authentik", property: "postgres-password" } },
        ],
      },
    } as KObj, { fieldManager: "test" });
    await r.settle();
    expect(readyOf(r.get("clustersecretstores.external-secrets.io", "onepassword"))).toMatchObject({ status: "True", reason: "Valid", message: "store validated" });
    expect(readyOf(r.get("externalsecrets.external-secrets.io", "authentik", "identity"))).toMatchObject({ status: "True", reason: "SecretSynced" });
    const secret = r.get("secrets", "authentik", "identity");
    expect(Buffer.from(secret?.data?.AUTHENTIK_SECRET_KEY ?? "", "base64").toString()).toBe("s3cr3t-value");
    expect(Buffer.from(secret?.data?.DSN ?? "", "base64").toString()).toBe("postgres://u:pg-pass@db");
  });

  test("store not Ready without the token Secret; ExternalSecret with a missing item fails with ESO's message", async () => {
    const r = (current = rig());
    await coreServices(r, b64(json()));
    r.store.delete("secrets", "onepassword-connect-token", "external-secrets");
    r.store.create(store(), { fieldManager: "test" });
    await r.settle();
    const c = readyOf(r.get("clustersecretstores.external-secrets.io", "onepassword"));
    expect(c).toMatchObject({ status: "False", reason: "InvalidProviderConfig" });
    expect(c?.message).toContain('secrets "onepassword-connect-token" not found');
    r.store.create({ apiVersion: "v1", kind: "Secret", metadata: { name: "onepassword-connect-token", namespace: "external-secrets" }, data: { token: b64("t") } } as KObj, { fieldManager: "test" });
    r.store.create({ apiVersion: "external-secrets.io/v1", kind: "ExternalSecret", metadata: { name: "x", namespace: "default" }, spec: { secretStoreRef: { kind: "ClusterSecretStore", name: "onepassword" }, data: [{ secretKey: "k", remoteRef: { key: "nope", property: "p" } }] } } as KObj, { fieldManager: "test" });
    await r.settle();
    expect(readyOf(r.get("clustersecretstores.external-secrets.io", "onepassword"))?.status).toBe("True");
    const es = readyOf(r.get("externalsecrets.external-secrets.io", "x", "default"));
    expect(es).toMatchObject({ status: "False", reason: "SecretSyncedError" });
    expect(es?.message).toContain("key not found in 1Password Vaults: nope");
  });

  test("a vault the account does not have keeps the store not Ready", async () => {
    const r = (current = rig());
    await coreServices(r, b64(json()));
    r.store.create(store("no-such-vault"), { fieldManager: "test" });
    await r.settle();
    expect(readyOf(r.get("clustersecretstores.external-secrets.io", "onepassword"))?.message).toContain('vault "no-such-vault" not found');
  });
});

function json(): string {
  return fakeConnectCredentials();
}

describe("Longhorn", () => {
  async function longhorn(r: Rig, path = "/var/mnt/longhorn"): Promise<void> {
    threeNodes(r);
    await installCilium(r);
    const res = await r.helmStdin(`defaultSettings:\n  defaultDataPath: ${path}\n  defaultReplicaCount: 2\n`, "upgrade", "--install", "longhorn", "longhorn", "--repo", "https://charts.longhorn.io", "--version", "1.9.0", "-n", "longhorn-system", "--create-namespace", "-f", "-", "--wait");
    expect(res.exitCode).toBe(0);
    await r.settle();
  }

  test("nodes with the disk at the data path, settings from the values, healthy 2-replica volumes", async () => {
    const r = (current = rig());
    await longhorn(r);
    const nodes = r.list("nodes.longhorn.io", "longhorn-system");
    expect(nodes.map((n) => n.metadata.name)).toEqual(["mini01", "mini02", "mini03"]);
    const disk = Object.values(nodes[0]?.spec?.disks ?? {})[0] as { path: string };
    expect(disk.path).toBe("/var/mnt/longhorn");
    expect(readyOf(nodes[0])?.status).toBe("True");
    expect((r.get("settings.longhorn.io", "default-replica-count", "longhorn-system") as { value?: string })?.value).toBe("2");
    expect((r.get("settings.longhorn.io", "default-data-path", "longhorn-system") as { value?: string })?.value).toBe("/var/mnt/longhorn");
    const vols = r.list("volumes.longhorn.io", "longhorn-system");
    expect(vols.length).toBeGreaterThanOrEqual(3);
    expect(vols.every((v) => v.spec.numberOfReplicas === 2 && v.status.robustness === "healthy")).toBe(true);
  });

  test("without defaultDataPath the disk is Longhorn's own default", async () => {
    const r = (current = rig());
    threeNodes(r);
    await installCilium(r);
    await r.helm("upgrade", "--install", "longhorn", "longhorn", "--repo", "https://charts.longhorn.io", "--version", "1.9.0", "-n", "longhorn-system", "--create-namespace", "--wait");
    await r.settle();
    const n = r.get("nodes.longhorn.io", "mini01", "longhorn-system");
    expect((Object.values(n?.spec?.disks ?? {})[0] as { path: string }).path).toBe("/var/lib/longhorn/");
  });

  test("volumes degrade while a node is down and rebuild (after the scaled delay) when it returns", async () => {
    const r = (current = rig());
    await longhorn(r);
    const robust = () => r.list("volumes.longhorn.io", "longhorn-system").map((v) => v.status.robustness as string);
    r.setNodeReady("mini02", "Unknown");
    await r.settle();
    expect(robust()).toContain("degraded");
    expect(readyOf(r.get("nodes.longhorn.io", "mini02", "longhorn-system"))?.status).toBe("False");
    r.setNodeReady("mini02", "False"); // kubelet back, CNI (Cilium agent) comes up, manager restarts, replicas rebuild
    await r.settle();
    expect(robust().every((x) => x === "healthy")).toBe(true);
  });
});

describe("Endpoints and EndpointSlices", () => {
  test("a Service with a selector gets its Endpoints and one slice per IP family, kept as pods come and go", async () => {
    const r = (current = rig());
    threeNodes(r);
    await installCilium(r);
    const values = "controller:\n  replicaCount: 2\n  service:\n    ipFamilyPolicy: RequireDualStack\n    ipFamilies: [IPv4, IPv6]\n";
    const res = await r.helmStdin(values, "upgrade", "--install", "internal", "ingress-nginx", "--repo", "https://kubernetes.github.io/ingress-nginx", "--version", "4.13.0", "-n", "network", "--create-namespace", "-f", "-", "--wait");
    expect(res.exitCode).toBe(0);
    await r.settle();
    const svc = "internal-ingress-nginx-controller";
    const slices = r.list("endpointslices.discovery.k8s.io", "network").filter((s) => s.metadata.labels?.["kubernetes.io/service-name"] === svc);
    expect(slices.map((s) => s.addressType).sort()).toEqual(["IPv4", "IPv6"]);
    type Slice = { endpoints: { nodeName: string; conditions: { ready: boolean } }[]; ports: { name: string; port: number }[]; metadata: { ownerReferences: unknown[] } };
    const v4 = slices.find((s) => s.addressType === "IPv4") as unknown as Slice;
    const pods = r.list("pods", "network").filter((p) => p.metadata.labels?.["app.kubernetes.io/instance"] === "internal");
    expect(pods.length).toBe(2);
    expect(v4.endpoints.map((e) => e.nodeName).sort()).toEqual(pods.map((p) => p.spec.nodeName).sort());
    expect(v4.endpoints.every((e) => e.conditions.ready)).toBe(true);
    // the named targetPorts resolve through the controller's container ports
    expect(v4.ports.map((p) => `${p.name}:${p.port}`).sort()).toEqual(["http:80", "https:443"]);
    expect(v4.metadata.ownerReferences[0]).toMatchObject({ kind: "Service", name: svc });
    const ep = r.get("endpoints", svc, "network");
    expect((ep?.subsets as { addresses?: unknown[] }[] | undefined)?.[0]?.addresses?.length).toBe(2);
    // scaled to zero: the slices stay, empty; the Endpoints have no subsets
    const d = r.get("deployments", svc, "network")!;
    r.store.update({ ...d, spec: { ...d.spec, replicas: 0 } } as KObj, { fieldManager: "test" });
    await r.settle();
    expect(r.list("endpointslices.discovery.k8s.io", "network").filter((s) => s.metadata.labels?.["kubernetes.io/service-name"] === svc).map((s) => (s.endpoints as unknown[]).length)).toEqual([0, 0]);
    expect(r.get("endpoints", svc, "network")?.subsets).toBeUndefined();
    // the Service gone: so are its slices and Endpoints
    r.store.delete("services", svc, "network");
    await r.settle();
    expect(r.list("endpointslices.discovery.k8s.io", "network").filter((s) => s.metadata.labels?.["kubernetes.io/service-name"] === svc)).toEqual([]);
    expect(r.get("endpoints", svc, "network")).toBeUndefined();
  });
});

describe("cert-manager", () => {
  test("with crds.enabled the chart installs its CRDs; a Certificate of a Ready ClusterIssuer is issued into its Secret", async () => {
    const r = (current = rig());
    threeNodes(r);
    await installCilium(r);
    const res = await r.helmStdin("crds:\n  enabled: true\n", "upgrade", "--install", "cert-manager", "cert-manager", "--repo", "https://charts.jetstack.io", "--version", "v1.18.2", "-n", "cert-manager", "--create-namespace", "-f", "-", "--wait");
    expect(res.exitCode).toBe(0);
    await r.settle();
    r.store.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "network" } } as KObj, { fieldManager: "test" });
    r.store.create({ apiVersion: "cert-manager.io/v1", kind: "Certificate", metadata: { name: "wildcard", namespace: "network" }, spec: { secretName: "wildcard-tls", issuerRef: { kind: "ClusterIssuer", name: "letsencrypt" }, dnsNames: ["example.org"] } } as KObj, { fieldManager: "test" });
    await r.settle();
    expect(readyOf(r.get("certificates.cert-manager.io", "wildcard", "network"))).toMatchObject({ status: "False", message: "Issuing certificate as Secret does not exist" });
    r.store.create({ apiVersion: "cert-manager.io/v1", kind: "ClusterIssuer", metadata: { name: "letsencrypt" }, spec: { acme: { server: "https://acme-staging-v02.api.letsencrypt.org/directory", privateKeySecretRef: { name: "le-account" }, solvers: [{ dns01: { cloudflare: { apiTokenSecretRef: { name: "cf", key: "token" } } } }] } } } as KObj, { fieldManager: "test" });
    await r.settle();
    expect(readyOf(r.get("clusterissuers.cert-manager.io", "letsencrypt"))).toMatchObject({ status: "True", reason: "ACMEAccountRegistered" });
    const cert = r.get("certificates.cert-manager.io", "wildcard", "network");
    expect(readyOf(cert)).toMatchObject({ status: "True", reason: "Ready" });
    expect(Date.parse(cert?.status?.notAfter) - Date.now()).toBeGreaterThan(80 * 86_400_000);
    expect(r.get("secrets", "wildcard-tls", "network")?.type).toBe("kubernetes.io/tls");
  });

  test("without crds.enabled (the chart's default) no CRD is installed", async () => {
    const r = (current = rig());
    threeNodes(r);
    await installCilium(r);
    const res = await r.helm("upgrade", "--install", "cert-manager", "cert-manager", "--repo", "https://charts.jetstack.io", "--version", "v1.18.2", "-n", "cert-manager", "--create-namespace", "--wait");
    expect(res.exitCode).toBe(0);
    expect(r.get("customresourcedefinitions", "certificates.cert-manager.io")).toBeUndefined();
  });
});
