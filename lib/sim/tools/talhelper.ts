/**
 * The talhelper stand-in: `genconfig` (one machine config per node + talosconfig + .gitignore, from talconfig.yaml,
 * talenv.yaml and talsecret.yaml, with talhelper's output lines) and `gencommand` (talosctl command lines). Patches
 * given as `@file` are merged as strategic-merge config patches; documents with a `kind` are appended.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml, parseAllDocuments, stringify as yamlStringify } from "yaml";
import { type FlagSpec, FlagParseError, type ToolCall, type ToolResult, fail, ok, parsePflags, resolveIn } from "../tools.ts";

export const TALHELPER_VERSION = "3.0.30";
/** The Image Factory id of the schematic with no customization (talhelper's default installer). */
export const VANILLA_SCHEMATIC = "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba";

export interface TalhelperHost {
  /** a fresh secrets bundle (what `talhelper gensecret` would produce) when no talsecret file exists */
  newSecrets(): TalosSecrets;
  /** the version it reports (default TALHELPER_VERSION) */
  version?: string;
}

export interface TalosSecrets {
  cluster: { id: string; secret: string };
  secrets: { bootstraptoken: string; secretboxencryptionsecret: string };
  trustdinfo: { token: string };
  certs: {
    etcd: { crt: string; key: string };
    k8s: { crt: string; key: string };
    k8saggregator: { crt: string; key: string };
    k8sserviceaccount: { key: string };
    os: { crt: string; key: string };
  };
}

const COMMON: FlagSpec[] = [
  { name: "config-file", short: "c", type: "string" },
  { name: "env-file", short: "e", type: "strings" },
  { name: "help", short: "h", type: "bool" },
];

export function talhelperHandler(host: TalhelperHost) {
  return async (call: ToolCall): Promise<ToolResult> => {
    const [cmd, ...rest] = call.argv;
    if (cmd === "--version" || cmd === "-v" || cmd === "version") return ok(`talhelper version ${host.version ?? TALHELPER_VERSION}\n`);
    try {
      if (cmd === "genconfig") return genconfig(call, rest, host);
      if (cmd === "gencommand") return gencommand(call, rest);
      if (cmd === "gensecret") return ok(yamlStringify(host.newSecrets(), { indent: 4 }));
    } catch (e) {
      if (e instanceof FlagParseError || e instanceof TalhelperError) return fail(`Error: ${e.message}`);
      throw e;
    }
    return fail(`Error: unknown command "${cmd ?? ""}" for "talhelper"\nRun 'talhelper --help' for usage.`);
  };
}

class TalhelperError extends Error {}

interface Loaded {
  cfg: any;
  dir: string;
  env: Record<string, string>;
}

function loadTalconfig(call: ToolCall, flags: Record<string, unknown>): Loaded {
  const file = resolveIn(call, (flags["config-file"] as string | undefined) ?? "talconfig.yaml");
  if (!existsSync(file)) throw new TalhelperError(`failed to read config file: open ${path.relative(call.cwd, file) || file}: no such file or directory`);
  const dir = path.dirname(file);
  const env: Record<string, string> = { ...call.env };
  const envFiles = (flags["env-file"] as string[] | undefined) ?? ["talenv.yaml", "talenv.sops.yaml", "talenv.yml", "talenv.sops.yml"];
  for (const f of envFiles) {
    const p = resolveIn(call, f);
    if (!existsSync(p)) continue;
    const data = parseYaml(readFileSync(p, "utf8")) as Record<string, unknown> | null;
    if (data && "sops" in data) throw new TalhelperError(`failed to decrypt env file ${f}: sops is not available in the simulated cluster`);
    for (const [k, v] of Object.entries(data ?? {})) env[k] = String(v);
  }
  const raw = readFileSync(file, "utf8");
  const substituted = raw.replace(/\$\{(\w+)\}/g, (_m, k: string) => {
    // like talhelper's envsubst (strict), comments included
    const v = env[k];
    if (v === undefined || v === "") throw new TalhelperError(`failed to substitute env: variable \${${k}} ${v === undefined ? "not set" : "set but empty"}`);
    return v;
  });
  let cfg: any;
  try {
    cfg = parseYaml(substituted);
  } catch (e) {
    throw new TalhelperError(`failed to parse config file: ${(e as Error).message.split("\n")[0]}`);
  }
  for (const k of ["clusterName", "endpoint", "nodes"])
    if (cfg?.[k] === undefined) throw new TalhelperError(`failed to validate config file: ${k} is required`);
  if (!cfg.kubernetesVersion) throw new TalhelperError("failed to validate config file: kubernetesVersion is required");
  for (const n of cfg.nodes as any[]) {
    if (!n.hostname || !n.ipAddress) throw new TalhelperError("failed to validate config file: every node needs hostname and ipAddress");
    if (!n.installDisk && !n.installDiskSelector)
      throw new TalhelperError(`failed to validate config file: node ${n.hostname}: installDisk or installDiskSelector is required`);
  }
  return { cfg, dir, env };
}

function talosVersionOf(cfg: any): string {
  return String(cfg.talosVersion ?? `v1.10.5`);
}

function installerImage(cfg: any, node: any): string {
  const version = talosVersionOf(cfg);
  const url = node.talosImageURL ?? (node.controlPlane ? cfg.controlPlane?.talosImageURL : cfg.worker?.talosImageURL);
  if (url) return String(url).includes(":") && !/:\d+\//.test(String(url)) ? String(url) : `${url}:${version}`;
  return `factory.talos.dev/installer/${VANILLA_SCHEMATIC}:${version}`;
}

function nodeIps(node: any): string[] {
  return String(node.ipAddress)
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

function loadPatches(dir: string, list: unknown): { merge: any[]; extraDocs: any[] } {
  const merge: any[] = [];
  const extraDocs: any[] = [];
  for (const p of Array.isArray(list) ? list : []) {
    let text: string;
    if (typeof p === "string" && p.startsWith("@")) {
      const f = path.resolve(dir, p.slice(1));
      if (!existsSync(f)) throw new TalhelperError(`failed to read patch file ${p.slice(1)}: no such file or directory`);
      text = readFileSync(f, "utf8");
    } else text = typeof p === "string" ? p : yamlStringify(p);
    for (const d of parseAllDocuments(text)) {
      const v = d.toJSON();
      if (!v || typeof v !== "object") continue;
      if (Array.isArray(v)) continue; // JSON6902 patches: not emulated
      if ("kind" in v && "apiVersion" in v) extraDocs.push(v);
      else merge.push(v);
    }
  }
  return { merge, extraDocs };
}

function deepMerge(a: any, b: any): any {
  if (b && typeof b === "object" && !Array.isArray(b) && a && typeof a === "object" && !Array.isArray(a)) {
    const out = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = deepMerge(a[k], v);
    return out;
  }
  return b === undefined ? a : b;
}

function readSecrets(call: ToolCall, flags: Record<string, unknown>, host: TalhelperHost): TalosSecrets {
  const files = (flags["secret-file"] as string[] | undefined) ?? ["talsecret.yaml", "talsecret.sops.yaml", "talsecret.yml", "talsecret.sops.yml"];
  for (const f of files) {
    const p = resolveIn(call, f);
    if (!existsSync(p)) continue;
    const data = parseYaml(readFileSync(p, "utf8")) as any;
    if (data && "sops" in data) throw new TalhelperError(`failed to decrypt secret file ${f}: sops is not available in the simulated cluster`);
    if (!data?.certs?.os?.crt) throw new TalhelperError(`failed to load secrets bundle ${f}: certs.os is missing`);
    return data as TalosSecrets;
  }
  return host.newSecrets();
}

function genconfig(call: ToolCall, argv: string[], host: TalhelperHost): ToolResult {
  const { flags } = parsePflags(argv, [
    ...COMMON,
    { name: "secret-file", short: "s", type: "strings" },
    { name: "out-dir", short: "o", type: "string" },
    { name: "no-gitignore", type: "bool" },
    { name: "talos-mode", short: "m", type: "string" },
    { name: "dry-run", type: "bool" },
  ]);
  const { cfg, dir } = loadTalconfig(call, flags);
  const secrets = readSecrets(call, flags, host);
  const outArg = (flags["out-dir"] as string | undefined) ?? "./clusterconfig";
  const outDir = resolveIn(call, outArg);
  const dry = flags["dry-run"] === true;
  if (!dry) mkdirSync(outDir, { recursive: true });
  const global = loadPatches(dir, cfg.patches);
  const cp = loadPatches(dir, cfg.controlPlane?.patches);
  const wk = loadPatches(dir, cfg.worker?.patches);
  let stdout = "";
  const nodes = cfg.nodes as any[];
  const cpIps = nodes.filter((n) => n.controlPlane).flatMap((n) => nodeIps(n).slice(0, 1));
  for (const n of nodes) {
    const role = n.controlPlane ? cp : wk;
    const own = loadPatches(dir, n.patches);
    let machine = baseConfig(cfg, n, secrets);
    // talhelper's order: controlPlane/worker patches, node patches, then global patches
    for (const p of [...role.merge, ...own.merge, ...global.merge]) machine = deepMerge(machine, p);
    const docs = [machine, ...role.extraDocs, ...own.extraDocs, ...global.extraDocs];
    const text = docs.map((d) => yamlStringify(d, { indent: 4, lineWidth: 0 })).join("---\n");
    const file = `${outArg.replace(/\/$/, "")}/${cfg.clusterName}-${n.hostname}.yaml`;
    if (!dry) writeFileSync(path.join(outDir, `${cfg.clusterName}-${n.hostname}.yaml`), text, { mode: 0o600 });
    stdout += `generated config for ${n.hostname} in ${file}\n`;
  }
  const talosconfig = {
    context: cfg.clusterName,
    contexts: {
      [cfg.clusterName]: {
        endpoints: cpIps,
        nodes: nodes.flatMap((n) => nodeIps(n).slice(0, 1)),
        ca: secrets.certs.os.crt,
        crt: Buffer.from(`sim-client-crt-${randomBytes(16).toString("hex")}`).toString("base64"),
        key: Buffer.from(`sim-client-key-${randomBytes(16).toString("hex")}`).toString("base64"),
      },
    },
  };
  if (!dry) writeFileSync(path.join(outDir, "talosconfig"), yamlStringify(talosconfig, { indent: 4 }), { mode: 0o600 });
  stdout += `generated client config in ${outArg.replace(/\/$/, "")}/talosconfig\n`;
  if (flags["no-gitignore"] !== true) {
    const gi = nodes.map((n) => `${cfg.clusterName}-${n.hostname}.yaml`).concat("talosconfig").join("\n") + "\n";
    if (!dry) writeFileSync(path.join(outDir, ".gitignore"), gi);
    stdout += `generated .gitignore file in ${outArg.replace(/\/$/, "")}/.gitignore\n`;
  }
  return ok(stdout);
}

function baseConfig(cfg: any, n: any, s: TalosSecrets): any {
  const ips = nodeIps(n);
  const kube = String(cfg.kubernetesVersion);
  const sans = Array.isArray(cfg.additionalMachineCertSans) ? cfg.additionalMachineCertSans : [];
  const install: Record<string, unknown> = { image: installerImage(cfg, n), wipe: false };
  if (n.installDisk) install.disk = n.installDisk;
  if (n.installDiskSelector) install.diskSelector = n.installDiskSelector;
  return {
    version: "v1alpha1",
    debug: false,
    persist: true,
    machine: {
      type: n.controlPlane ? "controlplane" : "worker",
      token: s.trustdinfo.token,
      ca: { crt: s.certs.os.crt, key: n.controlPlane ? s.certs.os.key : "" },
      certSANs: sans,
      kubelet: { image: `ghcr.io/siderolabs/kubelet:${kube}`, defaultRuntimeSeccompProfileEnabled: true },
      network: {
        hostname: n.hostname,
        ...(n.networkInterfaces ? { interfaces: n.networkInterfaces } : {}),
      },
      install,
      ...(n.nodeLabels ? { nodeLabels: n.nodeLabels } : {}),
    },
    cluster: {
      id: s.cluster.id,
      secret: s.cluster.secret,
      controlPlane: { endpoint: cfg.endpoint },
      clusterName: cfg.clusterName,
      network: {
        dnsDomain: cfg.domain ?? "cluster.local",
        podSubnets: cfg.clusterPodNets ?? ["10.244.0.0/16"],
        serviceSubnets: cfg.clusterSvcNets ?? ["10.96.0.0/12"],
        ...(cfg.cniConfig ? { cni: cfg.cniConfig } : {}),
      },
      token: s.secrets.bootstraptoken,
      secretboxEncryptionSecret: s.secrets.secretboxencryptionsecret,
      ca: s.certs.k8s,
      aggregatorCA: s.certs.k8saggregator,
      serviceAccount: s.certs.k8sserviceaccount,
      ...(n.controlPlane
        ? {
            apiServer: { image: `registry.k8s.io/kube-apiserver:${kube}`, certSANs: cfg.additionalApiServerCertSans ?? [] },
            controllerManager: { image: `registry.k8s.io/kube-controller-manager:${kube}` },
            scheduler: { image: `registry.k8s.io/kube-scheduler:${kube}` },
            etcd: { ca: s.certs.etcd },
          }
        : {}),
      ...(cfg.allowSchedulingOnControlPlanes ? { allowSchedulingOnControlPlanes: true } : {}),
    },
  };
}

const GENCOMMANDS = ["apply", "upgrade", "upgrade-k8s", "bootstrap", "kubeconfig", "reset", "health"];

function gencommand(call: ToolCall, argv: string[]): ToolResult {
  const { flags, positionals } = parsePflags(argv, [
    ...COMMON,
    { name: "out-dir", short: "o", type: "string" },
    { name: "node", short: "n", type: "string" },
    { name: "extra-flags", type: "strings" },
  ]);
  const which = positionals[0];
  if (!which || !GENCOMMANDS.includes(which))
    throw new TalhelperError(`invalid command "${which ?? ""}": must be one of ${GENCOMMANDS.join(", ")}`);
  const { cfg } = loadTalconfig(call, flags);
  const outDir = ((flags["out-dir"] as string | undefined) ?? "./clusterconfig").replace(/\/$/, "");
  const talosconfig = `--talosconfig=${outDir}/talosconfig`;
  const extra = ((flags["extra-flags"] as string[] | undefined) ?? []).map((f) => ` ${f}`).join("");
  const nodeRef = flags.node as string | undefined;
  let nodes = cfg.nodes as any[];
  if (nodeRef) {
    nodes = nodes.filter((n) => n.hostname === nodeRef || nodeIps(n).includes(nodeRef));
    if (nodes.length === 0) throw new TalhelperError(`node with hostname or IP address "${nodeRef}" not found`);
  }
  const ip = (n: any) => nodeIps(n)[0]!;
  const firstCp = (nodeRef ? nodes : (cfg.nodes as any[]).filter((n) => n.controlPlane))[0] ?? nodes[0];
  const lines: string[] = [];
  switch (which) {
    case "apply":
      for (const n of nodes)
        lines.push(`talosctl apply-config ${talosconfig} --nodes=${ip(n)} --file=${outDir}/${cfg.clusterName}-${n.hostname}.yaml${extra};`);
      break;
    case "upgrade":
      for (const n of nodes) lines.push(`talosctl upgrade ${talosconfig} --nodes=${ip(n)} --image=${installerImage(cfg, n)}${extra};`);
      break;
    case "upgrade-k8s":
      lines.push(`talosctl upgrade-k8s ${talosconfig} --nodes=${ip(firstCp)} --to=${cfg.kubernetesVersion}${extra};`);
      break;
    case "bootstrap":
      lines.push(`talosctl bootstrap ${talosconfig} --nodes=${ip(firstCp)}${extra};`);
      break;
    case "kubeconfig":
      lines.push(`talosctl kubeconfig ${talosconfig} --nodes=${ip(firstCp)}${extra};`);
      break;
    case "reset":
      for (const n of nodes) lines.push(`talosctl reset ${talosconfig} --nodes=${ip(n)}${extra};`);
      break;
    case "health":
      lines.push(`talosctl health ${talosconfig} --nodes=${ip(firstCp)}${extra};`);
      break;
  }
  return ok(lines.join("\n") + "\n");
}

/** A fresh fake secrets bundle whose os CA is `osCa` (so talosconfigs of the sim trust machines configured with it). */
export function makeSecrets(osCa: string): TalosSecrets {
  const r = (n = 32) => randomBytes(n).toString("base64");
  const pem = (label: string) => Buffer.from(`-----BEGIN ${label}-----\n${r(48)}\n-----END ${label}-----\n`).toString("base64");
  return {
    cluster: { id: r(32), secret: r(32) },
    secrets: { bootstraptoken: `${randomBytes(3).toString("hex")}.${randomBytes(8).toString("hex")}`, secretboxencryptionsecret: r(32) },
    trustdinfo: { token: `${randomBytes(3).toString("hex")}.${randomBytes(8).toString("hex")}` },
    certs: {
      etcd: { crt: pem("CERTIFICATE"), key: pem("EC PRIVATE KEY") },
      k8s: { crt: pem("CERTIFICATE"), key: pem("EC PRIVATE KEY") },
      k8saggregator: { crt: pem("CERTIFICATE"), key: pem("EC PRIVATE KEY") },
      k8sserviceaccount: { key: pem("EC PRIVATE KEY") },
      os: { crt: osCa, key: pem("ED25519 PRIVATE KEY") },
    },
  };
}
