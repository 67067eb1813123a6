/**
 * Per-run PKI for the simulated API server: a CA, a server certificate for 127.0.0.1/localhost/::1 and a client
 * certificate (O=system:masters, CN=home-ops-sim-admin, like a Talos-issued admin kubeconfig). EC P-256 keys from
 * node:crypto and X.509 v3 certificates DER-encoded here and signed with crypto.sign: no openssl processes, so the
 * whole PKI takes a few milliseconds (three openssl runs cost 40-250 ms). kubectl (Go), Bun.serve (BoringSSL),
 * node:https and openssl itself accept them (tests/integration/sim-kube-*.test.ts).
 * Every file is mode 0600 in a 0700 directory.
 */
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
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

// ---- DER ------------------------------------------------------------------------------------------------------

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, content: Buffer): Buffer => Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
const octets = (b: Buffer): Buffer => tlv(0x04, b);
const bits = (b: Buffer, unused = 0): Buffer => tlv(0x03, Buffer.concat([Buffer.from([unused]), b]));
const bool = (v: boolean): Buffer => tlv(0x01, Buffer.from([v ? 0xff : 0x00]));
const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, "utf8"));
const explicit = (n: number, content: Buffer): Buffer => tlv(0xa0 | n, content);
function integer(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const v = b.subarray(i);
  return tlv(0x02, (v[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}
function oid(dotted: string): Buffer {
  const parts = dotted.split(".").map(Number);
  const out: number[] = [40 * parts[0]! + parts[1]!];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    for (let v = p >>> 7; v > 0; v >>>= 7) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, "").slice(0, 14); // YYYYMMDDHHMMSS
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${iso}Z`));
}

const OID = {
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  organization: "2.5.4.10",
  commonName: "2.5.4.3",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  subjectKeyId: "2.5.29.14",
  authorityKeyId: "2.5.29.35",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
};

function name(attrs: [string, string][]): Buffer {
  return seq(...attrs.map(([type, value]) => set(seq(oid(type), utf8(value)))));
}
function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
}
function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split(".").map(Number));
  const [head = "", tail = ""] = ip.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = ip.includes("::") ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t] : h;
  return Buffer.concat(groups.map((g) => Buffer.from([(parseInt(g, 16) >> 8) & 0xff, parseInt(g, 16) & 0xff])));
}

interface Issued {
  cert: string;
  key: string;
  keyObject: KeyObject;
  keyId: Buffer;
}

function pem(label: string, der: Buffer): string {
  const b64 = der.toString("base64").match(/.{1,64}/g)!.join("\n");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function issue(o: {
  subject: [string, string][];
  issuer?: { subject: [string, string][]; key: KeyObject; keyId: Buffer };
  ca?: boolean;
  sans?: string[];
  usage?: "server" | "client";
  days: number;
}): Issued {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const spki = publicKey.export({ type: "spki", format: "der" });
  // subjectKeyIdentifier: SHA-1 of the public key bits, as RFC 5280 method 1 (the key is the last 65 bytes)
  const keyId = createHash("sha1").update(spki.subarray(spki.length - 65)).digest();
  const now = Date.now();
  const exts: Buffer[] = [];
  if (o.ca) {
    exts.push(extension(OID.basicConstraints, true, seq(bool(true))));
    exts.push(extension(OID.keyUsage, true, bits(Buffer.from([0x06]), 1))); // keyCertSign, cRLSign
  } else {
    exts.push(extension(OID.basicConstraints, true, seq()));
    exts.push(extension(OID.keyUsage, true, bits(Buffer.from([0x80]), 7))); // digitalSignature
    exts.push(extension(OID.extKeyUsage, false, seq(oid(o.usage === "client" ? OID.clientAuth : OID.serverAuth))));
  }
  if (o.sans && o.sans.length > 0) {
    const names = o.sans.map((s) => (isIP(s) ? tlv(0x87, ipBytes(s)) : tlv(0x82, Buffer.from(s, "ascii"))));
    exts.push(extension(OID.subjectAltName, false, seq(...names)));
  }
  exts.push(extension(OID.subjectKeyId, false, octets(keyId)));
  if (o.issuer) exts.push(extension(OID.authorityKeyId, false, seq(tlv(0x80, o.issuer.keyId))));
  const sigAlg = seq(oid(OID.ecdsaWithSha256));
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    integer(serial),
    sigAlg,
    name(o.issuer?.subject ?? o.subject),
    seq(time(new Date(now - 3600_000)), time(new Date(now + o.days * 86400_000))),
    name(o.subject),
    spki,
    explicit(3, seq(...exts)),
  );
  const signature = sign("sha256", tbs, o.issuer?.key ?? privateKey);
  const cert = seq(tbs, sigAlg, bits(signature));
  return { cert: pem("CERTIFICATE", cert), key: privateKey.export({ type: "pkcs8", format: "pem" }) as string, keyObject: privateKey, keyId };
}

/** Creates the CA, server and client certificates. */
export async function createPki(opts: PkiOptions = {}): Promise<Pki> {
  const own = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), "home-ops-sim-pki-"));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const days = opts.days ?? 2;
  const caSubject: [string, string][] = [[OID.commonName, "home-ops-sim-ca"]];
  const ca = issue({ subject: caSubject, ca: true, days });
  const issuer = { subject: caSubject, key: ca.keyObject, keyId: ca.keyId };
  const server = issue({ subject: [[OID.commonName, "kube-apiserver"]], issuer, sans: ["127.0.0.1", "localhost", "::1"], usage: "server", days });
  const client = issue({
    subject: [
      [OID.organization, opts.clientOrganization ?? "system:masters"],
      [OID.commonName, opts.clientCommonName ?? "home-ops-sim-admin"],
    ],
    issuer,
    usage: "client",
    days,
  });
  const paths = {
    caCert: join(dir, "ca.crt"),
    caKey: join(dir, "ca.key"),
    serverCert: join(dir, "server.crt"),
    serverKey: join(dir, "server.key"),
    clientCert: join(dir, "client.crt"),
    clientKey: join(dir, "client.key"),
  };
  const files: [string, string][] = [
    [paths.caCert, ca.cert],
    [paths.caKey, ca.key],
    [paths.serverCert, server.cert],
    [paths.serverKey, server.key],
    [paths.clientCert, client.cert],
    [paths.clientKey, client.key],
  ];
  for (const [p, text] of files) {
    writeFileSync(p, text, { mode: 0o600 });
    chmodSync(p, 0o600);
  }
  return {
    dir,
    caCert: ca.cert,
    serverCert: server.cert,
    serverKey: server.key,
    clientCert: client.cert,
    clientKey: client.key,
    paths,
    cleanup() {
      if (own) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Parses a PEM private key (for tests and callers that need a KeyObject). */
export function privateKeyOf(pemText: string): KeyObject {
  return createPrivateKey(pemText);
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
