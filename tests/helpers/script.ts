/**
 * The one way tests run a script of this repo as a process (Bun.spawn, stdin not a terminal): exit code, signal,
 * stdout, stderr and time, with a deadline (SIGKILL) and, for interruption tests, a signal sent once stderr shows a
 * given text.
 */
import path from "node:path";

export const REPO = path.resolve(import.meta.dir, "../..");

export interface ScriptRunOptions {
  /** the repo whose scripts/ runs (default: this one) */
  root?: string;
  /** working directory (default: root) */
  cwd?: string;
  /** the whole environment when `inherit` is false; else added over this process's environment */
  env?: Record<string, string | undefined>;
  inherit?: boolean;
  /** SIGKILL after this long (default 120 s) */
  timeoutMs?: number;
  /** send `signal` (default SIGKILL) `delayMs` after stderr first matches */
  killWhen?: RegExp;
  signal?: NodeJS.Signals;
  delayMs?: number;
  /** text for the script's stdin (default: none, stdin closed) */
  stdin?: string;
}

export interface ScriptRun {
  code: number;
  signal: string | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** stdout parsed as JSON; a clear error with both streams when it is not */
  json<T = any>(): T;
}

export async function runScript(script: string, args: string[], opts: ScriptRunOptions = {}): Promise<ScriptRun> {
  const root = opts.root ?? REPO;
  const file = script.endsWith(".ts") ? script : path.join(root, "scripts", `${script}.ts`);
  const env = opts.inherit === false ? { NO_COLOR: "1", ...opts.env } : { ...process.env, NO_COLOR: "1", ...opts.env };
  const t0 = performance.now();
  const proc = Bun.spawn(["bun", file, ...args], {
    cwd: opts.cwd ?? root,
    env: env as Record<string, string>,
    stdout: "pipe",
    stderr: "pipe",
    stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
  let stderr = "";
  let signalled = false;
  const readErr = (async () => {
    const dec = new TextDecoder();
    for await (const chunk of proc.stderr) {
      stderr += dec.decode(chunk, { stream: true });
      if (!signalled && opts.killWhen?.test(stderr)) {
        signalled = true;
        setTimeout(() => proc.kill(opts.signal ?? "SIGKILL"), opts.delayMs ?? 0);
      }
    }
  })();
  const [stdout, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited, readErr]);
  clearTimeout(timer);
  return {
    code,
    signal: proc.signalCode === null ? null : String(proc.signalCode),
    stdout,
    stderr,
    ms: performance.now() - t0,
    json() {
      try {
        return JSON.parse(stdout);
      } catch {
        throw new Error(`stdout of ${script} is not JSON (exit ${code}):\n${stdout}\n--- stderr:\n${stderr}`);
      }
    },
  };
}
