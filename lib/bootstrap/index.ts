/**
 * Phased bootstrap: six phases from bare Talos nodes to every Flux Kustomization Ready. Each phase detects its
 * state on the live cluster (so a rerun continues where the cluster is, after a Ctrl-C, a kill or a reset), runs
 * idempotent steps, and verifies its goal. A journal records what ran, for `--status`; it never decides anything.
 */
import { existsSync } from "node:fs";
import { ConfigError, InterruptedError, OperationError, ToolkitError, UsageError } from "../cli/errors.ts";
import { formatDuration, type Output } from "../cli/output.ts";
import type { Exec } from "../exec.ts";
import type { ClusterModel } from "../repo/model.ts";
import { kubeconfigPath, makeTalosctl } from "../talos/cluster.ts";
import { Journal } from "./journal.ts";
import { ClientKube, DryRunKube, type KubeApi } from "./kube.ts";
import { applicationsPhase } from "./phases/applications.ts";
import { corePhase } from "./phases/core.ts";
import { environmentPhase } from "./phases/environment.ts";
import { gitopsPhase } from "./phases/gitops.ts";
import { networkingPhase } from "./phases/networking.ts";
import { talosPhase } from "./phases/talos.ts";
import type { BootstrapContext, Detection, Phase, Timeouts } from "./types.ts";

export type { BootstrapContext, Detection, Phase, Timeouts } from "./types.ts";
export { Journal } from "./journal.ts";

export const PHASES: readonly Phase[] = [environmentPhase, talosPhase, networkingPhase, corePhase, gitopsPhase, applicationsPhase];

const REACHABLE_TIMEOUT_MS = 5000;

export const DEFAULT_TIMEOUTS: Timeouts = { waitMs: 15 * 60_000, talosMs: 10 * 60_000 };

export interface ContextOptions {
  root: string;
  model: ClusterModel;
  exec: Exec;
  out: Output;
  env: Record<string, string | undefined>;
  signal: AbortSignal;
  dryRun: boolean;
  timeouts?: Partial<Timeouts>;
}

/** The context every phase gets. Holds one API client, created when the kubeconfig exists. */
export function createContext(o: ContextOptions): BootstrapContext & { close(): void } {
  let client: ClientKube | undefined;
  let clientFile: string | undefined;
  const kubeconfig = kubeconfigPath(o.root, o.env);
  const live = (): ClientKube | undefined => {
    if (!existsSync(kubeconfig)) return undefined;
    if (!client || clientFile !== kubeconfig) {
      client?.close();
      client = ClientKube.fromKubeconfig(kubeconfig);
      clientFile = kubeconfig;
    }
    return client;
  };
  let dry: DryRunKube | undefined;
  const ctx: BootstrapContext & { close(): void } = {
    root: o.root,
    model: o.model,
    exec: o.exec,
    out: o.out,
    env: o.env,
    signal: o.signal,
    dryRun: o.dryRun,
    timeouts: { ...DEFAULT_TIMEOUTS, ...(o.timeouts ?? {}) },
    talosctl: makeTalosctl(o.exec, o.root, o.env),
    kubeconfigPath: kubeconfig,
    async kube(): Promise<KubeApi> {
      if (o.dryRun) {
        const inner = (await ctx.kubeReachable()) ? live() : undefined;
        if (!dry || (inner && !dry.hasInner)) dry = new DryRunKube(inner, o.out);
        return dry;
      }
      const k = live();
      if (!k)
        throw new ConfigError(
          `no kubeconfig at ${kubeconfig}`,
          "run phase 2 first (bun scripts/bootstrap-phased.ts --from 2) or set KUBECONFIG",
        );
      return k;
    },
    async kubeReachable(): Promise<boolean> {
      const k = live();
      if (!k) return false;
      // a VIP nobody answers can hold a TCP connect for minutes: give the probe a few seconds
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), REACHABLE_TIMEOUT_MS)));
      try {
        return await Promise.race([k.client.request("GET", "/version", { action: "read the API version" }).then(() => true), timeout]);
      } catch (e) {
        if (e instanceof ConfigError) throw e;
        return false;
      } finally {
        clearTimeout(timer);
      }
    },
    async wait(what, fn, waitOpts) {
      if (o.dryRun) {
        o.out.line(`[dry-run] wait for ${what}`);
        return undefined;
      }
      const started = performance.now();
      // the progress line (TTY) or one line after two seconds (pipe) says what is awaited and for how long
      const w = o.out.wait(`waiting for ${what}`, { deadlineMs: waitOpts?.deadlineMs ?? ctx.timeouts.waitMs });
      try {
        const result = await fn((detail) => w.update(detail));
        w.done();
        o.out.log(`  ${o.out.mark("ok")} ${what} (${formatDuration(performance.now() - started)})`);
        return result;
      } finally {
        w.done();
      }
    },
    step(text) {
      o.out.log(`  · ${text}`);
    },
    close() {
      client?.close();
    },
  };
  // talhelper writes the talosconfig in phase 2: rebind talosctl to it when it appears
  const makeTalos = () => makeTalosctl(o.exec, o.root, o.env);
  Object.defineProperty(ctx, "talosctl", { get: makeTalos, enumerable: true });
  return ctx;
}

export interface PhaseResult {
  n: number;
  id: string;
  title: string;
  /** done = detect found it done (skipped); ran = run + verify passed; failed; pending = not reached; planned = dry run */
  result: "done" | "ran" | "failed" | "interrupted" | "pending" | "planned";
  summary: string;
  missing: string[];
  ms: number;
  error?: string;
}

export interface RunOptions {
  /** first phase to consider (1-based) */
  from?: number;
  /** run only this phase (and run it even when detect finds it done: every step is idempotent) */
  only?: number;
  journal?: Journal;
  /** called when a phase starts (tests and the bench hook this) */
  onPhase?: (p: Phase, event: "detect" | "run" | "done") => void;
}

export function selectPhases(opts: Pick<RunOptions, "from" | "only">): Phase[] {
  const check = (flag: string, n: number | undefined) => {
    if (n !== undefined && (!Number.isInteger(n) || n < 1 || n > PHASES.length))
      throw new UsageError(`${flag} must be a phase number from 1 to ${PHASES.length}, not ${n}`);
  };
  check("--from", opts.from);
  check("--only", opts.only);
  if (opts.from !== undefined && opts.only !== undefined) throw new UsageError("--from and --only cannot be used together");
  if (opts.only !== undefined) return [PHASES[opts.only - 1]!];
  return PHASES.slice((opts.from ?? 1) - 1);
}

async function safeDetect(ctx: BootstrapContext, p: Phase): Promise<Detection> {
  try {
    return await p.detect(ctx);
  } catch (e) {
    if (e instanceof InterruptedError || ctx.signal.aborted) throw new InterruptedError();
    if (e instanceof ConfigError) throw e;
    const msg = e instanceof Error ? e.message.split("\n")[0]! : String(e);
    return { done: false, summary: `could not tell: ${msg}`, missing: [msg] };
  }
}

/** Detects every phase without changing anything (`--status`). */
export async function statusOf(ctx: BootstrapContext, opts: Pick<RunOptions, "from" | "only"> = {}): Promise<PhaseResult[]> {
  const out: PhaseResult[] = [];
  for (const p of selectPhases(opts)) {
    const started = performance.now();
    const d = await safeDetect(ctx, p);
    out.push({ n: p.n, id: p.id, title: p.title, result: d.done ? "done" : "pending", summary: d.summary, missing: d.missing, ms: performance.now() - started });
  }
  return out;
}

export function phaseLabel(p: Pick<Phase, "n" | "title">): string {
  return `phase ${p.n}/${PHASES.length} ${p.title}`;
}

/**
 * Runs the selected phases in order: detect, skip when done, else run and verify. Stops at the first failure with
 * its error; every result so far is in `results` (also on the thrown error as `.results`).
 */
export async function runBootstrap(ctx: BootstrapContext, opts: RunOptions = {}): Promise<{ results: PhaseResult[]; totalMs: number }> {
  const phases = selectPhases(opts);
  const results: PhaseResult[] = PHASES.filter((p) => phases.includes(p)).map((p) => ({
    n: p.n,
    id: p.id,
    title: p.title,
    result: "pending",
    summary: "",
    missing: [],
    ms: 0,
  }));
  const started = performance.now();
  const { out } = ctx;
  for (const [i, p] of phases.entries()) {
    const r = results[i]!;
    const t0 = performance.now();
    try {
      if (ctx.signal.aborted) throw new InterruptedError();
      opts.onPhase?.(p, "detect");
      const d = await safeDetect(ctx, p);
      r.summary = d.summary;
      r.missing = d.missing;
      if (d.done && opts.only === undefined) {
        r.result = "done";
        r.ms = performance.now() - t0;
        out.log(`${out.mark("skip")} ${phaseLabel(p)}: already done (${d.summary})`);
        continue;
      }
      out.log(`${out.bold("▶")} ${phaseLabel(p)}: ${d.done ? "done, running again (--only)" : d.summary}`);
      for (const m of d.missing.slice(0, 8)) out.log(`    - ${m}`);
      if (d.missing.length > 8) out.log(`    - … and ${d.missing.length - 8} more`);
      opts.journal?.record({ phase: p.n, event: "started" });
      opts.onPhase?.(p, "run");
      await p.run(ctx);
      if (ctx.dryRun) {
        r.result = "planned";
        r.ms = performance.now() - t0;
        continue;
      }
      const v = await p.verify(ctx);
      r.summary = v.summary;
      r.missing = v.missing;
      if (!v.done)
        throw new OperationError(
          `${phaseLabel(p)} finished its steps but the cluster does not show it done: ${v.missing.slice(0, 3).join("; ")}`,
          "run again (it continues from what the cluster shows); --status lists what each phase sees",
        );
      r.result = "ran";
      r.ms = performance.now() - t0;
      opts.journal?.record({ phase: p.n, event: "done", ms: Math.round(r.ms) });
      opts.onPhase?.(p, "done");
      out.log(`${out.mark("ok")} ${phaseLabel(p)}: done in ${formatDuration(r.ms)} (${v.summary})`);
    } catch (e) {
      r.ms = performance.now() - t0;
      const interrupted = e instanceof InterruptedError || ctx.signal.aborted;
      r.result = interrupted ? "interrupted" : "failed";
      r.error = e instanceof Error ? e.message : String(e);
      opts.journal?.record({ phase: p.n, event: interrupted ? "interrupted" : "failed", ms: Math.round(r.ms), message: interrupted ? undefined : r.error });
      if (!interrupted) out.log(`${out.mark("fail")} ${phaseLabel(p)} failed after ${formatDuration(r.ms)}`);
      const err = interrupted ? new InterruptedError(`interrupted during ${phaseLabel(p)}: run again to continue from there`) : e;
      if (err instanceof ToolkitError || err instanceof Error) Object.assign(err, { results, totalMs: performance.now() - started });
      throw err;
    }
  }
  return { results, totalMs: performance.now() - started };
}
