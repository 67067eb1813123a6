/**
 * Stand-in for FRR's `vtysh` on the UDM Pro (FRR 8.4), answering from the simulated router (controllers/router.ts)
 * — what the toolkit runs over SSH (`ROUTER_SSH`) or through `--router-cmd`.
 *
 *   vtysh -c 'show bgp summary json'              wrapped per family {"ipv4Unicast": {...}, "ipv6Unicast": {...}}
 *   vtysh -c 'show bgp ipv4 unicast summary json'  one family, unwrapped
 *   vtysh -c 'show bgp ipv4|ipv6 unicast json'     the BGP table (accepted routes only)
 *   vtysh -c 'show bgp ipv4 unicast neighbors X received-routes json'   (needs soft-reconfiguration inbound)
 *   vtysh -c 'show bgp summary'                   the text table ((Policy) in State/PfxRcd)
 *   vtysh -f FILE | vtysh -b < FILE               load FRR configuration (what uploading it in UniFi does)
 * `show ip bgp ...` is accepted as the old spelling of `show bgp ipv4 unicast ...`.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import type { SimRouter } from "../controllers/router.ts";
import type { ToolCall, ToolResult } from "../tools.ts";

const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;

function answer(router: SimRouter, raw: string): { out: string; ok: boolean } {
  let cmd = raw.trim().replace(/\s+/g, " ");
  cmd = cmd.replace(/^show ip bgp/, "show bgp ipv4 unicast").replace(/^sh /, "show ");
  const wantJson = / json$/.test(cmd);
  const body = cmd.replace(/ json$/, "");
  let m: RegExpMatchArray | null;
  if (body === "show bgp summary") return { out: wantJson ? json(router.summaryAll()) : router.summaryText(), ok: true };
  if ((m = body.match(/^show bgp (ipv4|ipv6)(?: unicast)? summary$/))) {
    const fam = `${m[1]}/unicast`;
    return { out: wantJson ? json(router.summaryFamily(fam)) : router.summaryText(), ok: true };
  }
  if ((m = body.match(/^show bgp (ipv4|ipv6)(?: unicast)? neighbors (\S+) received-routes$/))) {
    const r = router.receivedRoutesJson(`${m[1]}/unicast`, m[2] ?? "");
    if (typeof r === "string") return { out: `${r}\n`, ok: false };
    return { out: json(r), ok: true };
  }
  if ((m = body.match(/^show bgp (ipv4|ipv6)(?: unicast)?$/))) {
    if (!wantJson) return { out: "% the simulated router answers this command only with json\n", ok: false };
    return { out: json(router.routesJson(`${m[1]}/unicast`)), ok: true };
  }
  if (body === "show version") return { out: "FRRouting 8.4.4 (udm-pro) on Linux(4.19.152-ui-alpine).\n", ok: true };
  return { out: `% Unknown command: ${raw.trim()}\n`, ok: false };
}

export function createVtyshTool(router: SimRouter): (call: ToolCall) => ToolResult {
  return (call) => {
    const cmds: string[] = [];
    let file: string | undefined;
    let boot = false;
    for (let i = 0; i < call.argv.length; i++) {
      const a = call.argv[i] ?? "";
      if (a === "-c" || a === "--command") cmds.push(call.argv[++i] ?? "");
      else if (a.startsWith("--command=")) cmds.push(a.slice(10));
      else if (a === "-f" || a === "--inputfile") file = call.argv[++i];
      else if (a === "-b" || a === "--boot") boot = true;
      else if (a === "--vty_socket" || a === "-N" || a === "--pathspace") i++;
      else if (a === "-d" || a === "--daemon") i++;
      else return { stdout: "", stderr: `vtysh: unrecognized option '${a}'\nTry \`vtysh --help' for more information.\n`, exitCode: 1 };
    }
    if (file !== undefined || boot) {
      let text = call.stdin;
      if (file !== undefined) {
        try {
          text = readFileSync(path.resolve(call.cwd, file), "utf8");
        } catch {
          return { stdout: "", stderr: `vtysh: failed to open configuration file ${file}: No such file or directory\n`, exitCode: 1 };
        }
      }
      const unknown = router.loadConfig(text);
      const err = unknown.map((l) => `% Unknown command: ${l}\nline: ${l}\n`).join("");
      return { stdout: "", stderr: err, exitCode: unknown.length > 0 ? 2 : 0 };
    }
    if (cmds.length === 0) return { stdout: "", stderr: "vtysh: the simulated router has no interactive shell; use -c '<command>'\n", exitCode: 1 };
    let out = "";
    for (const c of cmds) {
      const r = answer(router, c);
      out += r.out;
      if (!r.ok) return { stdout: out, stderr: "", exitCode: 1 };
    }
    return { stdout: out, stderr: "", exitCode: 0 };
  };
}
