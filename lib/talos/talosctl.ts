/**
 * Typed wrapper over talosctl. Every call goes through lib/exec (argv arrays, dry-run, redaction), reads are marked
 * read-only so they still run under --dry-run, and failures become TalosctlError with a classified kind.
 * Commands that talosctl refuses with several nodes (health, etcd snapshot, upgrade-k8s, bootstrap) take one node.
 */
import { OperationError } from "../cli/errors.ts";
import type { Exec, RunResult } from "../exec.ts";
import { parseDuration } from "./poll.ts";
import { classifyTalosError, talosErrorMeaning, talosErrorSummary, type TalosErrorKind } from "./errors.ts";
import {
  parseApplyOutput,
  parseEtcdMembers,
  parseEtcdStatus,
  parseExtensions,
  parseHealth,
  parseMachineStatus,
  parseMembers,
  parseServiceDetail,
  parseSnapshotOutput,
  parseVersionOutput,
  type ApplyOutcome,
  type ClusterMember,
  type EtcdMember,
  type EtcdMemberStatus,
  type HealthReport,
  type InstalledExtension,
  type MachineStatus,
  type NodeVersion,
  type ServiceDetail,
  type SnapshotInfo,
} from "./parse.ts";

export class TalosctlError extends OperationError {
  readonly kind: TalosErrorKind;
  readonly node?: string;
  readonly stderr: string;
  constructor(what: string, node: string | undefined, result: Pick<RunResult, "stderr" | "stdout" | "exitCode">) {
    const kind = classifyTalosError(result.stderr + "\n" + result.stdout);
    const summary = talosErrorSummary(result.stderr) || result.stdout.trim().split("\n")[0] || `exit ${result.exitCode}`;
    // the meaning replaces gRPC/TLS text; the raw line stays available with --verbose
    const meaning = talosErrorMeaning(kind, result.stderr);
    super(`${what}${node ? ` on ${node}` : ""} failed: ${meaning ?? summary}`, hintFor(kind), undefined, meaning ? summary : undefined);
    this.kind = kind;
    this.node = node;
    this.stderr = result.stderr;
  }
}

function hintFor(kind: TalosErrorKind): string | undefined {
  switch (kind) {
    case "unreachable":
      return "check that the node is powered on and reachable on port 50000, then run again";
    case "certificate-mismatch":
      return "regenerate the configs (talos-generate-config) or fix the node's address in talos/talconfig.yaml";
    case "maintenance-needs-insecure":
      return "the node is in maintenance mode: apply its configuration first (talos-apply-config)";
    case "not-implemented-in-maintenance":
      return "the node is in maintenance mode: apply its configuration first (talos-apply-config)";
    case "quorum":
      return "wait until every etcd member is healthy, then run again";
    case "multiple-nodes":
      return "this talosctl command takes exactly one node";
    default:
      return undefined;
  }
}

import { APPLY_MODES, MAINTENANCE_APPLY_MODES, type ApplyMode } from "./apply-modes.ts";
export { APPLY_MODES, MAINTENANCE_APPLY_MODES, type ApplyMode };

export type NodeMode = "maintenance" | "configured" | "unreachable";

export interface TalosctlOptions {
  exec: Exec;
  /** path of the talosconfig; when unset talosctl uses TALOSCONFIG / ~/.talos/config */
  talosconfig?: string;
  /** executable (default "talosctl") */
  bin?: string;
  /** timeout per call (default 60 s; waits are done by polling, not by long calls) */
  timeoutMs?: number;
}

export interface CallOptions {
  nodes?: string[];
  /** proxy through these endpoints instead of the talosconfig's */
  endpoints?: string[];
  /** with one node, use it as its own endpoint (default true) */
  direct?: boolean;
  insecure?: boolean;
  readOnly?: boolean;
  timeoutMs?: number;
  purpose?: string;
}

export interface ResetOptions {
  graceful: boolean;
  reboot: boolean;
  wipe: Array<"STATE" | "EPHEMERAL">;
  wait?: boolean;
}

export class Talosctl {
  readonly exec: Exec;
  readonly talosconfig?: string;
  readonly bin: string;
  readonly timeoutMs: number;

  constructor(opts: TalosctlOptions) {
    this.exec = opts.exec;
    this.talosconfig = opts.talosconfig;
    this.bin = opts.bin ?? "talosctl";
    this.timeoutMs = opts.timeoutMs ?? 60_000;
  }

  /** argv for a talosctl call: global flags, then the subcommand. */
  argv(args: string[], opts: CallOptions = {}): string[] {
    const out: string[] = [];
    if (this.talosconfig && !opts.insecure) out.push(`--talosconfig=${this.talosconfig}`);
    // one node: talk to its own apid (`-e ip -n ip`). Proxying through the talosconfig's first endpoint fails as
    // soon as that control plane is rebooting or was reset to maintenance mode (its TLS no longer matches).
    if (!opts.insecure && opts.endpoints?.length) out.push(`--endpoints=${opts.endpoints.join(",")}`);
    else if (!opts.insecure && opts.nodes?.length === 1 && opts.direct !== false) out.push(`--endpoints=${opts.nodes[0]}`);
    if (opts.nodes?.length) out.push(`--nodes=${opts.nodes.join(",")}`);
    out.push(...args);
    if (opts.insecure) out.push("--insecure");
    return out;
  }

  /** Runs talosctl; never throws for a talosctl failure (exitCode and kind tell), only for missing tool/abort. */
  async call(args: string[], opts: CallOptions = {}): Promise<RunResult & { kind?: TalosErrorKind }> {
    const r = await this.exec.run(this.bin, this.argv(args, opts), {
      allowFailure: true,
      readOnly: opts.readOnly ?? false,
      timeoutMs: opts.timeoutMs ?? this.timeoutMs,
      purpose: opts.purpose,
    });
    if (r.exitCode !== 0) return { ...r, kind: classifyTalosError(r.stderr + "\n" + r.stdout) };
    return r;
  }

  /** Runs talosctl and throws TalosctlError on failure. */
  async must(what: string, args: string[], opts: CallOptions = {}): Promise<RunResult> {
    const r = await this.call(args, opts);
    if (r.exitCode !== 0) throw new TalosctlError(what, opts.nodes?.join(","), r);
    return r;
  }

  private one(node: string): string[] {
    if (!node || node.includes(",")) throw new OperationError(`a single node is required here, not "${node}"`);
    return [node];
  }

  // ----- reads ------------------------------------------------------------------------------------------------

  async machineStatus(node: string, opts: { insecure?: boolean } = {}): Promise<MachineStatus> {
    const r = await this.must("reading machine status", ["get", "machinestatus", "-o", "json"], {
      nodes: this.one(node),
      insecure: opts.insecure,
      readOnly: true,
    });
    const s = parseMachineStatus(r.stdout)[0];
    if (!s) throw new OperationError(`talosctl printed no machine status for ${node}`);
    return { ...s, node: s.node || node };
  }

  /**
   * Is the node in maintenance mode (no config yet: only --insecure works), configured, or not answering?
   * Asks with the talosconfig first: a maintenance node answers `certificate signed by unknown authority`; then
   * confirms with --insecure, which a configured node refuses (`certificate required`).
   */
  async detectMode(node: string): Promise<{ mode: NodeMode; status?: MachineStatus; detail?: string }> {
    const secure = await this.call(["get", "machinestatus", "-o", "json"], { nodes: this.one(node), readOnly: true });
    if (secure.exitCode === 0) {
      const status = parseMachineStatus(secure.stdout)[0];
      if (status?.stage === "maintenance") return { mode: "maintenance", status };
      return { mode: "configured", status };
    }
    if (secure.kind === "unreachable") return { mode: "unreachable", detail: talosErrorSummary(secure.stderr) };
    const insecure = await this.call(["get", "machinestatus", "-o", "json"], {
      nodes: this.one(node),
      insecure: true,
      readOnly: true,
    });
    if (insecure.exitCode === 0) {
      const status = parseMachineStatus(insecure.stdout)[0];
      return { mode: "maintenance", status };
    }
    if (insecure.kind === "unreachable") return { mode: "unreachable", detail: talosErrorSummary(insecure.stderr) };
    if (insecure.kind === "certificate-required") return { mode: "configured", detail: talosErrorSummary(secure.stderr) };
    throw new TalosctlError("detecting maintenance mode", node, secure);
  }

  async etcdMembers(node: string): Promise<EtcdMember[]> {
    const r = await this.must("listing etcd members", ["etcd", "members"], { nodes: this.one(node), readOnly: true });
    return parseEtcdMembers(r.stdout);
  }

  /** `etcd status` on several control planes at once (one table row each). */
  async etcdStatus(nodes: string[]): Promise<EtcdMemberStatus[]> {
    const r = await this.must("reading etcd status", ["etcd", "status"], { nodes, readOnly: true });
    return parseEtcdStatus(r.stdout);
  }

  async service(node: string, id: string): Promise<ServiceDetail | undefined> {
    const r = await this.must(`reading service ${id}`, ["service", id], { nodes: this.one(node), readOnly: true });
    return parseServiceDetail(r.stdout)[0];
  }

  async members(node: string): Promise<ClusterMember[]> {
    const r = await this.must("listing cluster members", ["get", "members"], { nodes: this.one(node), readOnly: true });
    return parseMembers(r.stdout);
  }

  async extensions(nodes: string[]): Promise<InstalledExtension[]> {
    const r = await this.must("listing extensions", ["get", "extensions", "-o", "json"], { nodes, readOnly: true });
    return parseExtensions(r.stdout);
  }

  async versions(nodes: string[]): Promise<NodeVersion[]> {
    const r = await this.must("reading Talos versions", ["version"], { nodes, readOnly: true });
    return parseVersionOutput(r.stdout).servers;
  }

  /** `health -n <node>`: its report goes to stderr; exit 1 with `healthcheck error:` when unhealthy. */
  async health(node: string, waitTimeout = "2m"): Promise<HealthReport> {
    const r = await this.call(["health", `--wait-timeout=${waitTimeout}`], {
      nodes: this.one(node),
      readOnly: true,
      timeoutMs: Math.max(this.timeoutMs, 10_000 + durationToMs(waitTimeout)),
    });
    const report = parseHealth(r.stderr + "\n" + r.stdout);
    if (r.exitCode !== 0 && report.ok) return { ...report, ok: false, error: talosErrorSummary(r.stderr) || "health failed" };
    return report;
  }

  // ----- changes ----------------------------------------------------------------------------------------------

  async applyConfig(
    node: string,
    file: string,
    opts: { mode: ApplyMode; insecure: boolean },
  ): Promise<{ outcome: ApplyOutcome; dryRun: boolean; command: string }> {
    if (opts.insecure && !MAINTENANCE_APPLY_MODES.includes(opts.mode))
      throw new OperationError(
        `--mode ${opts.mode} is not accepted by a node in maintenance mode (${node})`,
        `use one of ${MAINTENANCE_APPLY_MODES.join(", ")}`,
      );
    const r = await this.must("applying the configuration", ["apply-config", `--file=${file}`, `--mode=${opts.mode}`], {
      nodes: this.one(node),
      insecure: opts.insecure,
    });
    const outcome: ApplyOutcome = r.dryRun ? "applied" : parseApplyOutput(r.stdout + "\n" + r.stderr);
    return { outcome, dryRun: r.dryRun, command: r.command };
  }

  /**
   * `bootstrap` on one node. AlreadyExists counts as done. Returns "retry" for the transient refusals (not available
   * yet, time not in sync, unreachable) so callers poll; throws for anything else.
   */
  async bootstrap(
    node: string,
    opts: { recoverFrom?: string; skipHashCheck?: boolean } = {},
  ): Promise<{ result: "bootstrapped" | "already-bootstrapped" | "retry"; detail?: string; dryRun: boolean }> {
    const args = ["bootstrap"];
    if (opts.recoverFrom) args.push(`--recover-from=${opts.recoverFrom}`);
    if (opts.skipHashCheck) args.push("--recover-skip-hash-check");
    const r = await this.call(args, { nodes: this.one(node) });
    if (r.exitCode === 0) return { result: "bootstrapped", dryRun: r.dryRun };
    if (r.kind === "already-exists") return { result: "already-bootstrapped", dryRun: false };
    if (r.kind === "not-available-yet" || r.kind === "time-not-in-sync" || r.kind === "unreachable")
      return { result: "retry", detail: talosErrorSummary(r.stderr), dryRun: false };
    throw new TalosctlError("bootstrap", node, r);
  }

  /** Writes the admin kubeconfig to `file` (talosctl writes it; the caller sets mode 0600). */
  async kubeconfig(node: string, file: string): Promise<RunResult> {
    return this.must("fetching the kubeconfig", ["kubeconfig", "--force", file], { nodes: this.one(node) });
  }

  async etcdSnapshot(node: string, file: string): Promise<SnapshotInfo | null> {
    // writes a local file only: still runs under --dry-run? No: a dry run must not create files.
    const r = await this.must("taking an etcd snapshot", ["etcd", "snapshot", file], { nodes: this.one(node), timeoutMs: 300_000 });
    if (r.dryRun) return null;
    const info = parseSnapshotOutput(r.stdout + "\n" + r.stderr);
    if (!info)
      throw new OperationError(
        `talosctl etcd snapshot on ${node} did not print its "snapshot saved" and "snapshot info" lines`,
        "the snapshot cannot be trusted; take it again",
      );
    return info;
  }

  /**
   * reboot/upgrade/reset with `--wait` let talosctl itself follow the node down and back (it tracks the boot id, so a
   * quick reboot is never missed) within `--timeout`; the Exec timeout is a little longer than that.
   */
  async reboot(node: string, opts: { timeout?: string } = {}): Promise<RunResult> {
    const timeout = opts.timeout ?? "10m";
    return this.must("reboot", ["reboot", "--wait=true", `--timeout=${timeout}`], {
      nodes: this.one(node),
      timeoutMs: durationToMs(timeout) + 60_000,
    });
  }

  async upgrade(node: string, image: string, opts: { preserve?: boolean; stage?: boolean; timeout?: string } = {}) {
    const timeout = opts.timeout ?? "15m";
    const args = ["upgrade", `--image=${image}`, "--wait=true", `--timeout=${timeout}`];
    if (opts.preserve) args.push("--preserve");
    if (opts.stage) args.push("--stage");
    return this.must("upgrade", args, { nodes: this.one(node), timeoutMs: durationToMs(timeout) + 60_000 });
  }

  async upgradeK8s(node: string, to: string, opts: { dryRun?: boolean } = {}) {
    const args = ["upgrade-k8s", `--to=${to.replace(/^v/, "")}`];
    if (opts.dryRun) args.push("--dry-run");
    return this.must("upgrade-k8s", args, { nodes: this.one(node), timeoutMs: 1_800_000, readOnly: opts.dryRun });
  }

  async reset(node: string, opts: ResetOptions & { timeout?: string }) {
    const timeout = opts.timeout ?? "10m";
    const args = ["reset", `--graceful=${opts.graceful}`, `--reboot=${opts.reboot}`];
    for (const label of opts.wipe) args.push(`--system-labels-to-wipe=${label}`);
    args.push(`--wait=${opts.wait ?? true}`, `--timeout=${timeout}`);
    return this.must("reset", args, { nodes: this.one(node), timeoutMs: durationToMs(timeout) + 60_000 });
  }
}

/** "90s", "10m", "1h" -> ms (a bare number is seconds); 2 minutes for anything else. */
export function durationToMs(d: string): number {
  return parseDuration(d) ?? 120_000;
}
