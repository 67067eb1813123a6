/**
 * What the bootstrap, apps and flux scripts share: building the phase context from a script's RunContext, the
 * common flags, and rendering phase results.
 */
import { ExitCode } from "../cli/errors.ts";
import { durationValue, WAIT_FLAGS, type Duration, type FlagDefs } from "../cli/flags.ts";
import type { RunContext } from "../cli/index.ts";
import { formatDuration, type Output } from "../cli/output.ts";
import { loadRepo } from "../repo/model.ts";
import { createContext, type PhaseResult } from "./index.ts";
import type { BootstrapContext, Phase } from "./types.ts";


/** Loads the repo and builds the phase context for a script run. */
export function bootstrapContext(
  run: Pick<RunContext<FlagDefs>, "root" | "exec" | "out" | "env" | "signal" | "dryRun">,
  flags: { timeout?: Duration; "talos-timeout"?: Duration },
): BootstrapContext & { close(): void } {
  const model = loadRepo(run.root);
  return createContext({
    root: run.root,
    model,
    exec: run.exec,
    out: run.out,
    env: run.env,
    signal: run.signal,
    dryRun: run.dryRun,
    timeouts: {
      waitMs: (flags.timeout ?? durationValue("timeout", WAIT_FLAGS.timeout.default)).ms,
      talosMs: (flags["talos-timeout"] ?? durationValue("talos-timeout", WAIT_FLAGS["talos-timeout"].default)).ms,
    },
  });
}

export function printResults(out: Output, results: PhaseResult[], totalMs?: number): void {
  out.printTable(
    ["phase", "result", "what the cluster shows", "time"],
    results.map((r) => [`${r.n} ${r.title}`, r.result, r.summary || (r.error ?? ""), r.ms ? formatDuration(r.ms) : "-"]),
  );
  if (totalMs !== undefined) out.line(`total time ${formatDuration(totalMs)}`);
}

/**
 * How a script that did one phase's work ends: under --dry-run a line saying nothing changed; otherwise the phase's
 * verify() read from the cluster, as a mark and what is missing (or one JSON document), exit 0 when done, else 1.
 */
export async function reportPhase(
  rc: Pick<RunContext<FlagDefs>, "out" | "json" | "dryRun">,
  phase: Pick<Phase, "verify">,
  ctx: BootstrapContext,
  /** performance.now() when the script's work began: adds totalMs to the JSON */
  startedAt?: number,
): Promise<number> {
  if (rc.dryRun) {
    if (rc.json) rc.out.result({ ok: true, dryRun: true });
    else rc.out.line("dry run: nothing was changed");
    return ExitCode.ok;
  }
  const v = await phase.verify(ctx);
  const total = startedAt === undefined ? {} : { totalMs: Math.round(performance.now() - startedAt) };
  if (rc.json) rc.out.result({ ok: v.done, summary: v.summary, missing: v.missing, ...total });
  else {
    rc.out.line(`${rc.out.mark(v.done ? "ok" : "fail")} ${v.summary}`);
    for (const m of v.missing) rc.out.line(`  - ${m}`);
  }
  return v.done ? ExitCode.ok : ExitCode.failed;
}
