/**
 * The talosctl stand-in: the commands of ../shared/reference/talos.md with their output formats and error texts,
 * over the TalosSim state machine. Connection rules as on real nodes: a talosconfig (TALOSCONFIG / --talosconfig)
 * whose CA the nodes trust, endpoints as proxies, `--insecure` only for (and required by) maintenance mode.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import {
  CERTIFICATE_REQUIRED,
  SnapshotError,
  TalosError,
  type TalosMachine,
  type TalosSim,
  X509_UNKNOWN_AUTHORITY,
  type AppliedConfig,
  type SnapshotPayload,
  decodeSnapshot,
  encodeSnapshot,
  parseInstallerImage,
  unreachableError,
} from "../talos.ts";
import {
  type TalosResource,
  goDurationString,
  goQuoteList,
  humanizeBytes,
  multiError,
  renderJsonStream,
  renderResourceTable,
  renderYamlStream,
  tabwrite,
} from "../talos-format.ts";
import { parseGoDuration, sleepMs } from "../timing.ts";
import { type FlagSpec, FlagParseError, type ToolCall, type ToolResult, fail, ok, parsePflags, resolveIn } from "../tools.ts";

/** What the talosctl stand-in needs from the simulated cluster. */
export interface TalosctlHost {
  talos: TalosSim;
  /** version of the talosctl binary being simulated (default: the repo's Talos version) */
  clientVersion: string;
  /** the talosconfig CA the sim's own talosconfig carries */
  talosCa: string;
  /** the admin kubeconfig, once etcd is bootstrapped */
  kubeconfig(): string | undefined;
  /** the Kubernetes view of a node */
  k8sNode(hostname: string): { ready: boolean; schedulable: boolean } | undefined;
  /** CNI pods are running (CoreDNS can become ready) */
  cniReady(): boolean;
  /** the cluster's current Kubernetes version (vX.Y.Z) */
  kubernetesVersion(): string;
  setKubernetesVersion(v: string): void;
  /** the user volumes of the machine config (names) */
  userVolumes: string[];
}

const GLOBAL_FLAGS: FlagSpec[] = [
  { name: "talosconfig", type: "string" },
  { name: "nodes", short: "n", type: "strings" },
  { name: "endpoints", short: "e", type: "strings" },
  { name: "context", type: "string" },
  { name: "cluster", type: "string" },
  { name: "help", short: "h", type: "bool" },
];

/** Kubernetes versions Talos 1.10 supports. */
const K8S_SUPPORTED = { min: [1, 28], max: [1, 33] } as const;

type Ctx = {
  call: ToolCall;
  host: TalosctlHost;
  flags: Record<string, string | boolean | string[]>;
  args: string[];
  command: string;
};

class TopLevelError extends Error {}

export function talosctlHandler(host: TalosctlHost) {
  return async (call: ToolCall): Promise<ToolResult> => {
    const argv = call.argv;
    // the command is the first positional that is not a flag value; talosctl takes global flags anywhere
    const { command, sub, rest } = splitCommand(argv);
    if (!command || command === "help" || argv.includes("--help") || argv.includes("-h"))
      return ok(usage(command ?? ""));
    const spec = COMMANDS[command];
    if (!spec) return fail(`unknown command "${command}" for "talosctl"\nRun 'talosctl --help' for usage.`);
    let parsed;
    try {
      parsed = parsePflags(rest, [...GLOBAL_FLAGS, ...(spec.flags ?? [])]);
    } catch (e) {
      if (e instanceof FlagParseError) return fail(`${e.message}\n\n${usage(command)}`);
      throw e;
    }
    const ctx: Ctx = { call, host, flags: parsed.flags, args: sub ? [sub, ...parsed.positionals] : parsed.positionals, command };
    try {
      return await spec.run(ctx);
    } catch (e) {
      if (e instanceof TopLevelError) return fail(e.message);
      if (e instanceof TalosError) return fail(e.message);
      throw e;
    }
  };
}

function splitCommand(argv: string[]): { command?: string; sub?: string; rest: string[] } {
  const valued = new Set(["--talosconfig", "--nodes", "-n", "--endpoints", "-e", "--context", "--cluster"]);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (valued.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith("-")) continue;
    const rest = [...argv.slice(0, i), ...argv.slice(i + 1)];
    if (a === "etcd" || a === "config") {
      // sub-command: the next positional
      for (let j = 0; j < rest.length; j++) {
        const b = rest[j]!;
        if (valued.has(b)) {
          j++;
          continue;
        }
        if (b.startsWith("-")) continue;
        return { command: `${a} ${b}`, rest: [...rest.slice(0, j), ...rest.slice(j + 1)] };
      }
      return { command: a, rest };
    }
    return { command: a, rest };
  }
  return { rest: argv };
}

function usage(command: string): string {
  return `Usage:\n  talosctl ${command || "[command]"} [flags]\n\nUse "talosctl ${command ? command + " " : ""}--help" for more information.\n`;
}

// ---------------------------------------------------------------------------------------------------------------
// Connections

interface Talosconfig {
  endpoints: string[];
  nodes: string[];
  ca?: string;
}

function readTalosconfig(ctx: Ctx): Talosconfig {
  const env = ctx.call.env;
  const file =
    (ctx.flags.talosconfig as string | undefined) ??
    env.TALOSCONFIG ??
    (env.HOME ? path.join(env.HOME, ".talos", "config") : "/root/.talos/config");
  const p = resolveIn(ctx.call, file);
  if (!existsSync(p)) throw new TopLevelError(`failed to determine endpoints: open ${p}: no such file or directory`);
  let cfg: any;
  try {
    cfg = parseYaml(readFileSync(p, "utf8"));
  } catch (e) {
    throw new TopLevelError(`failed to parse config: ${(e as Error).message.split("\n")[0]}`);
  }
  const name = (ctx.flags.context as string | undefined) ?? cfg?.context;
  const c = cfg?.contexts?.[name];
  if (!c) throw new TopLevelError(`context "${name ?? ""}" is not defined`);
  return {
    endpoints: Array.isArray(c.endpoints) ? c.endpoints.map(String) : [],
    nodes: Array.isArray(c.nodes) ? c.nodes.map(String) : [],
    ...(c.ca ? { ca: String(c.ca) } : {}),
  };
}

interface Targets {
  nodes: string[];
  insecure: boolean;
}

/**
 * Works out which nodes a command goes to and whether the connection itself works: with --insecure straight to
 * each node; otherwise through the first reachable endpoint, which must trust the talosconfig's CA.
 */
function connect(ctx: Ctx, opts: { insecure?: boolean } = {}): Targets {
  const talos = ctx.host.talos;
  const flagNodes = (ctx.flags.nodes as string[] | undefined) ?? [];
  const flagEndpoints = (ctx.flags.endpoints as string[] | undefined) ?? [];
  if (opts.insecure) {
    const nodes = flagNodes.length ? flagNodes : flagEndpoints;
    if (nodes.length === 0)
      throw new TopLevelError(
        "nodes are not set for the command: please use `--nodes` flag or configuration file to set the nodes to run the command against",
      );
    return { nodes, insecure: true };
  }
  const cfg = readTalosconfig(ctx);
  const endpoints = flagEndpoints.length ? flagEndpoints : cfg.endpoints;
  if (endpoints.length === 0) throw new TopLevelError("failed to determine endpoints");
  const nodes = flagNodes.length ? flagNodes : cfg.nodes.length ? cfg.nodes : [endpoints[0]!];
  let chosen: TalosMachine | undefined;
  for (const ep of endpoints) {
    const host = ep.replace(/^https?:\/\//, "").replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
    const m = talos.machine(host) ?? vipHolder(talos, host);
    if (m && talos.reachable(m) && m.stage !== "booting") {
      chosen = m;
      break;
    }
  }
  if (!chosen) throw new TopLevelError(unreachableError(stripPort(endpoints[0]!)).message);
  if (!chosen.configured) throw new TopLevelError(new TalosError("Unavailable", X509_UNKNOWN_AUTHORITY).message);
  if (chosen.config?.ca && cfg.ca && chosen.config.ca !== cfg.ca)
    throw new TopLevelError(new TalosError("Unavailable", X509_UNKNOWN_AUTHORITY).message);
  return { nodes, insecure: false };
}

function stripPort(ep: string): string {
  return ep.replace(/^https?:\/\//, "").replace(/:\d+$/, "");
}

/** The Talos shared VIP answers on the etcd leader (Talos elects the VIP owner through etcd). */
function vipHolder(talos: TalosSim, ip: string): TalosMachine | undefined {
  const vip = /https?:\/\/\[?([^\]/]+?)\]?:\d+/.exec(talos.topology.endpoint)?.[1];
  if (ip !== vip) return undefined;
  return talos.leader ? talos.machine(talos.leader) : undefined;
}

/**
 * Checks that one target answers for this kind of call and returns its machine; throws the per-node TalosError.
 * `maintenanceOk`: the call is one a maintenance-mode node serves (with --insecure).
 */
function reach(ctx: Ctx, t: Targets, node: string, opts: { maintenanceOk?: boolean } = {}): TalosMachine {
  const talos = ctx.host.talos;
  const m = talos.machine(node);
  if (!m || !talos.reachable(m) || m.stage === "booting") throw unreachableError(node);
  if (t.insecure) {
    if (!m.inMaintenance) throw new TalosError("Unavailable", CERTIFICATE_REQUIRED);
    if (!opts.maintenanceOk) throw new TalosError("Unimplemented", "API is not implemented in maintenance mode");
    return m;
  }
  if (!m.configured) throw new TalosError("Unavailable", X509_UNKNOWN_AUTHORITY);
  return m;
}

/** Runs fn per node; successful outputs concatenated, failures collected into talosctl's multi-error block. */
async function perNode(
  ctx: Ctx,
  t: Targets,
  fn: (node: string) => Promise<string> | string,
  errPrefix = "",
): Promise<ToolResult> {
  let stdout = "";
  const errs: string[] = [];
  for (const node of t.nodes) {
    try {
      stdout += await fn(node);
    } catch (e) {
      if (e instanceof TalosError) errs.push(`${node}: ${e.message}`);
      else if (e instanceof NodeFailure) errs.push(`${node}: ${e.message}`);
      else throw e;
    }
  }
  if (errs.length) return fail(errPrefix + multiError(errs), 1, stdout);
  return ok(stdout);
}

class NodeFailure extends Error {}

function singleNode(ctx: Ctx, t: Targets, name: string): string {
  if (t.nodes.length > 1) throw new TopLevelError(`command "${name}" is not supported with multiple nodes\n\n${usage(name)}`);
  return t.nodes[0]!;
}

function bool(ctx: Ctx, name: string, dflt: boolean): boolean {
  const v = ctx.flags[name];
  return typeof v === "boolean" ? v : dflt;
}

function str(ctx: Ctx, name: string): string | undefined {
  const v = ctx.flags[name];
  return typeof v === "string" ? v : undefined;
}

/** A duration flag, scaled like every simulated delay (never below 50 ms of real time while anything is pending). */
function scaledDuration(ctx: Ctx, name: string, dflt: string): number {
  const text = str(ctx, name) ?? dflt;
  const ms = parseGoDuration(text);
  if (ms === null) throw new TopLevelError(`invalid argument "${text}" for "--${name}" flag: time: invalid duration "${text}"`);
  return Math.max(50, ctx.host.talos.timing.ms(ms));
}

/** Polls cond every few ms until true or the (scaled) deadline. */
async function waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (cond()) return true;
    if (Date.now() >= deadline) return false;
    await sleepMs(Math.min(10, Math.max(1, deadline - Date.now())));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Commands

type Command = { flags?: FlagSpec[]; run(ctx: Ctx): Promise<ToolResult> | ToolResult };

const insecureFlag: FlagSpec = { name: "insecure", short: "i", type: "bool" };
const waitFlags: FlagSpec[] = [
  { name: "wait", type: "bool" },
  { name: "timeout", type: "string" },
  { name: "debug", type: "bool" },
];

const COMMANDS: Record<string, Command> = {
  version: {
    flags: [{ name: "client", type: "bool" }, { name: "short", type: "bool" }, insecureFlag],
    async run(ctx) {
      const client = ctx.host.clientVersion;
      const short = bool(ctx, "short", false);
      let out = short ? `Client:\nTalos ${client}\n` : `Client:\n${versionBlock(client)}`;
      if (bool(ctx, "client", false)) return ok(out);
      const t = connect(ctx, { insecure: bool(ctx, "insecure", false) });
      let warnings = "";
      const res = await perNode(ctx, t, (node) => {
        const m = reach(ctx, t, node);
        if (compareVersions(m.version, client) < 0)
          warnings += `WARNING: ${node}: server version ${m.version.replace(/^v/, "")} is older than client version ${client.replace(/^v/, "")}\n`;
        return `Server:\n\tNODE:        ${node}\n${versionBlock(m.version)}\tEnabled:     RBAC\n`;
      });
      return { ...res, stdout: out + res.stdout, stderr: warnings + res.stderr };
    },
  },

  "apply-config": {
    flags: [
      insecureFlag,
      { name: "file", short: "f", type: "string" },
      { name: "mode", short: "m", type: "string" },
      { name: "dry-run", type: "bool" },
      { name: "config-patch", short: "p", type: "strings" },
      { name: "timeout", type: "string" },
      { name: "cert-fingerprint", type: "strings" },
    ],
    run: applyConfig,
  },

  bootstrap: {
    flags: [
      { name: "recover-from", type: "string" },
      { name: "recover-skip-hash-check", type: "bool" },
    ],
    async run(ctx) {
      const t = connect(ctx);
      const node = singleNode(ctx, t, "bootstrap");
      const talos = ctx.host.talos;
      let snapshot: SnapshotPayload | undefined;
      const from = str(ctx, "recover-from");
      if (from) {
        const p = resolveIn(ctx.call, from);
        if (!existsSync(p)) throw new TopLevelError(`open ${from}: no such file or directory`);
        try {
          snapshot = decodeSnapshot(readFileSync(p), { skipHashCheck: bool(ctx, "recover-skip-hash-check", false) });
        } catch (e) {
          if (e instanceof SnapshotError)
            return fail(`error uploading snapshot: ${multiError([`${node}: rpc error: code = Unknown desc = ${e.message}`])}`);
          throw e;
        }
      }
      return perNode(
        ctx,
        t,
        (n) => {
          const m = reach(ctx, t, n);
          if (!m.controlPlane) throw new TalosError("FailedPrecondition", "bootstrap can only be performed on a control plane node");
          if (m.etcdData || m.bootstrapping || (talos.bootstrapped && talos.hasQuorum()))
            throw new TalosError("AlreadyExists", "etcd data directory is not empty");
          const fault = talos.faults.takeBootstrapFault();
          if (fault === "not-available-yet") throw new TalosError("FailedPrecondition", "bootstrap is not available yet");
          if (fault === "time-not-in-sync") throw new TalosError("FailedPrecondition", "time is not in sync yet");
          if (!m.running || m.etcdService !== "Preparing") throw new TalosError("FailedPrecondition", "bootstrap is not available yet");
          talos.bootstrap(m, snapshot);
          return "";
        },
        "error executing bootstrap: ",
      );
    },
  },

  reboot: {
    flags: [...waitFlags, { name: "mode", short: "m", type: "string" }],
    async run(ctx) {
      const t = connect(ctx);
      const talos = ctx.host.talos;
      const wait = bool(ctx, "wait", true);
      const started = new Map<string, number>();
      const res = await perNode(ctx, t, (node) => {
        const m = reach(ctx, t, node);
        started.set(node, m.bootedAt);
        talos.reboot(m);
        return "";
      });
      if (res.exitCode !== 0 || !wait) return res;
      return waitBack(ctx, [...started.keys()], (m) => m.bootedAt !== started.get(m.ip) && m.bootedAt !== started.get(m.hostname));
    },
  },

  shutdown: {
    flags: [...waitFlags, { name: "force", type: "bool" }],
    async run(ctx) {
      const t = connect(ctx);
      return perNode(ctx, t, (node) => {
        const m = reach(ctx, t, node);
        ctx.host.talos.shutdown(m);
        return "";
      });
    },
  },

  upgrade: {
    flags: [
      ...waitFlags,
      insecureFlag,
      { name: "image", type: "string" },
      { name: "preserve", short: "p", type: "bool" },
      { name: "stage", short: "s", type: "bool" },
      { name: "force", short: "f", type: "bool" },
      { name: "reboot-mode", type: "string" },
    ],
    async run(ctx) {
      const insecure = bool(ctx, "insecure", false);
      const t = connect(ctx, { insecure });
      const talos = ctx.host.talos;
      const image = str(ctx, "image") ?? `ghcr.io/siderolabs/installer:${ctx.host.clientVersion}`;
      const wait = bool(ctx, "wait", true);
      const force = bool(ctx, "force", false);
      const timeoutMs = scaledDuration(ctx, "timeout", "30m");
      const started = new Map<string, number>();
      const rows: string[][] = [["NODE", "ACK", "STARTED"]];
      const res = await perNode(ctx, t, async (node) => {
        const m = reach(ctx, t, node);
        if (m.controlPlane && !force) {
          const count = talos.members.size;
          if (count < 3 && !bool(ctx, "preserve", false) && talos.members.has(m.hostname))
            throw new TalosError(
              "FailedPrecondition",
              `etcd member count(${count}) is insufficient to maintain quorum if upgrade commences`,
            );
          for (const mem of talos.members.values()) {
            const o = talos.machine(mem.hostname);
            if (!o || !o.up || o.etcdService !== "Running")
              throw new TalosError(
                "FailedPrecondition",
                `etcd member ${mem.id} is not healthy; all members must be healthy to perform an upgrade: context deadline exceeded`,
              );
          }
        }
        // the upgrade mutex: one node at a time, the next waits for the lock
        if (!(await waitFor(() => talos.upgradeHolder(m) === undefined, timeoutMs)))
          throw new TalosError("DeadlineExceeded", "failed to acquire upgrade lock: context deadline exceeded");
        started.set(node, m.bootedAt);
        talos.upgrade(m, image);
        rows.push([node, "Upgrade request received", new Date().toISOString()]);
        return "";
      });
      if (res.exitCode !== 0) return res;
      if (!wait) return ok(tabwrite(rows));
      return waitBack(ctx, [...started.keys()], (m) => !m.upgrading && m.bootedAt !== started.get(m.ip) && m.running, "30m");
    },
  },

  "upgrade-k8s": {
    flags: [
      { name: "to", type: "string" },
      { name: "from", type: "string" },
      { name: "dry-run", type: "bool" },
      { name: "endpoint", type: "string" },
      { name: "upgrade-kubelet", type: "bool" },
      { name: "pre-pull-images", type: "bool" },
    ],
    async run(ctx) {
      const t = connect(ctx);
      const node = singleNode(ctx, t, "upgrade-k8s");
      reachOrTop(ctx, t, node);
      const talos = ctx.host.talos;
      if (!talos.apiAvailable()) throw new TopLevelError("error getting kubernetes client: the Kubernetes API is not available");
      const from = (str(ctx, "from") ?? ctx.host.kubernetesVersion()).replace(/^v/, "");
      const to = (str(ctx, "to") ?? from).replace(/^v/, "");
      const [fMaj, fMin] = from.split(".").map(Number) as [number, number];
      const [tMaj, tMin] = to.split(".").map(Number) as [number, number];
      const talosV = talos.machines.find((m) => m.configured)?.version ?? ctx.host.clientVersion;
      if (tMaj < K8S_SUPPORTED.min[0] || (tMaj === K8S_SUPPORTED.min[0] && tMin < K8S_SUPPORTED.min[1]))
        throw new TopLevelError(`version of Kubernetes ${to} is too old to be used with Talos ${talosV.replace(/^v/, "")}`);
      if (tMaj > K8S_SUPPORTED.max[0] || (tMaj === K8S_SUPPORTED.max[0] && tMin > K8S_SUPPORTED.max[1]))
        throw new TopLevelError(`version of Kubernetes ${to} is too new to be used with Talos ${talosV.replace(/^v/, "")}`);
      if (fMaj !== tMaj || tMin < fMin || tMin - fMin > 1)
        throw new TopLevelError(`unsupported upgrade path ${fMaj}.${fMin}->${tMaj}.${tMin} (from "${from}" to "${to}")`);
      const cps = talos.machines.filter((m) => m.configured && m.controlPlane).map((m) => m.ip);
      const workers = talos.machines.filter((m) => m.configured && !m.controlPlane).map((m) => m.ip);
      const lines: string[] = [
        `automatically detected the lowest Kubernetes version ${from}`,
        `discovered controlplane nodes ${goQuoteList(cps)}`,
        `discovered worker nodes ${goQuoteList(workers)}`,
        `checking for removed Kubernetes component flags`,
        `checking for removed Kubernetes API resource versions`,
      ];
      const dry = bool(ctx, "dry-run", false);
      for (const comp of ["kube-apiserver", "kube-controller-manager", "kube-scheduler"]) {
        lines.push(`updating "${comp}" to version "${to}"`);
        for (const ip of cps) {
          lines.push(` > "${ip}": starting update`, ` > update ${comp}: v${from} -> ${to}`);
          if (dry) lines.push(` > skipped in dry-run`);
          else lines.push(` > "${ip}": machine configuration patched`, ` > "${ip}": waiting for ${comp} pod update`, ` < "${ip}": successfully updated`);
        }
      }
      lines.push(`updating kubelet to version "${to}"`);
      for (const ip of [...cps, ...workers]) {
        lines.push(` > "${ip}": starting update`, ` > update kubelet: ${from} -> ${to}`);
        if (dry) lines.push(` > skipped in dry-run`);
        else lines.push(` > "${ip}": machine configuration patched`, ` > "${ip}": waiting for kubelet restart`, ` > "${ip}": waiting for node update`, ` < "${ip}": successfully updated`);
      }
      lines.push("updating manifests");
      if (!dry) ctx.host.setKubernetesVersion(`v${to}`);
      return ok(lines.join("\n") + "\n");
    },
  },

  reset: {
    flags: [
      ...waitFlags,
      insecureFlag,
      { name: "graceful", type: "bool" },
      { name: "reboot", type: "bool" },
      { name: "system-labels-to-wipe", type: "strings" },
      { name: "user-disks-to-wipe", type: "strings" },
      { name: "wipe-mode", type: "string" },
    ],
    async run(ctx) {
      const insecure = bool(ctx, "insecure", false);
      const t = connect(ctx, { insecure });
      const talos = ctx.host.talos;
      const labels = (ctx.flags["system-labels-to-wipe"] as string[] | undefined) ?? [];
      for (const l of labels)
        if (l !== "STATE" && l !== "EPHEMERAL")
          throw new TopLevelError(`rpc error: code = InvalidArgument desc = failed to reset: volume "${l}" not found`);
      const wipe = labels.length ? (labels as Array<"STATE" | "EPHEMERAL">) : ("all" as const);
      const reboot = bool(ctx, "reboot", false);
      const graceful = bool(ctx, "graceful", true);
      const wait = bool(ctx, "wait", true);
      const res = await perNode(ctx, t, (node) => {
        const m = reach(ctx, t, node);
        talos.reset(m, { graceful, reboot, wipe });
        return "";
      });
      if (res.exitCode !== 0 || !wait) return res;
      const nodes = t.nodes;
      if (!reboot) return waitBack(ctx, nodes, (m) => !m.up, "30m");
      return waitBack(ctx, nodes, (m) => m.up && (m.stage === "maintenance" || m.stage === "running"), "30m");
    },
  },

  "etcd members": {
    async run(ctx) {
      const t = connect(ctx);
      const talos = ctx.host.talos;
      const rows: string[][] = [["NODE", "ID", "HOSTNAME", "PEER URLS", "CLIENT URLS", "LEARNER"]];
      const res = await perNode(ctx, t, (node) => {
        etcdNode(ctx, t, node);
        for (const mem of talos.members.values())
          rows.push([node, mem.id, mem.hostname, `https://${urlHost(mem.ip)}:2380`, `https://${urlHost(mem.ip)}:2379`, String(mem.learner)]);
        return "";
      }, "error getting members: ");
      return { ...res, stdout: rows.length > 1 ? tabwrite(rows) : "" };
    },
  },

  "etcd status": {
    async run(ctx) {
      const t = connect(ctx);
      const talos = ctx.host.talos;
      const rows: string[][] = [
        ["NODE", "MEMBER", "DB SIZE", "IN USE", "LEADER", "RAFT INDEX", "RAFT TERM", "RAFT APPLIED INDEX", "LEARNER", "ERRORS"],
      ];
      const res = await perNode(ctx, t, (node) => {
        const m = etcdNode(ctx, t, node);
        const mem = talos.members.get(m.hostname);
        if (!mem) throw new TalosError("Unknown", "etcdserver: member not found");
        const db = talos.dbSize();
        const inUse = Math.round(db * 0.46);
        const leader = talos.leader ? talos.members.get(talos.leader)?.id ?? "0000000000000000" : "0000000000000000";
        const raft = talos.raftIndex();
        rows.push([
          node,
          mem.id,
          humanizeBytes(db),
          `${humanizeBytes(inUse)} (${((inUse / db) * 100).toFixed(2)}%)`,
          leader,
          String(raft),
          String(talos.raftTerm),
          String(raft),
          String(mem.learner),
          talos.hasQuorum() ? "" : "etcdserver: no leader",
        ]);
        return "";
      }, "error getting status: ");
      return { ...res, stdout: rows.length > 1 ? tabwrite(rows) : "" };
    },
  },

  "etcd snapshot": {
    async run(ctx) {
      const t = connect(ctx);
      const node = singleNode(ctx, t, "etcd snapshot");
      const dbPath = ctx.args[0];
      if (!dbPath || ctx.args.length !== 1)
        throw new TopLevelError(`accepts 1 arg(s), received ${ctx.args.length}\n\n${usage("etcd snapshot <path>")}`);
      const talos = ctx.host.talos;
      etcdNode(ctx, t, node);
      const p = resolveIn(ctx.call, dbPath);
      const part = p + ".part";
      const { bytes, hash } = encodeSnapshot(talos.snapshot());
      try {
        writeFileSync(part, bytes, { mode: 0o600 });
      } catch (e) {
        throw new TopLevelError(`error creating temporary file: ${(e as Error).message.replace(/^[A-Z]+: /, "")}`);
      }
      renameSync(part, p);
      const payload = talos.snapshot();
      return ok(
        `etcd snapshot saved to ${JSON.stringify(dbPath)} (${bytes.length} bytes)\n` +
          `snapshot info: hash ${hash.toString(16).padStart(8, "0")}, revision ${payload.revision}, total keys ${payload.keys}, total size ${bytes.length}\n`,
      );
    },
  },

  "etcd leave": {
    async run(ctx) {
      const t = connect(ctx);
      return perNode(ctx, t, (node) => {
        const m = etcdNode(ctx, t, node);
        ctx.host.talos.leaveEtcd(m);
        return "";
      });
    },
  },

  "etcd remove-member": {
    async run(ctx) {
      const t = connect(ctx);
      const who = ctx.args[0];
      if (!who) throw new TopLevelError(`accepts 1 arg(s), received 0\n\n${usage("etcd remove-member <hostname>")}`);
      const talos = ctx.host.talos;
      return perNode(ctx, t, (node) => {
        etcdNode(ctx, t, node);
        const mem = [...talos.members.values()].find((x) => x.hostname === who || x.id === who);
        if (!mem) throw new TalosError("Unknown", `failed to remove member: etcd member "${who}" not found`);
        talos.members.delete(mem.hostname);
        talos.record("etcd-leave", talos.machine(mem.hostname), "removed");
        return "";
      });
    },
  },

  "etcd forfeit-leadership": {
    async run(ctx) {
      const t = connect(ctx);
      return perNode(ctx, t, (node) => {
        etcdNode(ctx, t, node);
        return "";
      });
    },
  },

  health: {
    flags: [
      { name: "wait-timeout", type: "string" },
      { name: "server", type: "bool" },
      { name: "control-plane-nodes", type: "strings" },
      { name: "worker-nodes", type: "strings" },
      { name: "init-node", type: "string" },
      { name: "k8s-endpoint", type: "string" },
      { name: "run-e2e", type: "bool" },
    ],
    run: health,
  },

  get: {
    flags: [
      insecureFlag,
      { name: "output", short: "o", type: "string" },
      { name: "namespace", type: "string" },
      { name: "watch", short: "w", type: "bool" },
    ],
    run: getResources,
  },

  service: { flags: [], run: services },
  services: { flags: [], run: services },

  kubeconfig: {
    flags: [
      { name: "force", short: "f", type: "bool" },
      { name: "merge", short: "m", type: "bool" },
      { name: "force-context-name", type: "string" },
    ],
    async run(ctx) {
      const t = connect(ctx);
      const node = singleNode(ctx, t, "kubeconfig");
      const res = await perNode(ctx, t, (n) => {
        reach(ctx, t, n);
        return "";
      });
      if (res.exitCode !== 0) return res;
      const text = ctx.host.kubeconfig();
      if (!text)
        return fail(`error copying: ${multiError([`${node}: rpc error: code = Unknown desc = kubeconfig is not available yet: the cluster has not been bootstrapped`])}`);
      const arg = ctx.args[0];
      let dest = arg ? resolveIn(ctx.call, arg) : path.join(ctx.call.env.HOME ?? "/root", ".kube", "config");
      if (existsSync(dest) && statSync(dest).isDirectory()) dest = path.join(dest, "kubeconfig");
      if (arg === "-") return ok(text);
      mkdirSync(path.dirname(dest), { recursive: true });
      writeFileSync(dest, text, { mode: 0o600 });
      return ok();
    },
  },

  read: {
    async run(ctx) {
      const file = ctx.args[0];
      if (!file || ctx.args.length > 1)
        throw new TopLevelError(`accepts 1 arg(s), received ${ctx.args.length}\n\n${usage("read <path>")}`);
      const t = connect(ctx);
      return perNode(ctx, t, (node) => {
        const m = reach(ctx, t, node);
        const text = readMachineFile(m, file);
        if (text === undefined) throw new TalosError("Unknown", `stat ${file}: no such file or directory`);
        return text;
      });
    },
  },

  "config info": {
    async run(ctx) {
      const cfg = readTalosconfig(ctx);
      return ok(
        tabwrite([
          ["Current context:", "(simulated)"],
          ["Nodes:", cfg.nodes.join(", ") || "not defined"],
          ["Endpoints:", cfg.endpoints.join(", ")],
        ]),
      );
    },
  },
};

function reachOrTop(ctx: Ctx, t: Targets, node: string): TalosMachine {
  try {
    return reach(ctx, t, node);
  } catch (e) {
    if (e instanceof TalosError) throw new TopLevelError(multiError([`${node}: ${e.message}`]));
    throw e;
  }
}

function urlHost(ip: string): string {
  return ip.includes(":") ? `[${ip}]` : ip;
}

/** A node that can answer etcd calls: a control plane with etcd running. */
function etcdNode(ctx: Ctx, t: Targets, node: string): TalosMachine {
  const m = reach(ctx, t, node);
  if (!m.controlPlane) throw new TalosError("Unimplemented", "etcd is not running on worker nodes");
  if (m.etcdService !== "Running")
    throw new TalosError(
      "Unknown",
      "failed to create etcd client: error building etcd client TLS config: etcd service is not running",
    );
  return m;
}

function versionBlock(tag: string): string {
  return (
    `\tTag:         ${tag}\n` +
    `\tSHA:         ${shaFor(tag)}\n` +
    `\tBuilt:       \n` +
    `\tGo version:  go1.24.4\n` +
    `\tOS/Arch:     linux/amd64\n`
  );
}

function shaFor(tag: string): string {
  return Bun.hash(tag).toString(16).padStart(8, "0").slice(0, 8);
}

export function compareVersions(a: string, b: string): number {
  const pa = a.replace(/^v/, "").split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.replace(/^v/, "").split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

/** `--wait` of reboot/upgrade/reset: watches the nodes until cond holds for each or the timeout passes. */
async function waitBack(ctx: Ctx, nodes: string[], cond: (m: TalosMachine) => boolean, dflt = "30m"): Promise<ToolResult> {
  const talos = ctx.host.talos;
  const timeoutMs = scaledDuration(ctx, "timeout", dflt);
  let stderr = `watching nodes: ${goQuoteList(nodes)}\n`;
  const errs: string[] = [];
  await Promise.all(
    nodes.map(async (node) => {
      const m = talos.machine(node);
      if (!m) return;
      const okay = await waitFor(() => cond(m), timeoutMs);
      if (okay) stderr += `    * ${node}: post check passed\n`;
      else errs.push(`${node}: timeout waiting for the node to come back: context deadline exceeded`);
    }),
  );
  if (errs.length) return fail(stderr + multiError(errs));
  return ok("", stderr);
}

// ---------------------------------------------------------------------------------------------------------------
// apply-config

async function applyConfig(ctx: Ctx): Promise<ToolResult> {
  const file = str(ctx, "file");
  if (!file) throw new TopLevelError(`no filename supplied for configuration\n\n${usage("apply-config")}`);
  const p = resolveIn(ctx.call, file);
  if (!existsSync(p)) throw new TopLevelError(`open ${file}: no such file or directory`);
  const text = readFileSync(p, "utf8");
  const insecure = bool(ctx, "insecure", false);
  const mode = (str(ctx, "mode") ?? "auto") as "auto" | "no-reboot" | "reboot" | "staged" | "try";
  if (!["auto", "no-reboot", "reboot", "staged", "try"].includes(mode))
    throw new TopLevelError(`invalid argument "${mode}" for "-m, --mode" flag: valid values are auto, no-reboot, reboot, staged, try`);
  const cfg = parseMachineConfig(text);
  const t = connect(ctx, { insecure });
  const talos = ctx.host.talos;
  const dry = bool(ctx, "dry-run", false);
  return perNode(
    ctx,
    t,
    (node) => {
      const m = reach(ctx, t, node, { maintenanceOk: true });
      if (cfg instanceof TalosError) throw cfg;
      if (talos.faults.takeApplyConfigFailure(m.spec)) throw new TalosError("Unavailable", "error reading from server: EOF");
      if (m.inMaintenance && (mode === "no-reboot" || mode === "staged"))
        throw new TalosError("InvalidArgument", `apply mode "${mode}" is not supported in maintenance mode`);
      if (dry) return `Dry run summary:\nApplied configuration ${m.inMaintenance ? "with a reboot" : "without a reboot"} (skipped in dry-run).\n`;
      const result = talos.applyConfig(m, cfg, mode);
      if (result === "installed") return "";
      if (result === "staged") return "Staged configuration to be applied after a reboot\n";
      if (result === "reboot") return "Applied configuration with a reboot\n";
      return "Applied configuration without a reboot\n";
    },
    "error applying new configuration: ",
  );
}

/** Reads the v1alpha1 machine config of a (multi-document) config file. */
export function parseMachineConfig(text: string): AppliedConfig | TalosError {
  let docs: any[];
  try {
    docs = parseAllDocuments(text).map((d) => {
      if (d.errors.length) throw new Error(d.errors[0]!.message);
      return d.toJSON();
    });
  } catch (e) {
    return new TalosError("InvalidArgument", `failed to parse config: ${(e as Error).message.split("\n")[0]}`);
  }
  const main = docs.find((d) => d && typeof d === "object" && d.version === "v1alpha1");
  if (!main) return new TalosError("InvalidArgument", "failed to parse config: missing v1alpha1 machine configuration document");
  const type = main.machine?.type;
  if (type !== "controlplane" && type !== "worker" && type !== "init")
    return new TalosError("InvalidArgument", `configuration validation failed: 1 error occurred:\n\t* unknown machine type "${type ?? ""}"\n\n`);
  const problems = validateEncryption(main.machine?.systemDiskEncryption);
  if (problems.length)
    return new TalosError("InvalidArgument", `configuration validation failed: ${multiError(problems).trimEnd()}`);
  const kubelet = String(main.machine?.kubelet?.image ?? "");
  return {
    text,
    type: type === "worker" ? "worker" : "controlplane",
    ...(main.machine?.ca?.crt ? { ca: String(main.machine.ca.crt) } : {}),
    ...(main.machine?.install?.image ? { installImage: String(main.machine.install.image) } : {}),
    ...(main.machine?.network?.hostname ? { hostname: String(main.machine.network.hostname) } : {}),
    ...(/:(v[\d.]+)$/.test(kubelet) ? { kubernetesVersion: /:(v[\d.]+)$/.exec(kubelet)![1]! } : {}),
    ...(main.cluster?.clusterName ? { clusterName: String(main.cluster.clusterName) } : {}),
  };
}

/** Talos 1.10's checks of machine.systemDiskEncryption (state / ephemeral). */
function validateEncryption(enc: any): string[] {
  const out: string[] = [];
  if (!enc || typeof enc !== "object") return out;
  for (const part of ["state", "ephemeral"]) {
    const e = enc[part];
    if (!e) continue;
    const keys = Array.isArray(e.keys) ? e.keys : [];
    if (keys.length === 0) {
      out.push("no encryption keys provided");
      continue;
    }
    const slots = new Set<number>();
    for (const k of keys) {
      const slot = Number(k?.slot ?? 0);
      if (slots.has(slot)) out.push(`encryption key slot ${slot} is already in use`);
      slots.add(slot);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// health

async function health(ctx: Ctx): Promise<ToolResult> {
  const t = connect(ctx);
  const node = singleNode(ctx, t, "health");
  reachOrTop(ctx, t, node);
  const talos = ctx.host.talos;
  const host = ctx.host;
  const timeoutMs = scaledDuration(ctx, "wait-timeout", "20m");
  let stderr = "";
  const explicitCp = (ctx.flags["control-plane-nodes"] as string[] | undefined) ?? [];
  const explicitW = (ctx.flags["worker-nodes"] as string[] | undefined) ?? [];
  let cps: TalosMachine[];
  let workers: TalosMachine[];
  if (explicitCp.length || explicitW.length) {
    cps = explicitCp.map((n) => talos.machine(n)).filter((m): m is TalosMachine => !!m);
    workers = explicitW.map((n) => talos.machine(n)).filter((m): m is TalosMachine => !!m);
  } else {
    const known = talos.machines.filter((m) => m.configured);
    cps = known.filter((m) => m.controlPlane);
    workers = known.filter((m) => !m.controlPlane);
    stderr += `discovered nodes: ${goQuoteList([...cps, ...workers].map((m) => m.ip))}\n`;
  }
  const all = [...cps, ...workers];
  const check = (name: string, fn: () => string | null | "SKIP") => ({ name, fn });
  const notRunning = (ms: TalosMachine[], svc: string, pred: (m: TalosMachine) => boolean) => {
    const bad = ms.filter((m) => !pred(m));
    if (!bad.length) return null;
    return multiError(bad.map((m) => `${m.ip}: ${talos.reachable(m) ? `service "${svc}" not in expected state "Running": current state [${svc === "etcd" ? m.etcdService : "Waiting"}]` : unreachableError(m.ip).message}`)).trimEnd();
  };
  const checks = [
    check("etcd to be healthy", () =>
      notRunning(cps, "etcd", (m) => talos.reachable(m) && m.etcdService === "Running" && !talos.faults.isPartitioned(m.spec)),
    ),
    check("etcd members to be consistent across nodes", () => (talos.hasQuorum() ? null : "etcd cluster has no quorum")),
    check("etcd members to be control plane nodes", () => {
      const memberIps = [...talos.members.values()].map((m) => m.ip).sort();
      const cpIps = cps.map((m) => m.ip).sort();
      return JSON.stringify(memberIps) === JSON.stringify(cpIps)
        ? null
        : `etcd member ips ${goQuoteList(memberIps)} are not same as control plane node ips ${goQuoteList(cpIps)}`;
    }),
    check("apid to be ready", () => {
      const bad = all.filter((m) => !talos.reachable(m) || m.stage === "booting");
      return bad.length ? multiError(bad.map((m) => `${m.ip}: ${unreachableError(m.ip).message}`)).trimEnd() : null;
    }),
    check("all nodes memory sizes", () => null),
    check("all nodes disk sizes", () => null),
    check("no diagnostics", () => null),
    check("kubelet to be healthy", () => notRunning(all, "kubelet", (m) => m.up && m.kubeletRunning)),
    check("all nodes to finish boot sequence", () => {
      const bad = all.find((m) => !m.running);
      return bad ? `node ${bad.ip} is not in "running" stage: "${bad.up ? bad.stage : "unknown"}"` : null;
    }),
    check("all k8s nodes to report", () => {
      if (!talos.apiAvailable()) return "error getting nodes: the Kubernetes API is not available";
      const missing = all.filter((m) => !host.k8sNode(m.hostname));
      return missing.length ? `some nodes are not reported: ${goQuoteList(missing.map((m) => m.ip))}` : null;
    }),
    check("all control plane static pods to be running", () => (talos.apiAvailable() ? null : "error getting pods: the Kubernetes API is not available")),
    check("all control plane components to be ready", () => (talos.apiAvailable() ? null : "error getting pods: the Kubernetes API is not available")),
    check("all k8s nodes to report ready", () => {
      const bad = all.filter((m) => !host.k8sNode(m.hostname)?.ready);
      return bad.length ? `some nodes are not ready: ${goQuoteList(bad.map((m) => m.hostname))}` : null;
    }),
    check("kube-proxy to report ready", () => "SKIP"),
    check("coredns to report ready", () => (host.cniReady() ? null : "coredns is not ready: 0/2 pods ready")),
    check("all k8s nodes to report schedulable", () => {
      const bad = all.filter((m) => host.k8sNode(m.hostname)?.schedulable === false);
      return bad.length ? `some nodes are not schedulable: ${goQuoteList(bad.map((m) => m.hostname))}` : null;
    }),
  ];
  const deadline = Date.now() + timeoutMs;
  for (const c of checks) {
    stderr += `waiting for ${c.name}: ...\n`;
    let last: string | null | "SKIP" = c.fn();
    let shown: string | null = null;
    while (last !== null && last !== "SKIP") {
      if (last !== shown) {
        stderr += `waiting for ${c.name}: ${last}\n`;
        shown = last;
      }
      if (Date.now() >= deadline) return fail(`${stderr}healthcheck error: ${last.split("\n").join("\n")}`);
      await sleepMs(5);
      last = c.fn();
    }
    stderr += `waiting for ${c.name}: ${last === "SKIP" ? "SKIP" : "OK"}\n`;
  }
  return ok("", stderr);
}

// ---------------------------------------------------------------------------------------------------------------
// get

interface ResourceDef {
  aliases: string[];
  namespace: string;
  type: string;
  shortType: string;
  owner: string;
  maintenance: boolean;
  columns: Array<{ name: string; value: (spec: any) => string }>;
  list(m: TalosMachine, host: TalosctlHost): Array<{ id: string; spec: unknown; version?: number }>;
}

const DISKS = (m: TalosMachine) => [
  {
    id: "nvme0n1",
    spec: {
      dev_path: "/dev/nvme0n1",
      size: 251000193024,
      pretty_size: "251 GB",
      io_size: 4096,
      sector_size: 4096,
      readonly: false,
      cdrom: false,
      model: "APPLE SSD AP0256M",
      serial: `C0${Bun.hash(m.hostname).toString(16).slice(0, 10).toUpperCase()}`,
      wwid: `eui.${Bun.hash(m.hostname + "nvme").toString(16).padStart(16, "0")}`,
      bus_path: "/pci0000:00/0000:00:1d.4/0000:02:00.0/nvme",
      sub_system: "/sys/class/block",
      transport: "nvme",
      rotational: false,
      symlinks: ["/dev/disk/by-id/nvme-APPLE_SSD_AP0256M"],
    },
  },
  {
    id: "sda",
    spec: {
      dev_path: "/dev/sda",
      size: 1000204886016,
      pretty_size: "1.0 TB",
      io_size: 512,
      sector_size: 512,
      readonly: false,
      cdrom: false,
      model: "Portable SSD T5",
      serial: `S4${Bun.hash(m.hostname + "usb").toString(16).slice(0, 10).toUpperCase()}`,
      wwid: `naa.5000000${Bun.hash(m.hostname + "sda").toString(16).padStart(9, "0").slice(0, 9)}`,
      bus_path: "/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host0/target0:0:0/0:0:0:0",
      sub_system: "/sys/class/block",
      transport: "usb",
      rotational: false,
      symlinks: ["/dev/disk/by-id/usb-Samsung_Portable_SSD_T5"],
    },
  },
];

const RESOURCES: Record<string, ResourceDef> = {
  machinestatus: {
    aliases: ["machinestatus", "machinestatuses", "ms", "machinestatuses.runtime.talos.dev"],
    namespace: "runtime",
    type: "MachineStatuses.runtime.talos.dev",
    shortType: "MachineStatus",
    owner: "runtime.MachineStatusController",
    maintenance: true,
    columns: [
      { name: "STAGE", value: (s) => s.stage },
      { name: "READY", value: (s) => String(s.status.ready) },
    ],
    list(m, host) {
      const unmet: Array<{ name: string; reason: string }> = [];
      if (m.stage === "running") {
        if (m.controlPlane && m.etcdService !== "Running") unmet.push({ name: "services", reason: `some services are not healthy: etcd` });
        if (!m.kubeletRunning) unmet.push({ name: "services", reason: "some services are not healthy: kubelet" });
        const k = host.k8sNode(m.hostname);
        if (m.controlPlane && !host.talos.apiAvailable()) unmet.push({ name: "staticPods", reason: 'static pods ["kube-apiserver"] are not healthy' });
        if (!k?.ready) unmet.push({ name: "nodeReady", reason: "node is not ready" });
      } else if (m.stage === "maintenance") {
        // maintenance: waiting for a configuration
      } else unmet.push({ name: "time", reason: "time is not synced" });
      const ready = m.stage === "running" && unmet.length === 0;
      return [{ id: "machine", version: m.statusVersion, spec: { stage: m.stage, status: { ready, unmetConditions: ready ? [] : unmet } } }];
    },
  },
  members: {
    aliases: ["members", "member", "members.cluster.talos.dev"],
    namespace: "cluster",
    type: "Members.cluster.talos.dev",
    shortType: "Member",
    owner: "cluster.MemberController",
    maintenance: false,
    columns: [
      { name: "HOSTNAME", value: (s) => s.hostname },
      { name: "MACHINE TYPE", value: (s) => s.machineType },
      { name: "OS", value: (s) => s.operatingSystem },
      { name: "ADDRESSES", value: (s) => JSON.stringify(s.addresses) },
    ],
    list(_m, host) {
      return host.talos.machines
        .filter((x) => x.configured)
        .map((x) => ({
          id: x.hostname,
          spec: {
            nodeId: Bun.hash(x.hostname).toString(36),
            addresses: [x.ip, ...(x.spec.ipv6 ? [x.spec.ipv6] : [])],
            hostname: x.hostname,
            machineType: x.controlPlane ? "controlplane" : "worker",
            operatingSystem: `Talos (${x.version})`,
          },
        }));
    },
  },
  extensions: {
    aliases: ["extensions", "extension", "extensionstatus", "extensionstatuses", "extensionstatuses.runtime.talos.dev"],
    namespace: "runtime",
    type: "ExtensionStatuses.runtime.talos.dev",
    shortType: "ExtensionStatus",
    owner: "runtime.ExtensionStatusController",
    maintenance: true,
    columns: [
      { name: "NAME", value: (s) => s.metadata.name },
      { name: "VERSION", value: (s) => s.metadata.version },
    ],
    list(m) {
      const out = m.extensions.map((e, i) => {
        const name = e.split("/").pop()!;
        return {
          id: String(i),
          spec: {
            image: `${i.toString().padStart(3, "0")}-${name}.sqsh`,
            metadata: {
              name,
              version: extensionVersion(name, m.version),
              author: "Sidero Labs",
              description: `${name} system extension`,
              compatibility: { talos: { version: `>= ${m.version}` } },
            },
          },
        };
      });
      if (m.schematicId)
        out.push({
          id: String(out.length),
          spec: {
            image: "",
            metadata: {
              name: "schematic",
              version: m.schematicId,
              author: "Image Factory",
              description: "This image was built by the Image Factory (https://factory.talos.dev).",
              compatibility: { talos: { version: "" } },
            },
          },
        });
      return out;
    },
  },
  disks: {
    aliases: ["disks", "disk", "disks.block.talos.dev"],
    namespace: "runtime",
    type: "Disks.block.talos.dev",
    shortType: "Disk",
    owner: "block.DisksController",
    maintenance: true,
    columns: [
      { name: "SIZE", value: (s) => s.pretty_size },
      { name: "READ ONLY", value: (s) => String(s.readonly) },
      { name: "TRANSPORT", value: (s) => s.transport },
      { name: "ROTATIONAL", value: (s) => String(s.rotational) },
      { name: "WWID", value: (s) => s.wwid },
      { name: "MODEL", value: (s) => s.model },
      { name: "SERIAL", value: (s) => s.serial },
    ],
    list: (m) => DISKS(m),
  },
  volumestatus: {
    aliases: ["volumestatus", "volumestatuses", "vs", "volumestatuses.block.talos.dev"],
    namespace: "runtime",
    type: "VolumeStatuses.block.talos.dev",
    shortType: "VolumeStatus",
    owner: "block.VolumeManagerController",
    maintenance: true,
    columns: [
      { name: "TYPE", value: (s) => s.type },
      { name: "PHASE", value: (s) => s.phase },
      { name: "LOCATION", value: (s) => s.location },
      { name: "SIZE", value: (s) => s.prettySize },
    ],
    list(m, host) {
      const installed = m.installerImage !== undefined || m.configured;
      const vol = (id: string, location: string, size: number, pretty: string, extra: Record<string, unknown> = {}) => ({
        id,
        spec: {
          type: "partition",
          phase: installed ? "ready" : "waiting",
          location: installed ? location : "",
          mountLocation: installed ? location : "",
          size: installed ? size : 0,
          prettySize: installed ? pretty : "",
          filesystem: "xfs",
          ...extra,
        },
      });
      const out = [
        vol("META", "/dev/nvme0n1p4", 1048576, "1.0 MB", { filesystem: "talosmeta" }),
        vol("STATE", "/dev/nvme0n1p5", 104857600, "105 MB", { encryptionProvider: "luks2" }),
        vol("EPHEMERAL", "/dev/nvme0n1p6", 246805028864, "247 GB", { encryptionProvider: "luks2" }),
      ];
      if (m.configured) for (const u of host.userVolumes) out.push(vol(`u-${u}`, "/dev/sda1", 1000203837440, "1.0 TB"));
      return out;
    },
  },
  addresses: {
    aliases: ["addresses", "address", "addressstatus", "addressstatuses", "addressstatuses.net.talos.dev"],
    namespace: "network",
    type: "AddressStatuses.net.talos.dev",
    shortType: "AddressStatus",
    owner: "network.AddressStatusController",
    maintenance: true,
    columns: [
      { name: "ADDRESS", value: (s) => s.address },
      { name: "LINK", value: (s) => s.linkName },
    ],
    list(m, host) {
      const topo = host.talos.topology;
      const link = "enp3s0f0";
      const addr = (address: string, linkName: string, linkIndex: number, family: "inet4" | "inet6", scope: string) => ({
        id: `${linkName}/${address}`,
        spec: { address, local: family === "inet4" ? address : undefined, linkIndex, linkName, family, scope, flags: "permanent" },
      });
      const mac = Bun.hash(m.hostname).toString(16).padStart(12, "0").slice(0, 12);
      const ll = `fe80::${mac.slice(0, 4)}:${mac.slice(4, 8)}:${mac.slice(8, 12)}:1`.replace(/:0+([0-9a-f])/g, ":$1");
      const out = [
        addr("127.0.0.1/8", "lo", 1, "inet4", "host"),
        addr("::1/128", "lo", 1, "inet6", "host"),
        addr(`${m.ip}/${prefixLen(topo.nodeSubnetV4, 24)}`, link, 2, "inet4", "global"),
        addr(`${ll}/64`, link, 2, "inet6", "link"),
      ];
      // the static IPv6 address comes with the machine config (maintenance mode has DHCPv4 only)
      if (m.spec.ipv6 && m.configured) out.push(addr(`${m.spec.ipv6}/${prefixLen(topo.nodeSubnetV6, 64)}`, link, 2, "inet6", "global"));
      return out.map((a) => ({ id: a.id, spec: Object.fromEntries(Object.entries(a.spec).filter(([, v]) => v !== undefined)) }));
    },
  },
  kernelparamstatus: {
    aliases: ["kernelparamstatus", "kernelparamstatuses", "kps", "kernelparamstatuses.runtime.talos.dev"],
    namespace: "runtime",
    type: "KernelParamStatuses.runtime.talos.dev",
    shortType: "KernelParamStatus",
    owner: "runtime.KernelParamSpecController",
    maintenance: false,
    columns: [
      { name: "CURRENT", value: (s) => s.current },
      { name: "DEFAULT", value: (s) => s.default },
      { name: "UNSUPPORTED", value: (s) => String(s.unsupported) },
    ],
    list: (m) =>
      Object.entries(sysctlsOf(m)).map(([k, v]) => ({ id: `proc.sys.${k}`, spec: { current: v.current, default: v.default, unsupported: false } })),
  },
  mountstatus: {
    aliases: ["mountstatus", "mountstatuses", "mountstatuses.runtime.talos.dev"],
    namespace: "runtime",
    type: "MountStatuses.runtime.talos.dev",
    shortType: "MountStatus",
    owner: "block.MountController",
    maintenance: false,
    columns: [
      { name: "SOURCE", value: (s) => s.source },
      { name: "TARGET", value: (s) => s.target },
      { name: "FILESYSTEM TYPE", value: (s) => s.filesystemType },
    ],
    list(m, host) {
      const mount = (id: string, source: string, target: string, encrypted: boolean) => ({
        id,
        spec: { source, target, filesystemType: "xfs", options: ["rw", "relatime"], encrypted },
      });
      return [
        mount("STATE", "/dev/mapper/luks2-STATE", "/system/state", true),
        mount("EPHEMERAL", "/dev/mapper/luks2-EPHEMERAL", "/var", true),
        ...host.userVolumes.map((u) => mount(`u-${u}`, "/dev/sda1", `/var/mnt/${u}`, false)),
      ];
    },
  },
  nodename: {
    aliases: ["nodename", "nodenames", "nodenames.kubernetes.talos.dev"],
    namespace: "controlplane",
    type: "Nodenames.kubernetes.talos.dev",
    shortType: "Nodename",
    owner: "k8s.NodenameController",
    maintenance: false,
    columns: [{ name: "NODENAME", value: (s) => s.nodename }],
    list: (m) => [{ id: "nodename", spec: { nodename: m.hostname, hostname: m.hostname, skipNodeRegistration: false } }],
  },
};

/** The v1alpha1 document of the machine config a node runs (parsed once per config text). */
const machineDocs = new WeakMap<object, { text: string; doc: any }>();
function machineConfig(m: TalosMachine): any {
  const cfg = m.config;
  if (!cfg?.text) return {};
  const hit = machineDocs.get(cfg);
  if (hit && hit.text === cfg.text) return hit.doc;
  let doc: any = {};
  try {
    doc = parseAllDocuments(cfg.text).map((d) => d.toJS()).find((d) => d && typeof d === "object" && d.machine) ?? {};
  } catch {
    doc = {};
  }
  machineDocs.set(cfg, { text: cfg.text, doc });
  return doc;
}

/** The sysctls a running Talos node has: the machine config's machine.sysctls over a few Talos/Kubernetes defaults. */
const TALOS_DEFAULT_SYSCTLS: Record<string, string> = {
  "net.ipv4.ip_forward": "1",
  "net.ipv6.conf.all.forwarding": "1",
  "kernel.kptr_restrict": "1",
  "vm.overcommit_memory": "1",
};
function sysctlsOf(m: TalosMachine): Record<string, { current: string; default: string }> {
  const declared = (machineConfig(m).machine?.sysctls ?? {}) as Record<string, unknown>;
  const out: Record<string, { current: string; default: string }> = {};
  for (const [k, v] of Object.entries(TALOS_DEFAULT_SYSCTLS)) out[k] = { current: v, default: v };
  for (const [k, v] of Object.entries(declared)) out[k] = { current: String(v), default: out[k]?.default ?? "0" };
  return out;
}

/** The files `talosctl read` can show: the udev rules Talos writes from machine.udev.rules, /proc/sys, hostname. */
function readMachineFile(m: TalosMachine, file: string): string | undefined {
  if (file === "/usr/etc/udev/rules.d/99-talos.rules") {
    const rules = (machineConfig(m).machine?.udev?.rules ?? []) as unknown[];
    return rules.map((r) => `${String(r)}\n`).join("");
  }
  if (file === "/etc/hostname") return `${m.hostname}\n`;
  if (file.startsWith("/proc/sys/")) {
    const v = sysctlsOf(m)[file.slice("/proc/sys/".length).replace(/\//g, ".")];
    return v ? `${v.current}\n` : undefined;
  }
  return undefined;
}

function prefixLen(subnet: string | undefined, fallback: number): number {
  const n = Number(subnet?.split("/")[1]);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

function extensionVersion(name: string, talos: string): string {
  const base = { "iscsi-tools": "v0.2.0", "util-linux-tools": "2.40.4", "intel-ucode": "20250512", i915: "20250509", lldpd: "1.0.19" } as Record<string, string>;
  return `${base[name] ?? "v1.0.0"}${name === "i915" || name === "util-linux-tools" ? `-${talos}` : ""}`;
}

async function getResources(ctx: Ctx): Promise<ToolResult> {
  const typeArg = ctx.args[0];
  if (!typeArg) throw new TopLevelError(`not enough arguments: at least 1 is expected\n\n${usage("get <type> [<id>]")}`);
  const def = Object.values(RESOURCES).find((r) => r.aliases.includes(typeArg.toLowerCase()));
  if (!def) throw new TopLevelError(`error getting resource: resource type "${typeArg}" is not registered`);
  const idArg = ctx.args[1];
  const output = str(ctx, "output") ?? "table";
  if (!["table", "json", "yaml"].includes(output)) throw new TopLevelError(`unknown output format: "${output}"`);
  const insecure = bool(ctx, "insecure", false);
  const t = connect(ctx, { insecure });
  const resources: TalosResource[] = [];
  const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const res = await perNode(ctx, t, (node) => {
    const m = reach(ctx, t, node, { maintenanceOk: def.maintenance });
    const items = def.list(m, ctx.host).filter((i) => idArg === undefined || i.id === idArg);
    if (idArg !== undefined && items.length === 0)
      throw new TalosError("NotFound", `resource ${def.type}(${def.namespace}/${idArg}@undefined) doesn't exist`);
    for (const i of items)
      resources.push({
        node,
        metadata: {
          namespace: def.namespace,
          type: def.type,
          id: i.id,
          version: i.version ?? 1,
          owner: def.owner,
          phase: "running",
          created: new Date(m.bootedAt).toISOString().replace(/\.\d+Z$/, "Z"),
          updated: now,
        },
        spec: i.spec,
      });
    return "";
  });
  const body =
    output === "json"
      ? renderJsonStream(resources)
      : output === "yaml"
        ? renderYamlStream(resources)
        : renderResourceTable(resources, def.shortType, def.columns);
  return { ...res, stdout: body };
}

// ---------------------------------------------------------------------------------------------------------------
// services

const SERVICES_CP = ["apid", "containerd", "cri", "dashboard", "etcd", "kubelet", "machined", "syslogd", "trustd", "udevd"];
const SERVICES_W = ["apid", "containerd", "cri", "dashboard", "kubelet", "machined", "syslogd", "udevd"];

async function services(ctx: Ctx): Promise<ToolResult> {
  const t = connect(ctx);
  const id = ctx.args[0];
  const rows: string[][] = [["NODE", "SERVICE", "STATE", "HEALTH", "LAST CHANGE", "LAST EVENT"]];
  let detail = "";
  const res = await perNode(ctx, t, (node) => {
    const m = reach(ctx, t, node);
    const list = m.controlPlane ? SERVICES_CP : SERVICES_W;
    const state = (svc: string) =>
      svc === "etcd" ? (m.etcdService === "Waiting" ? "Waiting" : m.etcdService) : svc === "kubelet" ? (m.kubeletRunning ? "Running" : "Waiting") : "Running";
    const since = goDurationString(Date.now() - m.stageChangedAt);
    const event = (s: string) =>
      s === "Preparing" ? "Running pre state" : s === "Running" ? "Health check successful" : s === "Finished" ? "Service finished successfully" : "Waiting for service dependencies";
    if (id) {
      if (!list.includes(id)) throw new TalosError("NotFound", `service "${id}" not found`);
      const s = state(id);
      detail += tabwrite([
        ["NODE", node],
        ["ID", id],
        ["STATE", s],
        ["HEALTH", s === "Running" ? "OK" : "?"],
        ["EVENTS", `[${s}]: ${event(s)} (${since} ago)`],
      ]);
      return "";
    }
    for (const svc of list) {
      const s = state(svc);
      rows.push([node, svc, s, s === "Running" ? "OK" : "?", `${since} ago`, event(s)]);
    }
    return "";
  });
  return { ...res, stdout: id ? detail : rows.length > 1 ? tabwrite(rows) : "" };
}

COMMANDS.apply = COMMANDS["apply-config"]!;

export { RESOURCES as TALOS_RESOURCES, parseInstallerImage };
