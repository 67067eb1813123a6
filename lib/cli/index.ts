import { ExitCode } from "./errors.ts";
import type { FlagDef, FlagDefs, FlagValues } from "./flags.ts";
// text.ts is what --help needs; the run (run.ts, with parseArgs and the Output of output.ts) loads for a run only
import { ProcessStream, outputWidth, wrapLine, type Stream } from "./text.ts";
import type { Output } from "./output.ts";
import type { Exec } from "../exec.ts";
// the fault names only (a leaf module): the simulation itself is loaded on --simulate
import { FAULT_HELP } from "../sim/fault-help.ts";
import { SIM_STATES } from "../sim/states.ts";

export * from "./errors.ts";
export { formatDuration, plural } from "./text.ts";
export type { Output, Status, Waiting } from "./output.ts";

/**
 * defineScript(): the one frame every script in scripts/ uses. It answers --help itself, from the few files --help
 * needs; a run loads lib/cli/run.ts, which parses flags (node:util parseArgs), maps errors to exit codes (0 ok,
 * 1 failed, 2 usage/configuration, 130 interrupted, 143 terminated) with one sentence and no stack trace (stack with
 * --verbose), and hands run() a context with output, exec (dry-run aware) and an AbortSignal that Ctrl-C trips.
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

const LIVE_FLAGS = {
  simulate: {
    type: "boolean",
    description: "rehearse against a simulated cluster of this repo (lib/sim): nothing real is read or written",
  },
  "sim-state": {
    type: "string",
    placeholder: "state",
    description: "with --simulate: the state it starts in [default: what this script needs; env HOMEOPS_SIM_STATE]",
    choices: SIM_STATES,
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

/**
 * True when argv certainly asks for --help (or -h, alone or in a group like -vh) and parseArgs would accept it:
 * every flag is known, every value flag has its value, no stray argument. `--help` as a value (`--router-cmd=--help`)
 * or after `--` is not a help request. Anything unsure is false, and the run's parseFlags (run.ts) decides and says what is wrong.
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

export function defineScript<F extends FlagDefs>(meta: ImportMeta | null, def: ScriptDef<F>): Script<F> {
  const script: Script<F> = {
    def,
    async main(argv, io = {}) {
      const env = io.env ?? process.env;
      const stdout = io.stdout ?? process.stdout;
      // a help request answers first: before parseArgs is loaded (node:util costs Bun more than the help itself),
      // the output and the signal handlers are set up
      if (helpAsked(allFlags(def), argv, def.args !== undefined)) {
        stdout.write(renderHelp(def, outputWidth(stdout, env)) + "\n");
        return ExitCode.ok;
      }
      // everything else (flags parsed by parseArgs, output, exec, signals, exit codes) is the run's: lib/cli/run.ts
      const { runScript } = await import("./run.ts");
      return runScript(def, meta, argv, io);
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

/** A path as the user should read it: relative inside the repo, absolute outside it (a NAS mount). */
export function displayPath(root: string, file: string): string {
  // required here, not imported: the first node: module costs Bun over half a millisecond, and --help needs none
  const path = require("node:path") as typeof import("node:path");
  const rel = path.relative(root, file);
  return rel.startsWith("..") || path.isAbsolute(rel) ? path.resolve(file) : rel;
}
