import type { ProcessOutput } from "zx";
import { ConfigError, OperationError, InterruptedError } from "./cli/errors.ts";
import { formatDuration, type Output } from "./cli/output.ts";

/**
 * The one way home-ops runs an external tool (talosctl, talhelper, helm, flux, op, kubectl, vtysh).
 * Arguments are an array (zx quotes each one; no shell string is ever built), every run has a timeout,
 * --dry-run prints the exact command instead of running anything that changes state, and secrets travel on
 * stdin only and are redacted from every line this process writes.
 */

/** A secret value. Prints as its label everywhere; only reveal() gives the value, for stdin or an API body. */
export class Secret {
  readonly #value: string;
  readonly label: string;
  constructor(value: string, label = "secret") {
    this.#value = value;
    this.label = label;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return `[redacted:${this.label}]`;
  }
  toJSON(): string {
    return this.toString();
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

export interface RunOptions {
  /** data for the tool's stdin: the only way a secret reaches a process */
  stdin?: string | Secret;
  /** kill the process after this many ms (default 120 s) */
  timeoutMs?: number;
  /** a read-only command (get, version, status) still runs under --dry-run */
  readOnly?: boolean;
  /** do not throw on a non-zero exit; the caller inspects exitCode */
  allowFailure?: boolean;
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** what the command is for, for progress and error messages */
  purpose?: string;
}

export interface RunResult {
  command: string;
  stdout: string;
  stderr: string;
  exitCode: number;
  timedOut: boolean;
  dryRun: boolean;
}

export interface ExecOptions {
  dryRun?: boolean;
  out?: Output;
  signal?: AbortSignal;
  env?: Record<string, string | undefined>;
}

const SAFE_ARG = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Renders argv as a person would type it in a POSIX shell. */
export function formatCommand(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map((a) => (a !== "" && SAFE_ARG.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(" ");
}

export class Exec {
  dryRun: boolean;
  out?: Output;
  env: Record<string, string | undefined>;
  readonly signal?: AbortSignal;
  /** every command line this Exec ran or would have run, for --dry-run plans and tests */
  readonly history: Array<{ command: string; dryRun: boolean }> = [];
  private readonly secrets = new Set<string>();

  constructor(opts: ExecOptions = {}) {
    this.dryRun = opts.dryRun ?? false;
    this.out = opts.out;
    this.signal = opts.signal;
    this.env = opts.env ?? process.env;
  }

  /** Registers a value that must never be printed; returns it wrapped. */
  secret(value: string, label?: string): Secret {
    if (value.length >= 4) this.secrets.add(value);
    return new Secret(value, label);
  }

  /** Replaces every registered secret value in text. */
  redact(text: string): string {
    let result = text;
    for (const s of this.secrets) result = result.replaceAll(s, "[redacted]");
    return result;
  }

  async run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    if (opts.stdin instanceof Secret) this.secrets.add(opts.stdin.reveal());
    for (const a of args) {
      if (this.isSecretArg(a))
        throw new ConfigError(`refusing to pass a secret on the command line of ${cmd}`, "pass it on stdin instead");
    }
    const command = formatCommand(cmd, args);
    const shown = this.redact(command);
    if (this.dryRun && !opts.readOnly) {
      this.history.push({ command: shown, dryRun: true });
      this.out?.line(`[dry-run] ${shown}${opts.stdin !== undefined ? " < (stdin)" : ""}`);
      return { command: shown, stdout: "", stderr: "", exitCode: 0, timedOut: false, dryRun: true };
    }
    if (this.signal?.aborted) throw new InterruptedError();
    this.history.push({ command: shown, dryRun: false });
    this.out?.debug(`$ ${shown}`);
    const timeoutMs = opts.timeoutMs ?? 120_000;
    // stdin is always closed after what we pass: a tool that prompts fails fast instead of hanging
    const input = opts.stdin instanceof Secret ? opts.stdin.reveal() : opts.stdin;
    const env = { ...(opts.env ?? this.env) } as Record<string, string>;
    let output: ProcessOutput;
    let timedOut = false;
    // zx is loaded on first use: it costs ~100 ms, and most script starts (--help, dry runs) never run a tool
    const { $, ProcessOutput } = await import("zx");
    const started = performance.now();
    try {
      const p = $({
        quiet: true,
        nothrow: true,
        verbose: false,
        env,
        cwd: opts.cwd,
        // stdin is /dev/null unless we pass data: a tool that prompts fails fast instead of hanging
        ...(input ? { input } : { stdio: ["ignore", "pipe", "pipe"] as ["ignore", "pipe", "pipe"] }),
        signal: this.signal,
        timeout: timeoutMs,
        timeoutSignal: "SIGKILL",
      })`${cmd} ${[...args]}`;
      output = await p;
    } catch (e) {
      if (this.signal?.aborted) throw new InterruptedError();
      if (e instanceof ProcessOutput) output = e;
      else if (/ENOENT|not found/i.test(String(e)))
        throw new ConfigError(`${cmd} not found on PATH`, "run `mise install` to get the pinned tools", e);
      else throw e;
    }
    if (this.signal?.aborted) throw new InterruptedError();
    const exitCode = output.exitCode ?? -1;
    // zx kills with SIGKILL at the deadline; depending on how the tool was started that surfaces as the signal or
    // as exit 137, so the clock decides
    if (exitCode !== 0 && performance.now() - started >= timeoutMs && (output.signal === "SIGKILL" || exitCode === 137))
      timedOut = true;
    if (exitCode === 127 && !output.stdout && /not found|No such file/i.test(output.stderr))
      throw new ConfigError(`${cmd} not found on PATH`, "run `mise install` to get the pinned tools");
    const result: RunResult = {
      command: shown,
      stdout: output.stdout,
      stderr: output.stderr,
      exitCode,
      timedOut,
      dryRun: false,
    };
    if (timedOut)
      throw new OperationError(`${shown} did not finish within ${formatDuration(timeoutMs)} and was stopped`);
    if (exitCode !== 0 && !opts.allowFailure) {
      const reason = this.redact(firstMeaningfulLine(output.stderr) || firstMeaningfulLine(output.stdout) || "");
      throw new OperationError(
        `${opts.purpose ? opts.purpose + ": " : ""}${shown} failed (exit ${exitCode})${reason ? ": " + reason : ""}`,
      );
    }
    return result;
  }

  private isSecretArg(arg: string): boolean {
    for (const s of this.secrets) if (arg.includes(s)) return true;
    return false;
  }
}

function firstMeaningfulLine(text: string): string {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.find((l) => /error|failed|denied|refused|invalid|not /i.test(l)) ?? lines[0] ?? "";
}

// ---------------------------------------------------------------------------------------------------------------
// Tool presence and versions

/** How each pinned tool reports its own version. Unknown tools are asked `--version`. */
const VERSION_ARGS: Record<string, string[]> = {
  talosctl: ["version", "--client", "--short"],
  kubectl: ["version", "--client"],
  helm: ["version", "--short"],
  flux: ["version", "--client"],
  cilium: ["version", "--client"],
  talhelper: ["--version"],
  op: ["--version"],
  kustomize: ["version"],
  yq: ["--version"],
  jq: ["--version"],
  bun: ["--version"],
};

export type Version = [number, number, number];

export function parseVersion(text: string): Version | null {
  const m = /v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return null;
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

export function compareVersions(a: Version, b: Version): number {
  for (let i = 0; i < 3; i++) if (a[i]! !== b[i]!) return a[i]! - b[i]!;
  return 0;
}

/**
 * Whether `version` satisfies `range`. A range is one or more space-separated terms, all of which must hold:
 * `1.10.5` (exactly), `1.31` or `1.31.x` (any patch of that minor), `2` or `2.x` (any of that major),
 * `>=1.2.3`, `>1.2`, `<=1.3`, `<2`.
 */
export function satisfies(version: Version, range: string): boolean {
  const terms = range.trim().split(/\s+/).filter(Boolean);
  if (terms.length === 0) throw new ConfigError(`empty version range`);
  return terms.every((term) => {
    const m = /^(>=|<=|>|<|=)?v?(\d+)(?:\.(\d+|x))?(?:\.(\d+|x))?$/.exec(term);
    if (!m) throw new ConfigError(`"${range}" is not a version range (like 1.10.5, 1.31, 2.x or >=1.2.0)`);
    const op = m[1] ?? "=";
    const parts = [m[2], m[3], m[4]].map((p) => (p === undefined || p === "x" ? undefined : Number(p)));
    if (op === "=") return parts.every((p, i) => p === undefined || p === version[i]);
    const bound: Version = [parts[0] ?? 0, parts[1] ?? 0, parts[2] ?? 0];
    const c = compareVersions(version, bound);
    return op === ">=" ? c >= 0 : op === ">" ? c > 0 : op === "<=" ? c <= 0 : c < 0;
  });
}

export function formatVersion(v: Version): string {
  return v.join(".");
}

export interface ToolCheck {
  name: string;
  found: boolean;
  version?: string;
  required: string;
  ok: boolean;
  message: string;
}

/** Checks that `name` is on PATH and its version satisfies `range`, without throwing. */
export async function checkTool(
  name: string,
  range: string,
  opts: { env?: Record<string, string | undefined>; timeoutMs?: number } = {},
): Promise<ToolCheck> {
  const env = opts.env ?? process.env;
  const path = Bun.which(name, { PATH: env.PATH ?? "" });
  if (!path)
    return {
      name,
      found: false,
      required: range,
      ok: false,
      message: `${name} not found on PATH, ${range} required: run \`mise install\``,
    };
  const exec = new Exec({ env });
  const res = await exec
    .run(path, VERSION_ARGS[name] ?? ["--version"], { readOnly: true, allowFailure: true, timeoutMs: opts.timeoutMs ?? 15_000 })
    .catch(() => null);
  const version = res ? parseVersion(res.stdout + "\n" + res.stderr) : null;
  if (!version)
    return {
      name,
      found: true,
      required: range,
      ok: false,
      message: `${name} found at ${path} but its version could not be read, ${range} required: run \`mise install\``,
    };
  const v = formatVersion(version);
  const ok = satisfies(version, range);
  return {
    name,
    found: true,
    version: v,
    required: range,
    ok,
    message: ok ? `${name} ${v}` : `${name} ${v} found, ${range} required: run \`mise install\``,
  };
}

/** Throws a ConfigError (exit 2) unless `name` is present at a version within `range`. */
export async function requireTool(
  name: string,
  range: string,
  opts: { env?: Record<string, string | undefined> } = {},
): Promise<string> {
  const check = await checkTool(name, range, opts);
  if (!check.ok) {
    const [message, hint] = check.message.split(": run ");
    throw new ConfigError(message!, hint ? `run ${hint}` : undefined);
  }
  return check.version!;
}
