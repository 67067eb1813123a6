/**
 * The stand-in tool protocol. lib/sim/bin/<tool> is a tiny Bun script that POSTs its argv, stdin, cwd and
 * environment to the simulation's control endpoint (a loopback HTTP server: HOMEOPS_SIM_URL, authenticated with the
 * random HOMEOPS_SIM_TOKEN) and prints the stdout/stderr it gets back, exiting with the code. Each tool's behaviour
 * is a handler registered on the SimCluster; every call's argv is recorded so tests can prove no secret was passed
 * on a command line.
 *
 *   POST {url}/call   Authorization: Bearer <token>
 *   body:     {"tool": "talosctl", "argv": [...], "stdin": "...", "cwd": "/abs", "env": {...}}
 *   response: {"stdout": "...", "stderr": "...", "exitCode": 0}
 */
import { randomBytes } from "node:crypto";
import path from "node:path";

export interface ToolCall {
  argv: string[];
  stdin: string;
  env: Record<string, string>;
  /** the directory the tool was run in (relative paths in argv resolve against it) */
  cwd: string;
}

export interface ToolResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export type ToolHandler = (call: ToolCall) => Promise<ToolResult> | ToolResult;

export interface CallRecord {
  tool: string;
  argv: string[];
  cwd: string;
  exitCode: number;
  /** the environment the tool was started with (tests check that no secret travels there) */
  env?: Record<string, string>;
  /** ms since the control server started */
  at: number;
  ms: number;
}

/** Where the stand-in executables live (put first on PATH). */
export const BIN_DIR = path.resolve(import.meta.dir, "bin");

/** The stand-ins lib/sim/bin provides (kubectl is deliberately not one of them: the real one talks to the API). */
export const STAND_IN_TOOLS = ["talosctl", "talhelper", "op", "helm", "flux", "vtysh"] as const;

export class ToolRegistry {
  private readonly handlers = new Map<string, ToolHandler>();
  readonly calls: CallRecord[] = [];
  private readonly started = Date.now();

  register(name: string, handler: ToolHandler): void {
    this.handlers.set(name, handler);
  }

  has(name: string): boolean {
    return this.handlers.has(name);
  }

  names(): string[] {
    return [...this.handlers.keys()];
  }

  /** Runs a tool in-process (the control server and unit tests use this). `record: false` for the simulation's own setup. */
  async call(tool: string, call: Partial<ToolCall> & { argv: string[] }, opts: { record?: boolean } = {}): Promise<ToolResult> {
    const full: ToolCall = { argv: call.argv, stdin: call.stdin ?? "", env: call.env ?? {}, cwd: call.cwd ?? process.cwd() };
    const t0 = Date.now();
    const handler = this.handlers.get(tool);
    let result: ToolResult;
    if (!handler) {
      result = { stdout: "", stderr: `${tool}: not available in the simulated cluster\n`, exitCode: 127 };
    } else {
      try {
        result = await handler(full);
      } catch (e) {
        result = { stdout: "", stderr: `${tool}: internal error in the simulation: ${(e as Error).message}\n`, exitCode: 70 };
      }
    }
    if (opts.record !== false) this.calls.push({ tool, argv: [...full.argv], cwd: full.cwd, env: full.env, exitCode: result.exitCode, at: t0 - this.started, ms: Date.now() - t0 });
    return result;
  }
}

export interface ControlServer {
  url: string;
  token: string;
  stop(): Promise<void>;
}

/** Starts the loopback control endpoint the stand-ins talk to. */
export function startControlServer(registry: ToolRegistry): ControlServer {
  const token = randomBytes(24).toString("hex");
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      const url = new URL(req.url);
      if (req.headers.get("authorization") !== `Bearer ${token}`) return new Response("forbidden\n", { status: 403 });
      if (req.method === "GET" && url.pathname === "/healthz") return new Response("ok\n");
      if (req.method !== "POST" || url.pathname !== "/call") return new Response("not found\n", { status: 404 });
      let body: { tool?: unknown; argv?: unknown; stdin?: unknown; cwd?: unknown; env?: unknown };
      try {
        body = (await req.json()) as typeof body;
      } catch {
        return new Response("bad request\n", { status: 400 });
      }
      if (typeof body.tool !== "string" || !Array.isArray(body.argv)) return new Response("bad request\n", { status: 400 });
      const result = await registry.call(body.tool, {
        argv: body.argv.map(String),
        stdin: typeof body.stdin === "string" ? body.stdin : "",
        cwd: typeof body.cwd === "string" ? body.cwd : process.cwd(),
        env: body.env && typeof body.env === "object" ? (body.env as Record<string, string>) : {},
      });
      return Response.json(result);
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    token,
    async stop() {
      await server.stop(true);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Small helpers for handlers

export const ok = (stdout = "", stderr = ""): ToolResult => ({ stdout, stderr, exitCode: 0 });
export const fail = (stderr: string, exitCode = 1, stdout = ""): ToolResult => ({
  stdout,
  stderr: stderr.endsWith("\n") ? stderr : stderr + "\n",
  exitCode,
});

export interface FlagSpec {
  /** long name without dashes */
  name: string;
  short?: string;
  type: "bool" | "string" | "strings";
}

export class FlagParseError extends Error {}

/**
 * Parses argv the way spf13/pflag does: `--name value`, `--name=value`, `-n value`, `-n=value`, `-nvalue`,
 * booleans as `--flag` / `--flag=false`, `strings` flags repeatable and comma-split; `--` ends flags.
 */
export function parsePflags(
  argv: string[],
  specs: FlagSpec[],
): { flags: Record<string, string | boolean | string[]>; positionals: string[] } {
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const flags: Record<string, string | boolean | string[]> = {};
  const positionals: string[] = [];
  const set = (s: FlagSpec, value: string | undefined, next: () => string | undefined, shown: string) => {
    if (s.type === "bool") {
      if (value === undefined) flags[s.name] = true;
      else if (/^(true|1|t|T|TRUE|True)$/.test(value)) flags[s.name] = true;
      else if (/^(false|0|f|F|FALSE|False)$/.test(value)) flags[s.name] = false;
      else throw new FlagParseError(`invalid argument "${value}" for "${shown}" flag: strconv.ParseBool: parsing "${value}": invalid syntax`);
      return;
    }
    const v = value ?? next();
    if (v === undefined) throw new FlagParseError(`flag needs an argument: ${shown}`);
    if (s.type === "strings") {
      const list = (flags[s.name] as string[] | undefined) ?? [];
      list.push(...v.split(",").map((x) => x.trim()).filter(Boolean));
      flags[s.name] = list;
    } else flags[s.name] = v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = () => (i + 1 < argv.length ? argv[++i] : undefined);
    if (a === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const s = byLong.get(name);
      if (!s) throw new FlagParseError(`unknown flag: --${name}`);
      set(s, eq < 0 ? undefined : a.slice(eq + 1), next, `--${name}`);
    } else if (a.startsWith("-") && a.length > 1) {
      const c = a[1]!;
      const s = byShort.get(c);
      if (!s) throw new FlagParseError(`unknown shorthand flag: '${c}' in ${a}`);
      const rest = a.slice(2);
      const value = rest === "" ? undefined : rest.startsWith("=") ? rest.slice(1) : rest;
      set(s, value, next, `-${c}, --${s.name}`);
    } else positionals.push(a);
  }
  return { flags, positionals };
}

/** Resolves a path argument against the caller's working directory. */
export function resolveIn(call: ToolCall, p: string): string {
  if (p.startsWith("~/") && call.env.HOME) return path.join(call.env.HOME, p.slice(2));
  return path.resolve(call.cwd, p);
}
