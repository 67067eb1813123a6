/**
 * Per-run PKI for the simulated API server: a CA, a server certificate for 127.0.0.1/localhost/::1 and a client
 * certificate (CN=home-ops-sim-admin, O=system:masters, like a Talos-issued admin kubeconfig). Made with the openssl
 * CLI (node:crypto cannot issue X.509 certificates). Keys are EC P-256: fast to make, accepted by Go and BoringSSL.
 * Every file is mode 0600 in a 0700 directory.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Pki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  paths: { caCert: string; caKey: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string };
  /** Removes the directory (only when createPki made it). */
  cleanup(): void;
}

export interface PkiOptions {
  /** Directory to write into (created 0700 if missing). Default: a fresh temp dir, removed by cleanup(). */
  dir?: string;
  /** Client certificate subject. */
  clientCommonName?: string;
  clientOrganization?: string;
  days?: number;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const proc = Bun.spawn(["openssl", ...args], { cwd, stdout: "ignore", stderr: "pipe", stdin: "ignore" });
  const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  if (code !== 0) throw new Error(`openssl ${args[0]} failed (exit ${code}): ${err.trim().split("\n")[0] ?? ""}`);
}

/** Creates the CA, server and client certificates. */
export async function createPki(opts: PkiOptions = {}): Promise<Pki> {
  const own = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), "home-ops-sim-pki-"));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const days = String(opts.days ?? 2);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const paths = {
    caCert: join(dir, "ca.crt"),
    caKey: join(dir, "ca.key"),
    serverCert: join(dir, "server.crt"),
    serverKey: join(dir, "server.key"),
    clientCert: join(dir, "client.crt"),
    clientKey: join(dir, "client.key"),
  };
  const prevUmask = process.umask(0o077);
  try {
    await openssl(
      ["req", "-x509", ...ec, "-keyout", paths.caKey, "-out", paths.caCert, "-days", days, "-subj", "/CN=home-ops-sim-ca",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
      dir,
    );
    const leaf = (key: string, cert: string, subj: string, ext: string[]) =>
      openssl(["req", ...ec, "-keyout", key, "-out", cert, "-days", days, "-subj", subj, "-CA", paths.caCert, "-CAkey", paths.caKey,
        "-addext", "basicConstraints=critical,CA:FALSE", ...ext.flatMap((e) => ["-addext", e])], dir);
    const cn = opts.clientCommonName ?? "home-ops-sim-admin";
    const org = opts.clientOrganization ?? "system:masters";
    await Promise.all([
      leaf(paths.serverKey, paths.serverCert, "/CN=kube-apiserver", [
        "subjectAltName=IP:127.0.0.1,DNS:localhost,IP:::1",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        "extendedKeyUsage=serverAuth",
      ]),
      leaf(paths.clientKey, paths.clientCert, `/O=${org}/CN=${cn}`, ["keyUsage=critical,digitalSignature,keyEncipherment", "extendedKeyUsage=clientAuth"]),
    ]);
  } finally {
    process.umask(prevUmask);
  }
  for (const p of Object.values(paths)) chmodSync(p, 0o600);
  const read = (p: string) => readFileSync(p, "utf8");
  return {
    dir,
    caCert: read(paths.caCert),
    serverCert: read(paths.serverCert),
    serverKey: read(paths.serverKey),
    clientCert: read(paths.clientCert),
    clientKey: read(paths.clientKey),
    paths,
    cleanup() {
      if (own) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes a kubeconfig (mode 0600) with the certificates embedded, as talosctl kubeconfig does. */
export function writeKubeconfig(
  path: string,
  opts: { server: string; pki: Pick<Pki, "caCert" | "clientCert" | "clientKey">; cluster?: string; user?: string; namespace?: string },
): void {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const cluster = opts.cluster ?? "home-ops-sim";
  const user = opts.user ?? `admin@${cluster}`;
  const context = `${user}`;
  const text = [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    `- name: ${cluster}`,
    "  cluster:",
    `    server: ${opts.server}`,
    `    certificate-authority-data: ${b64(opts.pki.caCert)}`,
    "contexts:",
    `- name: ${context}`,
    "  context:",
    `    cluster: ${cluster}`,
    `    user: ${user}`,
    `    namespace: ${opts.namespace ?? "default"}`,
    `current-context: ${context}`,
    "users:",
    `- name: ${user}`,
    "  user:",
    `    client-certificate-data: ${b64(opts.pki.clientCert)}`,
    `    client-key-data: ${b64(opts.pki.clientKey)}`,
    "",
  ].join("\n");
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
}
