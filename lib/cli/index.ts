import { existsSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { ConfigError, ExitCode, InterruptedError, ToolkitError, UsageError } from "./errors.ts";
import { Output, type Stream } from "./output.ts";
import { Exec } from "../exec.ts";
// the fault names only (a leaf module): the simulation itself is loaded on --simulate
import { FAULT_HELP } from "../sim/faults.ts";

export * from "./errors.ts";
export { Output, renderTable, formatDuration, type Status } from "./output.ts";

/**
 * defineScript(): the one frame every script in scripts/ uses. It parses flags (node:util parseArgs), answers
 * --help, maps errors to exit codes (0 ok, 1 failed, 2 usage/configuration, 130 interrupted) with one sentence and
 * no stack trace (stack with --verbose), and hands run() a context with output, exec (dry-run aware) and an
 * AbortSignal that Ctrl-C trips.
 */

export type FlagDef =
  | { type: "boolean"; short?: string; description: string; default?: boolean }
  | {
      type: "string";
      short?: string;
      description: string;
      default?: string;
      /** shown in --help: `--node <name>` */
      placeholder?: string;
      /** allowed values, checked before run() */
      choices?: readonly string[];
      multiple?: false;
    }
  | { type: "string"; short?: string; description: string; placeholder?: string; multiple: true; default?: string[] };

export type FlagDefs = Record<string, FlagDef>;

type FlagValue<D extends FlagDef> = D extends { type: "boolean" }
  ? boolean
  : D extends { multiple: true }
    ? string[]
    : D extends { default: string }
      ? string
      : string | undefined;

export type FlagValues<F extends FlagDefs> = { [K in keyof F]: FlagValue<F[K]> };

/** Areas group scripts in `bun scripts/help.ts`, in this order. */
export const AREAS = [
  "bootstrap",
  "talos",
  "cluster",
  "apps",
  "flux",
  "bgp",
  "network",
  "storage",
  "repo",
  "dev",
] as const;
export type Area = (typeof AREAS)[number];

export interface ScriptDef<F extends FlagDefs> {
  /** file name without .ts, e.g. "bgp-verify" */
  name: string;
  area: Area;
  /** one line, shown by help.ts */
  summary: string;
  /** longer text for --help */
  description?: string;
  /** the Taskfile targets this script replaces, e.g. ["bgp:verify-peering"] */
  replaces: string[];
  flags?: F;
  /** names positional arguments in --help, e.g. "[node...]" */
  args?: string;
  examples?: string[];
  /** changes a cluster or files: adds --dry-run and --yes */
  mutates?: boolean;
  /** talks to a live cluster: adds --simulate, --sim-state, --sim-fault and --sim-nodes (run against lib/sim) */
  live?: boolean;
  /**
   * the state --simulate starts in: what this script needs (default "complete", the healthy cluster a day-2
   * script expects; the bootstrap scripts start earlier). One of lib/sim's SIM_STATES.
   */
  simState?: "bare" | "configured" | "talos" | "bootstrapped" | "complete";
  /** generates the machine configs itself: --simulate starts without the configs it otherwise has ready */
  simGeneratesConfigs?: boolean;
  /** runs until Ctrl-C or SIGTERM, which end it normally (its own exit code, not 130): `simulate` */
  runsUntilStopped?: boolean;
  run(ctx: RunContext<F>): Promise<number | void> | number | void;
}

export interface RunContext<F extends FlagDefs> {
  flags: FlagValues<F>;
  args: string[];
  out: Output;
  exec: Exec;
  json: boolean;
  dryRun: boolean;
  yes: boolean;
  verbose: boolean;
  /** tripped by Ctrl-C or SIGTERM; every wait takes it */
  signal: AbortSignal;
  /** running against lib/sim (--simulate) */
  simulated: boolean;
  /** the repository root (the folder holding package.json), or --root where a script offers it */
  root: string;
  env: Record<string, string | undefined>;
  /**
   * Asks for `expected` to be typed back before a destructive action. Passes with --yes; on a non-TTY stdin
   * without --yes it refuses with exit 2; nothing has been changed at that point.
   */
  confirm(action: string, expected: string): Promise<void>;
}

export interface IO {
  stdout?: Stream;
  stderr?: Stream;
  stdin?: { isTTY?: boolean };
  env?: Record<string, string | undefined>;
  /** reads one line typed by the user (tests pass their own) */
  readLine?: (prompt: string) => Promise<string | null>;
  cwd?: string;
}

export interface Script<F extends FlagDefs> {
  def: ScriptDef<F>;
  /** Runs with argv (without `bun script.ts`), returns the exit code; never calls process.exit. */
  main(argv: string[], io?: IO): Promise<number>;
}

const COMMON_FLAGS = {
  help: { type: "boolean", short: "h", description: "show this help" },
  json: { type: "boolean", description: "print one JSON document on stdout for programs" },
  verbose: { type: "boolean", short: "v", description: "print debug lines and stack traces" },
} as const satisfies FlagDefs;

const MUTATING_FLAGS = {
  "dry-run": { type: "boolean", description: "print the exact commands and API writes instead of making them" },
  yes: { type: "boolean", short: "y", description: "answer yes to confirmations (needed without a terminal)" },
} as const satisfies FlagDefs;

const SIM_STATE_CHOICES = ["bare", "configured", "talos", "bootstrapped", "complete"] as const;

const LIVE_FLAGS = {
  simulate: {
    type: "boolean",
    description: "rehearse against a simulated cluster of this repo (lib/sim): nothing real is read or written",
  },
  "sim-state": {
    type: "string",
    placeholder: "state",
    description: "with --simulate: the state it starts in [default: what this script needs; env HOMEOPS_SIM_STATE]",
    choices: SIM_STATE_CHOICES,
  },
  "sim-fault": {
    type: "string",
    multiple: true,
    placeholder: "name=value",
    description: `with --simulate: inject a fault [env HOMEOPS_SIM_FAULTS]: ${Object.values(FAULT_HELP)
      .map((h) => h.split(":")[0])
      .join(", ")}`,
  },
  "sim-nodes": { type: "string", placeholder: "n", description: "with --simulate: number of simulated nodes" },
} as const satisfies FlagDefs;

export function allFlags<F extends FlagDefs>(def: ScriptDef<F>): FlagDefs {
  return {
    ...(def.flags ?? {}),
    ...(def.mutates ? MUTATING_FLAGS : {}),
    ...(def.live ? LIVE_FLAGS : {}),
    ...COMMON_FLAGS,
  };
}

export function renderHelp<F extends FlagDefs>(def: ScriptDef<F>): string {
  const lines: string[] = [];
  lines.push(`${def.name}: ${def.summary}`, "");
  lines.push(`Usage: bun scripts/${def.name}.ts [flags]${def.args ? " " + def.args : ""}`);
  if (def.description) lines.push("", ...def.description.trim().split("\n"));
  lines.push("", "Flags:");
  const flags = allFlags(def);
  const cells = Object.entries(flags).map(([name, f]) => {
    const short = f.short ? `-${f.short}, ` : "    ";
    const value = f.type === "string" ? ` <${("placeholder" in f && f.placeholder) || "value"}>` : "";
    let text = f.description;
    if ("choices" in f && f.choices) text += ` (${f.choices.join("|")})`;
    if (f.default !== undefined && f.default !== false && !(Array.isArray(f.default) && f.default.length === 0))
      text += ` [default: ${Array.isArray(f.default) ? f.default.join(",") : String(f.default)}]`;
    if (f.type === "string" && f.multiple) text += " (repeatable)";
    return [`  ${short}--${name}${value}`, text] as const;
  });
  const width = Math.max(...cells.map(([l]) => l.length)) + 2;
  for (const [left, text] of cells) lines.push(left.padEnd(width) + text);
  if (def.examples?.length) {
    lines.push("", "Examples:");
    for (const e of def.examples) lines.push(`  ${e}`);
  }
  lines.push("", `Replaces: ${def.replaces.length ? def.replaces.map((r) => `task ${r}`).join(", ") : "(new)"}`);
  lines.push(`Exit codes: 0 ok, 1 check or operation failed, 2 usage or configuration error, 130 interrupted`);
  return lines.join("\n");
}

/** Finds the repository root: the nearest folder upwards holding package.json and kubernetes/. */
export function findRepoRoot(start: string): string {
  let dir = path.resolve(start);
  for (;;) {
    if (existsSync(path.join(dir, "package.json")) && existsSync(path.join(dir, "scripts"))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve(import.meta.dir, "../..");
    dir = parent;
  }
}

function parseFlags<F extends FlagDefs>(def: ScriptDef<F>, argv: string[]) {
  const flags = allFlags(def);
  const options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean; default?: any }> =
    {};
  for (const [name, f] of Object.entries(flags)) {
    options[name] = { type: f.type };
    if (f.short) options[name].short = f.short;
    if (f.type === "string" && f.multiple) options[name].multiple = true;
    if (f.default !== undefined) options[name].default = f.default;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    const msg = (e as Error).message.split("\n")[0]!.replace(/\. To specify a positional argument.*$/, "");
    throw new UsageError(msg, `run \`bun scripts/${def.name}.ts --help\``);
  }
  const values = parsed.values as Record<string, unknown>;
  for (const [name, f] of Object.entries(flags)) {
    if (values[name] === undefined && f.type === "boolean") values[name] = f.default ?? false;
    if (values[name] === undefined && f.type === "string" && f.multiple) values[name] = [];
    if (f.type === "string" && "choices" in f && f.choices && typeof values[name] === "string") {
      if (!f.choices.includes(values[name] as string))
        throw new UsageError(`--${name} must be one of ${f.choices.join(", ")}, not "${values[name]}"`);
    }
  }
  if (!def.args && parsed.positionals.length > 0)
    throw new UsageError(`unexpected argument "${parsed.positionals[0]}"`, `run \`bun scripts/${def.name}.ts --help\``);
  return { values, positionals: parsed.positionals };
}

async function defaultReadLine(prompt: string): Promise<string | null> {
  process.stderr.write(prompt);
  for await (const line of console) return line;
  return null;
}

export function defineScript<F extends FlagDefs>(meta: ImportMeta | null, def: ScriptDef<F>): Script<F> {
  const script: Script<F> = {
    def,
    async main(argv, io = {}) {
      const env = io.env ?? process.env;
      const stdout = io.stdout ?? process.stdout;
      const stderr = io.stderr ?? process.stderr;
      let out = new Output({ stdout, stderr, env, json: argv.includes("--json"), verbose: argv.includes("--verbose") });
      const controller = new AbortController();
      let interrupts = 0;
      const onSigint = () => {
        interrupts += 1;
        if (interrupts > 1) process.exit(ExitCode.interrupted);
        out.log("interrupted: stopping cleanly (Ctrl-C again to quit at once)");
        controller.abort(new InterruptedError());
      };
      // a run stopped by Ctrl-C or SIGTERM exits 130 whatever the script made of the stop (a partial table, an error)
      const interrupted = (code: number) => (controller.signal.aborted && !def.runsUntilStopped ? ExitCode.interrupted : code);
      const listening = meta?.main === true;
      if (listening) {
        process.on("SIGINT", onSigint);
        // SIGTERM ends a run the same way (a rehearsal removes its folder), instead of killing it mid-write
        process.on("SIGTERM", onSigint);
      }
      try {
        const { values, positionals } = parseFlags(def, argv);
        if (values.help) {
          stdout.write(renderHelp(def) + "\n");
          return ExitCode.ok;
        }
        const exec = new Exec({ dryRun: values["dry-run"] === true, out, signal: controller.signal, env });
        out = new Output({
          stdout,
          stderr,
          env,
          json: values.json === true,
          verbose: values.verbose === true,
          redact: (t) => exec.redact(t),
        });
        exec.out = out;
        const root = findRepoRoot(io.cwd ?? process.cwd());
        const ctx: RunContext<F> = {
          flags: values as FlagValues<F>,
          args: positionals,
          out,
          exec,
          json: values.json === true,
          dryRun: values["dry-run"] === true,
          yes: values.yes === true,
          verbose: values.verbose === true,
          signal: controller.signal,
          simulated: def.live === true && values.simulate === true,
          root,
          env,
          async confirm(action, expected) {
            if (ctx.yes) return;
            const stdin = io.stdin ?? process.stdin;
            if (stdin.isTTY !== true)
              throw new UsageError(
                `refusing to ${action} without confirmation`,
                "run it in a terminal to type the confirmation, or pass --yes",
              );
            const answer = await (io.readLine ?? defaultReadLine)(
              ctx.simulated
                ? `This will ${action} — in the SIMULATED cluster (a rehearsal: nothing real is touched).\nType "${expected}" to continue: `
                : `This will ${action}.\nType "${expected}" to continue: `,
            );
            if ((answer ?? "").trim() !== expected)
              throw new UsageError(`confirmation did not match "${expected}": nothing was changed`);
          },
        };
        if (def.live && values.simulate !== true && (values["sim-state"] !== undefined || (values["sim-fault"] as string[]).length || values["sim-nodes"] !== undefined))
          throw new UsageError("--sim-state, --sim-fault and --sim-nodes only apply with --simulate");
        if (def.live && values.simulate === true) {
          const nodes = values["sim-nodes"] === undefined ? undefined : Number(values["sim-nodes"]);
          if (nodes !== undefined && (!Number.isInteger(nodes) || nodes < 1))
            throw new UsageError(`--sim-nodes must be a whole number of at least 1, not "${values["sim-nodes"]}"`);
          const sim = await import("../sim/index.ts").catch((e) => {
            throw new ConfigError("the simulated cluster (lib/sim) could not be loaded", undefined, e);
          });
          const settings = sim.simSettings(
            {
              ...(values["sim-state"] !== undefined ? { state: values["sim-state"] as string } : {}),
              faults: values["sim-fault"] as string[],
              defaultState: def.simState ?? "complete",
            },
            env,
          );
          const seedConfigs = def.simGeneratesConfigs !== true;
          return await sim.runSimulated({ root, nodes, out, signal: controller.signal, settings, seedConfigs }, async (simEnv) => {
            ctx.env = { ...env, ...simEnv };
            exec.env = ctx.env;
            return (await def.run(ctx)) ?? ExitCode.ok;
          }).then(interrupted);
        }
        return interrupted((await def.run(ctx)) ?? ExitCode.ok);
      } catch (e) {
        return interrupted(reportError(e, out, controller.signal));
      } finally {
        if (listening) {
          process.off("SIGINT", onSigint);
          process.off("SIGTERM", onSigint);
        }
      }
    },
  };
  if (meta?.main) {
    script.main(process.argv.slice(2)).then((code) => process.exit(code));
  }
  return script;
}

export function reportError(e: unknown, out: Output, signal?: AbortSignal): number {
  if (signal?.aborted && !(e instanceof ToolkitError && !(e instanceof InterruptedError))) {
    out.log("interrupted");
    return ExitCode.interrupted;
  }
  if (e instanceof ToolkitError) {
    out.log(`error: ${e.message}`);
    if (e.hint) out.log(`  ${e.hint}`);
    if (out.verbose && e.cause instanceof Error && e.cause.stack) out.log(e.cause.stack);
    return e.exitCode;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  out.log(`error: ${err.message.split("\n")[0]}`);
  if (out.verbose && err.stack) out.log(err.stack);
  else out.log("  run again with --verbose for the stack trace");
  return ExitCode.failed;
}
