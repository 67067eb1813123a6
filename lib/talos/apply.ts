/**
 * apply-config per node: detect maintenance mode (the only time --insecure is used), check the mode is one that
 * state accepts, apply, retry transient failures (an EOF or Unavailable while apid restarts) with backoff, report.
 * Reads for every node run concurrently; the applies run one node at a time (a reboot mode takes the node down).
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { ConfigError, InterruptedError, OperationError } from "../cli/errors.ts";
import { abortableSleep, backoffDelay, done, notYet, pollUntil } from "./poll.ts";
import { MAINTENANCE_APPLY_MODES, TalosctlError, type ApplyMode, type NodeMode, type Talosctl } from "./talosctl.ts";
import type { TalosNode } from "./cluster.ts";
import type { MachineStatus } from "./parse.ts";

export interface ApplyNodeResult {
  hostname: string;
  ip: string;
  /** what the node was before */
  state: NodeMode | "unknown";
  insecure: boolean;
  mode: ApplyMode;
  result: "applied" | "would-apply" | "failed" | "skipped";
  /** what talosctl said happened: installed (maintenance), applied without/with reboot, staged, try */
  detail: string;
  attempts: number;
  command?: string;
}

export function configFileFor(configDir: string, clusterName: string, hostname: string): string {
  return path.join(configDir, `${clusterName}-${hostname}.yaml`);
}

/** Transient: worth another attempt (the node's API restarting, an EOF mid-call). */
export function isTransient(e: unknown): boolean {
  if (!(e instanceof TalosctlError)) return false;
  return e.kind === "unreachable" || /\bEOF\b|connection reset|transport is closing/i.test(e.stderr);
}

export async function applyToNodes(opts: {
  talos: Talosctl;
  nodes: TalosNode[];
  clusterName: string;
  configDir: string;
  mode: ApplyMode;
  retries: number;
  dryRun: boolean;
  /** how long to wait for a node that does not answer or is still installing/rebooting (default 2 min) */
  reachTimeoutMs?: number;
  signal?: AbortSignal;
  onResult?: (r: ApplyNodeResult) => void;
}): Promise<ApplyNodeResult[]> {
  const { talos, nodes } = opts;
  // every node's config must exist before anything is applied anywhere
  const missing = nodes.filter((n) => !existsSync(configFileFor(opts.configDir, opts.clusterName, n.hostname)));
  if (missing.length)
    throw new ConfigError(
      `no generated config for ${missing.map((n) => n.hostname).join(", ")} in ${opts.configDir}`,
      "run bun scripts/talos-generate-config.ts first",
    );
  // a node that is down, installing or rebooting (right after an earlier apply) is waited for, up to reachTimeoutMs
  type Detected = { mode: NodeMode | "unknown"; status?: MachineStatus; detail?: string };
  const settled = (m: Detected) =>
    m.mode === "maintenance" || (m.mode === "configured" && (m.status === undefined || m.status.stage === "running"));
  const modes: Detected[] = await Promise.all(
    nodes.map(async (n): Promise<Detected> => {
      const seen: { last: Detected } = { last: { mode: "unknown", detail: "no answer" } };
      try {
        return await pollUntil(
          async () => {
            const d: Detected = await talos.detectMode(n.ip);
            seen.last = d;
            return settled(d) ? done(d) : notYet(d.mode === "unreachable" ? d.detail : `stage ${d.status?.stage}`);
          },
          { what: `${n.hostname} to answer`, timeoutMs: opts.reachTimeoutMs ?? 120_000, signal: opts.signal, initialDelayMs: 300, maxDelayMs: 3000 },
        );
      } catch (e) {
        if (e instanceof InterruptedError) throw e;
        const last = seen.last;
        if (last.mode === "configured") return last; // answering but busy (not running): apply anyway, Talos takes it
        return { mode: last.mode === "unreachable" ? "unreachable" : "unknown", detail: last.detail ?? (e as Error).message };
      }
    }),
  );
  const results: ApplyNodeResult[] = [];
  for (const [i, node] of nodes.entries()) {
    if (opts.signal?.aborted) throw new InterruptedError();
    const detected = modes[i]!;
    const file = configFileFor(opts.configDir, opts.clusterName, node.hostname);
    const base = { hostname: node.hostname, ip: node.ip, state: detected.mode, mode: opts.mode, attempts: 0 };
    const push = (r: ApplyNodeResult) => {
      results.push(r);
      opts.onResult?.(r);
    };
    if (detected.mode === "unreachable" || detected.mode === "unknown") {
      push({ ...base, insecure: false, result: "failed", detail: `not reachable: ${detected.detail ?? "no answer"}` });
      continue;
    }
    const insecure = detected.mode === "maintenance";
    if (insecure && !MAINTENANCE_APPLY_MODES.includes(opts.mode)) {
      push({
        ...base,
        insecure,
        result: "failed",
        detail: `in maintenance mode, which accepts only --mode ${MAINTENANCE_APPLY_MODES.join("|")}`,
      });
      continue;
    }
    let attempts = 0;
    for (;;) {
      attempts++;
      try {
        const r = await talos.applyConfig(node.ip, file, { mode: opts.mode, insecure });
        const detail = r.dryRun
          ? "would apply"
          : insecure
            ? "configuration accepted: installing, then rebooting"
            : r.outcome === "applied-no-reboot"
              ? "applied without a reboot"
              : r.outcome === "applied-with-reboot"
                ? "applied with a reboot"
                : r.outcome === "staged"
                  ? "staged for the next reboot"
                  : r.outcome === "try"
                    ? "applied in try mode (rolls back unless confirmed)"
                    : "applied";
        push({ ...base, insecure, result: r.dryRun ? "would-apply" : "applied", detail, attempts, command: r.command });
        break;
      } catch (e) {
        if (e instanceof InterruptedError) throw e;
        if (attempts <= opts.retries && isTransient(e)) {
          await abortableSleep(backoffDelay(attempts, { initialDelayMs: 500 }), opts.signal);
          continue;
        }
        const msg = e instanceof TalosctlError ? e.message.replace(/^applying the configuration on \S+ failed: /, "") : (e as Error).message;
        push({ ...base, insecure, result: "failed", detail: msg, attempts });
        break;
      }
    }
  }
  return results;
}
