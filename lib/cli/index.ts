import { ConfigError, ExitCode, InterruptedError, ToolkitError, UsageError } from "./errors.ts";
import { durationValue, integerValue, versionValue, type FlagDef, type FlagDefs, type FlagValues } from "./flags.ts";
import { Output, ProcessStream, outputWidth, wrapLine, type Stream } from "./output.ts";
import type { Exec } from "../exec.ts";
// the fault names only (a leaf module): the simulation itself is loaded on --simulate
import { FAULT_HELP } from "../sim/faults.ts";

export * from "./errors.ts";
export { Output, renderTable, formatDuration, plural, type Status, type Waiting } from "./output.ts";

/**
 * defineScript(): the one frame every script in scripts/ uses. It parses flags (node:util parseArgs), answers
 * --help, maps errors to exit codes (0 ok, 1 failed, 2 usage/configuration, 130 interrupted) with one sentence and
 * no stack trace (stack with --verbose), and hands run() a context with output, exec (dry-run aware) and an
 * AbortSignal that Ctrl-C trips.
 */

export type { FlagDef, FlagDefs, FlagValues, Duration } from "./flags.ts";
export { LOCK_FLAGS, nodeFlag, nodesFlag, rollingFlags, snapshotDirFlag, parseDurationText, WAIT_FLAGS } from "./flags.ts";

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
  /** runs until stopped (simulate): Ctrl-C or SIGTERM is its normal end, exit 0 after cleanup */
  untilStopped?: boolean;
  /**
   * the state --simulate starts in: what this script needs (default "complete", the healthy cluster a day-2
   * script expects; the bootstrap scripts start earlier). One of lib/sim's SIM_STATES.
   */
  simState?: "bare" | "configured" | "talos" | "bootstrapped" | "complete";
  /** generates the machine configs itself: --simulate starts without the configs it otherwise has ready */
  simGeneratesConfigs?: boolean;
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
  "sim-nodes": { type: "integer", min: 1, max: 1000, placeholder: "n", description: "with --simulate: number of simulated nodes" },
} as const satisfies FlagDefs;

export function allFlags<F extends FlagDefs>(def: ScriptDef<F>): FlagDefs {
  return {
    ...(def.flags ?? {}),
    ...(def.mutates ? MUTATING_FLAGS : {}),
    ...(def.live ? LIVE_FLAGS : {}),
    ...COMMON_FLAGS,
  };
}

export function renderHelp<F extends FlagDefs>(def: ScriptDef<F>, width?: number): string {
  const lines: string[] = [];
  lines.push(`${def.name}: ${def.summary}`, "");
  lines.push(`Usage: bun scripts/${def.name}.ts [flags]${def.args ? " " + def.args : ""}`);
  if (def.description) {
    const text = def.description.trim();
    // the description is written as paragraphs; on a terminal they are wrapped to its width
    if (width === undefined) lines.push("", ...text.split("\n"));
    else for (const para of text.split(/\n\s*\n/)) lines.push("", ...wrapLine(para.replace(/\s*\n\s*/g, " "), width, ""));
  }
  lines.push("", "Flags:");
  const flags = allFlags(def);
  const cells = Object.entries(flags).map(([name, f]) => {
    const short = f.short ? `-${f.short}, ` : "    ";
    const value = f.type === "boolean" ? "" : ` <${("placeholder" in f && f.placeholder) || "value"}>`;
    let text = f.description;
    if ("choices" in f && f.choices) text += ` (${f.choices.join("|")})`;
    if (f.type === "integer") text += ` (${f.min}-${f.max})`;
    if ("aliases" in f && f.aliases?.length) text += ` (also ${f.aliases.map((a) => `--${a}`).join(", ")})`;
    if (f.default !== undefined && f.default !== false && !(Array.isArray(f.default) && f.default.length === 0))
      text += ` [default: ${Array.isArray(f.default) ? f.default.join(",") : String(f.default)}]`;
    if (f.type === "string" && f.multiple) text += " (repeatable)";
    return [`  ${short}--${name}${value}`, text] as const;
  });
  const column = Math.max(...cells.map(([l]) => l.length)) + 2;
  for (const [left, text] of cells) {
    // descriptions wrap under their own column; on a narrow terminal they go below the flag
    const room = width === undefined ? undefined : width - column;
    if (room !== undefined && room < 30) {
      lines.push(left, ...wrapLine(`      ${text}`, width));
      continue;
    }
    const wrapped = wrapLine(text, room).map((l, i) => (i === 0 ? l : l.trimStart()));
    lines.push(left.padEnd(column) + wrapped[0], ...wrapped.slice(1).map((l) => " ".repeat(column + 2) + l));
  }
  if (def.examples?.length) {
    lines.push("", "Examples:");
    for (const e of def.examples) lines.push(`  ${e}`);
  }
  lines.push("", `Replaces: ${def.replaces.length ? def.replaces.map((r) => `task ${r}`).join(", ") : "(new)"}`);
  lines.push(`Exit codes: 0 ok, 1 check or operation failed, 2 bad input or missing precondition (nothing changed), 130 interrupted, 143 terminated`);
  return (width === undefined ? lines : lines.flatMap((l) => wrapLine(l, width))).join("\n");
}

/** Finds the repository root: the nearest folder upwards holding package.json and kubernetes/. */
export function findRepoRoot(start: string): string {
  // required here, not imported: Bun's node: modules cost milliseconds to load, and --help answers without them
  const { existsSync } = require("node:fs") as typeof import("node:fs");
  const path = nodePath();
  let dir = path.resolve(start);
  for (;;) {
    if (existsSync(path.join(dir, "package.json")) && existsSync(path.join(dir, "scripts"))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve(import.meta.dir, "../..");
    dir = parent;
  }
}

function nodePath(): typeof import("node:path") {
  return require("node:path") as typeof import("node:path");
}

/**
 * True when argv certainly asks for --help (or -h, alone or in a group like -vh) and parseArgs would accept it:
 * every flag is known, every value flag has its value, no stray argument. `--help` as a value (`--router-cmd=--help`)
 * or after `--` is not a help request. Anything unsure is false, and parseFlags decides (and says what is wrong).
 * A help request with a bad value of a known flag (`--node-timeout 10 --help`) gets the help: values are checked
 * only for a run.
 */
export function helpAsked(flags: FlagDefs, argv: string[], positionals: boolean): boolean {
  let help = false;
  // parseArgs' own rule: a value flag followed by a dash-led word is ambiguous (an error), unless given as --flag=value
  const takesValue = (next: string | undefined) => next !== undefined && !(next.length > 1 && next.startsWith("-"));
  const long = (name: string): FlagDef | undefined => {
    if (Object.hasOwn(flags, name)) return flags[name];
    for (const f of Object.values(flags)) if (f.type === "string" && "aliases" in f && f.aliases?.includes(name)) return f;
    return undefined;
  };
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i]!;
    if (tok === "--") return help && (positionals || i === argv.length - 1);
    if (tok.startsWith("--")) {
      const eq = tok.indexOf("=");
      const name = tok.slice(2, eq < 0 ? undefined : eq);
      const f = long(name);
      if (!f) return false;
      if (f.type === "boolean") {
        if (eq >= 0) return false;
        if (name === "help") help = true;
      } else if (eq >= 0) {
        if (eq === tok.length - 1) return false;
      } else if (takesValue(argv[i + 1])) i++;
      else return false;
    } else if (tok.length > 1 && tok.startsWith("-")) {
      for (let j = 1; j < tok.length; j++) {
        const entry = Object.entries(flags).find(([, f]) => f.short === tok[j]);
        if (!entry) return false;
        const [name, f] = entry;
        if (f.type === "boolean") {
          if (name === "help") help = true;
          continue;
        }
        // a value flag takes the rest of the group (-nmini01) or the next argument
        if (j === tok.length - 1) {
          if (!takesValue(argv[i + 1])) return false;
          i++;
        }
        break;
      }
    } else if (!positionals) return false;
  }
  return help;
}

function parseFlags<F extends FlagDefs>(def: ScriptDef<F>, argv: string[]) {
  const flags = allFlags(def);
  const help = `run \`bun scripts/${def.name}.ts --help\``;
  const options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = {};
  const aliasOf = new Map<string, string>();
  for (const [name, f] of Object.entries(flags)) {
    options[name] = { type: f.type === "boolean" ? "boolean" : "string" };
    if (f.short) options[name].short = f.short;
    if (f.type === "string" && f.multiple) options[name].multiple = true;
    if (f.type === "string" && "aliases" in f)
      for (const alias of f.aliases ?? []) {
        options[alias] = { type: "string" };
        aliasOf.set(alias, name);
      }
  }
  let parsed;
  try {
    // required here, not imported: node:util costs Bun 1.5-2.5 ms to load, and --help answers before it (helpAsked)
    const { parseArgs } = require("node:util") as typeof import("node:util");
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    const msg = (e as Error).message.split("\n")[0]!.replace(/\. To specify a positional argument.*$/, "");
    throw new UsageError(msg, help);
  }
  const values = parsed.values as Record<string, unknown>;
  for (const [alias, name] of aliasOf) {
    if (values[alias] === undefined) continue;
    if (values[name] !== undefined) throw new UsageError(`--${alias} and --${name} are the same flag; give it once`, help);
    values[name] = values[alias];
    delete values[alias];
  }
  for (const [name, f] of Object.entries(flags)) {
    const given = values[name];
    if (typeof given === "string" && given === "" && (f.type === "string" || f.type === "version"))
      throw new UsageError(`--${name} needs a value`, help);
    if (Array.isArray(given) && given.includes("")) throw new UsageError(`--${name} needs a value`, help);
    if (f.type === "boolean") values[name] = given ?? f.default ?? false;
    else if (f.type === "duration") {
      const text = (given as string | undefined) ?? f.default;
      values[name] = text === undefined ? undefined : durationValue(name, text);
    } else if (f.type === "version") {
      const text = (given as string | undefined) ?? f.default;
      values[name] = text === undefined ? undefined : versionValue(name, text);
    } else if (f.type === "integer") {
      values[name] = given === undefined ? f.default : integerValue(name, given as string, f);
    } else if (f.multiple) values[name] = given ?? f.default ?? [];
    else {
      values[name] = given ?? f.default;
      if (f.choices && typeof values[name] === "string" && !f.choices.includes(values[name] as string))
        throw new UsageError(`--${name} must be one of ${f.choices.join(", ")}, not "${values[name]}"`);
    }
  }
  if (!def.args && parsed.positionals.length > 0)
    throw new UsageError(`unexpected argument "${parsed.positionals[0]}"`, help);
  return { values, positionals: parsed.positionals };
}

async function defaultReadLine(prompt: string): Promise<string | null> {
  process.stderr.write(prompt);
  for await (const line of console) return line;
  return null;
}

/** What a --json run prints when it fails: the same sentence and hint as the human `error:` lines. */
export interface JsonError {
  message: string;
  hint?: string;
  exitCode: number;
}

/**
 * Builds the run's one JSON document: the script's result (if it set one) with `ok` first, and the error object
 * when the run failed. A script that left `ok` out gets it from the exit code.
 */
export function jsonDocument(
  result: { value: unknown } | undefined,
  code: number,
  error?: JsonError,
  name = "the script",
): Record<string, unknown> {
  const v = result?.value;
  const body: Record<string, unknown> =
    v !== null && typeof v === "object" && !Array.isArray(v) ? { ...(v as Record<string, unknown>) } : v === undefined ? {} : { result: v };
  const ok = error ? false : typeof body.ok === "boolean" ? body.ok && code === 0 : code === 0;
  delete body.ok;
  const doc: Record<string, unknown> = { ok, ...body };
  if (error) doc.error = error;
  else if (code !== 0)
    doc.error = {
      message: result ? `${name} found problems; this document lists them` : `${name} failed; the reason is on stderr`,
      exitCode: code,
    } satisfies JsonError;
  return doc;
}

const SIGNALS = [
  ["SIGINT", ExitCode.interrupted, "interrupted"],
  ["SIGTERM", ExitCode.terminated, "terminated"],
] as const;

export function defineScript<F extends FlagDefs>(meta: ImportMeta | null, def: ScriptDef<F>): Script<F> {
  const script: Script<F> = {
    def,
    async main(argv, io = {}) {
      const env = io.env ?? process.env;
      const stdout = io.stdout ?? process.stdout;
      const stderr = io.stderr ?? process.stderr;
      // a help request answers first: before parseArgs is loaded (node:util costs Bun more than the help itself),
      // the output and the signal handlers are set up
      if (helpAsked(allFlags(def), argv, def.args !== undefined)) {
        stdout.write(renderHelp(def, outputWidth(stdout, env)) + "\n");
        return ExitCode.ok;
      }
      const jsonAsked = argv.includes("--json");
      let out = new Output({ stdout, stderr, env, json: jsonAsked, verbose: argv.includes("--verbose"), deferResult: true });
      const controller = new AbortController();
      let signals = 0;
      const handlers = SIGNALS.map(([name, code, word]) => {
        const handler = () => {
          signals += 1;
          if (signals > 1) process.exit(code);
          out.log(`${word}: stopping cleanly${name === "SIGINT" ? " (Ctrl-C again to quit at once)" : ""}`);
          controller.abort(new InterruptedError(word, code));
        };
        return [name, handler] as const;
      });
      const listening = meta?.main === true;
      if (listening) for (const [name, h] of handlers) process.on(name, h);
      let code: number;
      let error: JsonError | undefined;
      try {
        const { values, positionals } = parseFlags(def, argv);
        if (values.help) {
          stdout.write(renderHelp(def, outputWidth(stdout, env)) + "\n");
          return ExitCode.ok;
        }
        // loaded only for a real run: --help and flag errors answer without zx and the tool runner
        const { Exec } = await import("../exec.ts");
        const exec = new Exec({ dryRun: values["dry-run"] === true, out, signal: controller.signal, env });
        out = new Output({
          stdout,
          stderr,
          env,
          json: values.json === true,
          verbose: values.verbose === true,
          redact: (t) => exec.redact(t),
          deferResult: true,
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
          const nodes = values["sim-nodes"] as number | undefined;
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
          code = await sim.runSimulated({ root, nodes, out, signal: controller.signal, settings, seedConfigs }, async (simEnv) => {
            ctx.env = { ...env, ...simEnv };
            exec.env = ctx.env;
            return (await def.run(ctx)) ?? ExitCode.ok;
          });
        } else code = (await def.run(ctx)) ?? ExitCode.ok;
        if (controller.signal.aborted && !def.untilStopped) throw controller.signal.reason;
      } catch (e) {
        ({ code, error } = reportError(e, out, controller.signal));
      } finally {
        if (listening) for (const [name, h] of handlers) process.off(name, h);
      }
      if ((out.json || jsonAsked) && !out.resultWritten) out.writeResult(jsonDocument(out.takeResult(), code, error, def.name));
      return code;
    },
  };
  if (meta?.main) {
    const stdout = new ProcessStream(1);
    const stderr = new ProcessStream(2);
    script
      .main(process.argv.slice(2), { stdout, stderr })
      .then(async (code) => {
        await Promise.all([stdout.drained(), stderr.drained()]);
        process.exit(code);
      });
  }
  return script;
}

/** Says what went wrong on stderr (one sentence and a hint) and returns the exit code and the JSON error. */
export function reportError(e: unknown, out: Output, signal?: AbortSignal): { code: number; error: JsonError } {
  // after Ctrl-C or SIGTERM, whatever the run failed with on its way out (a talosctl killed mid-reboot, a gate
  // cut short) is a consequence of the stop: the exit code says interrupted, and the cause shows with --verbose
  if (signal?.aborted) {
    const reason = signal.reason instanceof InterruptedError ? signal.reason : new InterruptedError();
    out.log(reason.message);
    if (out.verbose && !(e instanceof InterruptedError)) out.log(`  while stopping: ${e instanceof Error ? e.message : String(e)}`);
    return { code: reason.exitCode, error: { message: reason.message, exitCode: reason.exitCode } };
  }
  if (e instanceof ToolkitError) {
    out.log(`error: ${e.message}`);
    if (e.hint) out.log(`  ${e.hint}`);
    if (out.verbose && e.detail) out.log(`  raw: ${e.detail}`);
    if (out.verbose && e.cause instanceof Error && e.cause.stack) out.log(e.cause.stack);
    return { code: e.exitCode, error: { message: e.message, ...(e.hint ? { hint: e.hint } : {}), exitCode: e.exitCode } };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  const message = err.message.split("\n")[0]!;
  out.log(`error: ${message}`);
  const hint = "run again with --verbose for the stack trace";
  if (out.verbose && err.stack) out.log(err.stack);
  else out.log(`  ${hint}`);
  return { code: ExitCode.failed, error: { message, hint, exitCode: ExitCode.failed } };
}

/** A path as the user should read it: relative inside the repo, absolute outside it (a NAS mount). */
export function displayPath(root: string, file: string): string {
  const path = nodePath();
  const rel = path.relative(root, file);
  return rel.startsWith("..") || path.isAbsolute(rel) ? path.resolve(file) : rel;
}
