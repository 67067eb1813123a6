/**
 * Reading the router's BGP state with vtysh: over SSH to the UDM Pro (`ROUTER_SSH=user@host` in .env) or through
 * a local command (`--router-cmd`, e.g. `vtysh --vty_socket /run/frr` or a wrapper script) to which the vtysh
 * arguments `-c '<show command>'` are appended. Read-only commands only; each run has a timeout.
 */
import { ConfigError, OperationError } from "../cli/errors.ts";
import type { Exec } from "../exec.ts";
import { normaliseIP, isIP } from "../net/index.ts";
import { parseBgpRoutes, parseBgpSummary, parseReceivedRoutes, summaryPeers, type Afi, type FrrReceivedRoutes } from "./frr.ts";
import type { RouterState } from "./verify.ts";

export interface RouterAccess {
  /** the command vtysh arguments are appended to */
  argv: string[];
  /** arguments travel through a remote shell (ssh) and must be quoted for it */
  remote: boolean;
  /** for messages: "ssh admin@192.168.1.1" or the local command */
  describe: string;
}

/** Splits a command line like a POSIX shell would (quotes and backslashes; no expansion). */
export function splitCommand(text: string): string[] {
  const out: string[] = [];
  let cur = "";
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === "\\" && quote === '"' && i + 1 < text.length && '"\\$`'.includes(text[i + 1]!)) cur += text[++i];
      else cur += c;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < text.length) {
      cur += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new ConfigError(`unbalanced ${quote} quote in the router command "${text}"`);
  if (inWord) out.push(cur);
  return out;
}

const SSH_TARGET = /^(?:[A-Za-z0-9._-]+@)?(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])$/;

/**
 * How to reach the router: `--router-cmd` wins over ROUTER_SSH; neither gives undefined (router side skipped).
 */
export function routerAccess(opts: { routerCmd?: string; env: Record<string, string | undefined> }): RouterAccess | undefined {
  if (opts.routerCmd !== undefined) {
    const argv = splitCommand(opts.routerCmd);
    if (argv.length === 0) throw new ConfigError("--router-cmd is empty", "e.g. --router-cmd 'vtysh' or --router-cmd 'ssh admin@router vtysh'");
    return { argv, remote: false, describe: opts.routerCmd };
  }
  const target = opts.env.ROUTER_SSH?.trim();
  if (!target) return undefined;
  if (!SSH_TARGET.test(target) || target.startsWith("-"))
    throw new ConfigError(`ROUTER_SSH="${target}" is not an SSH destination like user@host`, "set ROUTER_SSH=root@192.168.1.1 in .env");
  return {
    argv: ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", target, "vtysh"],
    remote: true,
    describe: `ssh ${target}`,
  };
}

const shellQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** Runs one vtysh show command on the router and returns its stdout (throws OperationError when it fails). */
export async function vtysh(exec: Exec, access: RouterAccess, command: string, timeoutMs = 30_000): Promise<string> {
  const [cmd, ...base] = access.argv;
  const args = [...base, "-c", access.remote ? shellQuote(command) : command];
  const res = await exec.run(cmd!, args, { readOnly: true, timeoutMs, purpose: `reading the router (${access.describe})` });
  return res.stdout;
}

/** Like vtysh(), but a failing command gives undefined and its message instead of throwing. */
async function vtyshMaybe(exec: Exec, access: RouterAccess, command: string, timeoutMs?: number): Promise<{ out?: string; error?: string }> {
  try {
    return { out: await vtysh(exec, access, command, timeoutMs) };
  } catch (e) {
    if (e instanceof OperationError) return { error: e.message };
    throw e;
  }
}

/**
 * The router's BGP summary and IPv4/IPv6 tables, plus `received-routes` (what each node sent before the inbound
 * policy) for every established, policy-satisfied neighbor among `neighbors`.
 */
export async function readRouterState(
  exec: Exec,
  access: RouterAccess,
  opts: { neighbors?: string[]; timeoutMs?: number } = {},
): Promise<RouterState> {
  const t = opts.timeoutMs;
  const [summaryText, v4Text, v6Text] = await Promise.all([
    vtysh(exec, access, "show bgp summary json", t),
    vtysh(exec, access, "show bgp ipv4 unicast json", t),
    vtysh(exec, access, "show bgp ipv6 unicast json", t),
  ]);
  const state: RouterState = {
    summary: parseBgpSummary(summaryText),
    tables: { ipv4: parseBgpRoutes(v4Text, "ipv4"), ipv6: parseBgpRoutes(v6Text, "ipv6") },
    received: new Map<string, FrrReceivedRoutes>(),
  };
  const wanted = new Set((opts.neighbors ?? []).filter(isIP).map(normaliseIP));
  const jobs: Array<Promise<void>> = [];
  for (const afi of ["ipv4", "ipv6"] as Afi[]) {
    for (const p of summaryPeers(state.summary, afi)) {
      if (!p.established || p.policyBlocked || !isIP(p.address)) continue;
      const addr = normaliseIP(p.address);
      if (!wanted.has(addr)) continue;
      // optional detail (needs soft-reconfiguration inbound on the router): a refusal is not an error
      jobs.push(
        vtyshMaybe(exec, access, `show bgp ${afi} unicast neighbors ${addr} received-routes json`, t).then(({ out, error }) => {
          let parsed: FrrReceivedRoutes = { available: false, warning: error ?? "no answer", prefixes: [] };
          if (out !== undefined) {
            try {
              parsed = parseReceivedRoutes(out);
            } catch (e) {
              parsed = { available: false, warning: (e as Error).message, prefixes: [] };
            }
          }
          state.received!.set(`${afi}|${addr}`, parsed);
        }),
      );
    }
  }
  await Promise.all(jobs);
  return state;
}
