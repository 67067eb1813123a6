import path from "node:path";
import { parseArgs } from "node:util";
import { ConfigError, ExitCode, InterruptedError, ToolkitError, UsageError } from "./errors.ts";
import { durationValue, integerValue, versionValue, type FlagDefs, type FlagValues } from "./flags.ts";
import { allFlags, renderHelp, type IO, type RunContext, type ScriptDef } from "./index.ts";
import { Output } from "./output.ts";
import { outputWidth } from "./text.ts";

/**
 * The run of a script, after defineScript() (index.ts) has seen that it is not a help request: flags parsed with
 * node:util parseArgs and checked, the output, exec (dry-run aware), Ctrl-C and SIGTERM, errors mapped to exit
 * codes with one sentence, the --json document. Loaded only for a run, so --help loads none of it.
 */

/** Finds the repository root: the nearest folder upwards holding package.json and kubernetes/. */
export function findRepoRoot(start: string): string {
  // required here, not imported: node:fs costs Bun about a millisecond to load, and flag errors answer without it
  const { existsSync } = require("node:fs") as typeof import("node:fs");
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

export async function runScript<F extends FlagDefs>(def: ScriptDef<F>, meta: ImportMeta | null, argv: string[], io: IO): Promise<number> {
  const env = io.env ?? process.env;
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
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
