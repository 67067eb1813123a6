/**
 * Stand-in for the `helm` CLI (Helm 3.17) in the simulated cluster. Talks to the in-process store like real Helm
 * talks to the API, and stores releases as Helm's own Secrets (see controllers/helm-releases.ts), so the toolkit's
 * checks see what they would on a real cluster.
 *
 * Commands: `upgrade [--install]`, `install`, `uninstall`, `list`/`ls`, `status`, `get values`, `history`,
 * `repo add|update|list`, `version`. Flags: `--version`, `-n/--namespace`, `--create-namespace`, `-f/--values`
 * (a file, or `-` for stdin; repeatable, merged in order), `--set a.b=c`, `--repo URL`, `--wait`, `--timeout`,
 * `-A/--all-namespaces`, `-o/--output json|yaml|table`. Charts: the table in lib/sim/charts.ts, referenced as
 * `repo/chart` (after `helm repo add`), `--repo URL chart` or `oci://registry/path/chart`.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml, stringify } from "yaml";
import { chartForReference, type Values } from "../charts.ts";
import {
  HelmError,
  installOrUpgrade,
  latestRelease,
  latestReleases,
  markFailed,
  releaseHistory,
  uninstall,
  waitReady,
  type HelmRelease,
} from "../controllers/helm-releases.ts";
import type { Ctx } from "../controllers/runtime.ts";
import { parseGoDuration } from "../timing.ts";
import type { ToolCall, ToolResult } from "../tools.ts";

export const DEFAULT_HELM_VERSION = "v3.17.0";

interface Parsed {
  positional: string[];
  flags: Map<string, string[]>;
}

const BOOL_FLAGS = new Set(["install", "create-namespace", "wait", "wait-for-jobs", "all-namespaces", "A", "atomic", "debug", "reuse-values", "reset-values", "short", "force-update", "dry-run", "devel", "skip-crds"]);
const ALIASES: Record<string, string> = { n: "namespace", f: "values", A: "all-namespaces", o: "output", i: "install" };

function parseArgs(argv: string[]): Parsed | string {
  const positional: string[] = [];
  const flags = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    if (a === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith("-") && a !== "-") {
      const long = a.startsWith("--");
      let name = long ? a.slice(2) : a.slice(1);
      let value: string | undefined;
      const eq = name.indexOf("=");
      if (eq >= 0) {
        value = name.slice(eq + 1);
        name = name.slice(0, eq);
      }
      name = ALIASES[name] ?? name;
      if (!long && name.length > 1 && !ALIASES[name] && !["all-namespaces", "namespace", "values", "output", "install"].includes(name)) return `unknown shorthand flag: '${name[0]}' in ${a}`;
      if (BOOL_FLAGS.has(name)) {
        flags.set(name, [...(flags.get(name) ?? []), value ?? "true"]);
        continue;
      }
      if (value === undefined) {
        value = argv[i + 1];
        if (value === undefined) return `flag needs an argument: ${a}`;
        i++;
      }
      flags.set(name, [...(flags.get(name) ?? []), value]);
    } else positional.push(a);
  }
  return { positional, flags };
}

const one = (p: Parsed, name: string): string | undefined => p.flags.get(name)?.at(-1);
const bool = (p: Parsed, name: string): boolean => (p.flags.get(name)?.at(-1) ?? "false") !== "false";

const KNOWN_FLAGS = new Set([
  "install", "create-namespace", "wait", "wait-for-jobs", "all-namespaces", "atomic", "debug", "reuse-values", "reset-values", "short", "force-update",
  "dry-run", "devel", "skip-crds", "namespace", "values", "output", "version", "set", "set-string", "repo", "timeout", "kubeconfig", "kube-context",
  "description", "history-max", "max", "revision", "filter",
]);

function deepMerge(a: Values, b: Values): Values {
  const out: Values = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = v && typeof v === "object" && !Array.isArray(v) && prev && typeof prev === "object" && !Array.isArray(prev) ? deepMerge(prev as Values, v as Values) : v;
  }
  return out;
}

function setPath(values: Values, dotted: string, raw: string, asString: boolean): void {
  const parts = dotted.split(".");
  let cur: Values = values;
  for (const p of parts.slice(0, -1)) {
    const next = cur[p];
    if (!next || typeof next !== "object" || Array.isArray(next)) cur[p] = {};
    cur = cur[p] as Values;
  }
  const last = parts[parts.length - 1] ?? dotted;
  if (asString) cur[last] = raw;
  else if (raw === "true" || raw === "false") cur[last] = raw === "true";
  else if (/^-?\d+$/.test(raw)) cur[last] = Number(raw);
  else if (raw === "null") cur[last] = null;
  else cur[last] = raw;
}

/** Go's time.Time String(): `2026-11-26 05:24:34.123456789 +0000 UTC`. */
function goTime(iso: string): string {
  const d = new Date(iso);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}000000 +0000 UTC`;
}

/** Go's ANSIC layout: `Thu Nov 26 05:24:34 2026`. */
function ansic(iso: string): string {
  const d = new Date(iso);
  const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const p = (n: number) => String(n).padStart(2, "0");
  return `${days[d.getUTCDay()]} ${months[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, " ")} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

function statusBlock(r: HelmRelease): string {
  const lines = [`NAME: ${r.name}`, `LAST DEPLOYED: ${ansic(r.info.last_deployed)}`, `NAMESPACE: ${r.namespace}`, `STATUS: ${r.info.status}`, `REVISION: ${r.version}`, "TEST SUITE: None"];
  if (r.info.notes) lines.push("NOTES:", r.info.notes);
  return `${lines.join("\n")}\n`;
}

function listRow(r: HelmRelease) {
  return {
    name: r.name,
    namespace: r.namespace,
    revision: String(r.version),
    updated: goTime(r.info.last_deployed),
    status: r.info.status,
    chart: `${r.chart.metadata.name}-${r.chart.metadata.version}`,
    app_version: r.chart.metadata.appVersion,
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return `${rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 1))).join("\t").trimEnd()).join("\n")}\n`;
}

const ok = (stdout: string): ToolResult => ({ stdout, stderr: "", exitCode: 0 });
const fail = (msg: string, stdout = ""): ToolResult => ({ stdout, stderr: `Error: ${msg}\n`, exitCode: 1 });

/** A helm handler bound to one simulated cluster. Repositories added with `helm repo add` live as long as it. */
export function createHelmTool(ctx: Ctx, opts: { version?: string } = {}): (call: ToolCall) => Promise<ToolResult> {
  const repos = new Map<string, string>();
  // the version .mise.toml pins, so version checks behave as with the real tool
  const HELM_VERSION = opts.version ? `v${opts.version.replace(/^v/, "")}` : DEFAULT_HELM_VERSION;

  return async (call) => {
    const parsed = parseArgs(call.argv);
    if (typeof parsed === "string") return fail(parsed);
    for (const f of parsed.flags.keys()) if (!KNOWN_FLAGS.has(f)) return fail(`unknown flag: --${f}`);
    const [cmd, ...rest] = parsed.positional;
    const ns = one(parsed, "namespace") ?? call.env.HELM_NAMESPACE ?? "default";
    const output = one(parsed, "output") ?? "table";
    if (!["table", "json", "yaml"].includes(output)) return fail(`invalid format type "${output}"`);
    const needsCluster = cmd !== "version" && cmd !== "repo" && cmd !== undefined;
    if (needsCluster && !call.env.KUBECONFIG && !one(parsed, "kubeconfig")) {
      return fail('Kubernetes cluster unreachable: Get "http://localhost:8080/version": dial tcp [::1]:8080: connect: connection refused');
    }

    switch (cmd) {
      case undefined:
        return ok("The Kubernetes package manager\n\nUsage:\n  helm [command]\n");
      case "version": {
        if (bool(parsed, "short")) return ok(`${HELM_VERSION}+g4a0ab4b\n`);
        return ok(`version.BuildInfo{Version:"${HELM_VERSION}", GitCommit:"301108edc7ac2a8ba79e4ebf5701b0b6ce6a31e4", GitTreeState:"clean", GoVersion:"go1.23.4"}\n`);
      }
      case "repo": {
        const [sub, name, url] = rest;
        if (sub === "add") {
          if (!name || !url) return fail('"helm repo add" requires 2 arguments');
          const known = ["cilium", "external-secrets", "connect", "longhorn", "coredns", "cert-manager"].some((c) => chartForReference(`${url}/${c}`)?.repos.some((r) => r.replace(/\/$/, "") === url.replace(/\/$/, "")));
          if (!known) return fail(`looks like "${url}" is not a valid chart repository or cannot be reached: Get "${url.replace(/\/$/, "")}/index.yaml": dial tcp: lookup ${new URL(url).hostname}: no such host`);
          if (repos.has(name) && repos.get(name) !== url && !bool(parsed, "force-update")) return fail(`repository name (${name}) already exists, please specify a different name`);
          const existed = repos.get(name) === url;
          repos.set(name, url);
          return ok(existed ? `"${name}" already exists with the same configuration, skipping\n` : `"${name}" has been added to your repositories\n`);
        }
        if (sub === "update") {
          if (repos.size === 0) return fail("no repositories found. You must add one before updating");
          return ok(`Hang tight while we grab the latest from your chart repositories...\n${[...repos.keys()].map((r) => `...Successfully got an update from the "${r}" chart repository\n`).join("")}Update Complete. ⎈Happy Helming!⎈\n`);
        }
        if (sub === "list") {
          if (repos.size === 0) return fail("no repositories to show");
          return ok(table([["NAME", "URL"], ...[...repos].map(([n, u]) => [n, u])]));
        }
        return fail(`unknown command "${sub ?? ""}" for "helm repo"`);
      }
      case "list":
      case "ls": {
        const all = bool(parsed, "all-namespaces");
        const releases = latestReleases(ctx, all ? undefined : ns).filter((r) => r.info.status !== "uninstalled");
        const rows = releases.map(listRow);
        if (output === "json") return ok(`${JSON.stringify(rows)}\n`);
        if (output === "yaml") return ok(stringify(rows));
        return ok(table([["NAME", "NAMESPACE", "REVISION", "UPDATED", "STATUS", "CHART", "APP VERSION"], ...rows.map((r) => [r.name, r.namespace, r.revision, r.updated, r.status, r.chart, r.app_version])]));
      }
      case "status": {
        const name = rest[0];
        if (!name) return fail('"helm status" requires 1 argument\n\nUsage:  helm status RELEASE_NAME [flags]');
        const r = latestRelease(ctx, name, ns);
        if (!r) return fail("release: not found");
        if (output === "json") return ok(`${JSON.stringify(r)}\n`);
        if (output === "yaml") return ok(stringify(r));
        return ok(statusBlock(r));
      }
      case "history": {
        const name = rest[0];
        if (!name) return fail('"helm history" requires 1 argument');
        const h = releaseHistory(ctx, ns, name);
        if (h.length === 0) return fail("release: not found");
        const rows = h.map((r) => ({ revision: r.version, updated: goTime(r.info.last_deployed), status: r.info.status, chart: `${r.chart.metadata.name}-${r.chart.metadata.version}`, app_version: r.chart.metadata.appVersion, description: r.info.description }));
        if (output === "json") return ok(`${JSON.stringify(rows)}\n`);
        return ok(table([["REVISION", "UPDATED", "STATUS", "CHART", "APP VERSION", "DESCRIPTION"], ...rows.map((r) => [String(r.revision), r.updated, r.status, r.chart, r.app_version, r.description])]));
      }
      case "get": {
        const [sub, name] = rest;
        if (sub !== "values" || !name) return fail(`unknown command "${sub ?? ""}" for "helm get"`);
        const r = latestRelease(ctx, name, ns);
        if (!r) return fail("release: not found");
        if (output === "json") return ok(`${JSON.stringify(r.config)}\n`);
        return ok(`USER-SUPPLIED VALUES:\n${stringify(r.config)}`);
      }
      case "uninstall":
      case "delete": {
        const name = rest[0];
        if (!name) return fail('"helm uninstall" requires at least 1 argument');
        if (!uninstall(ctx, name, ns)) return fail(`uninstall: Release not loaded: ${name}: release: not found`);
        return ok(`release "${name}" uninstalled\n`);
      }
      case "install":
      case "upgrade": {
        const isUpgrade = cmd === "upgrade";
        const install = !isUpgrade || bool(parsed, "install");
        const [name, chartRef] = rest;
        if (!name || !chartRef) return fail(`"helm ${cmd}" requires 2 arguments\n\nUsage:  helm ${cmd} [RELEASE] [CHART] [flags]`);
        const repoUrl = one(parsed, "repo");
        let chartName = chartRef;
        if (chartRef.startsWith("oci://")) chartName = chartRef;
        else if (repoUrl) chartName = `${repoUrl}/${chartRef}`;
        else if (chartRef.includes("/")) {
          const [repo] = chartRef.split("/");
          if (!repos.has(repo ?? "")) return fail(`repo ${repo} not found`);
        } else if (!chartRef.startsWith(".") && !path.isAbsolute(chartRef)) {
          return fail(`non-absolute URLs should be in form of repo_name/path_to_chart, got: ${chartRef}`);
        }
        const chart = chartForReference(chartName);
        if (!chart) return fail(`${isUpgrade ? "" : "INSTALLATION FAILED: "}chart "${chartRef.split("/").pop()}" not found in repository`);
        const version = (one(parsed, "version") ?? "").replace(/^v/, "");
        if (!version) return fail("the simulated cluster needs --version (pin chart versions; Helm would take the newest)");
        if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(version)) return fail(`${isUpgrade ? "" : "INSTALLATION FAILED: "}chart "${chart.name}" version "${version}" not found in ${chart.repos[0]} repository`);

        let values: Values = {};
        for (const f of parsed.flags.get("values") ?? []) {
          let text: string;
          if (f === "-") text = call.stdin;
          else {
            try {
              text = readFileSync(path.resolve(call.cwd, f), "utf8");
            } catch {
              return fail(`open ${f}: no such file or directory`);
            }
          }
          let doc: unknown;
          try {
            doc = parseYaml(text) ?? {};
          } catch (e) {
            return fail(`failed to parse ${f}: error converting YAML to JSON: ${(e as Error).message.split("\n")[0]}`);
          }
          if (typeof doc !== "object" || Array.isArray(doc)) return fail(`failed to parse ${f}: error unmarshaling JSON: json: cannot unmarshal ${Array.isArray(doc) ? "array" : typeof doc} into Go value of type map[string]interface {}`);
          values = deepMerge(values, doc as Values);
        }
        for (const s of parsed.flags.get("set") ?? []) {
          for (const pair of s.split(",")) {
            const eq = pair.indexOf("=");
            if (eq < 0) return fail(`failed parsing --set data: key "${pair}" has no value`);
            setPath(values, pair.slice(0, eq), pair.slice(eq + 1), false);
          }
        }
        for (const s of parsed.flags.get("set-string") ?? []) {
          const eq = s.indexOf("=");
          if (eq < 0) return fail(`failed parsing --set-string data: key "${s}" has no value`);
          setPath(values, s.slice(0, eq), s.slice(eq + 1), true);
        }

        const existing = latestRelease(ctx, name, ns);
        if (!existing && isUpgrade && !install) return fail(`UPGRADE FAILED: "${name}" has no deployed releases`);
        if (existing && !isUpgrade) return fail("INSTALLATION FAILED: cannot re-use a name that is still in use");
        const timeoutText = one(parsed, "timeout") ?? "5m0s";
        const timeoutMs = parseGoDuration(timeoutText);
        if (timeoutMs === null) return fail(`invalid argument "${timeoutText}" for "--timeout" flag: time: invalid duration "${timeoutText}"`);

        let result;
        try {
          // Helm installs a chart's crds/ folder on install only, unless --skip-crds
          result = installOrUpgrade(ctx, { name, namespace: ns, chart, version, values, createNamespace: bool(parsed, "create-namespace"), skipCrdsDir: bool(parsed, "skip-crds") || existing !== undefined, manager: "helm" });
        } catch (e) {
          if (e instanceof HelmError) return fail(e.message);
          throw e;
        }
        const head = isUpgrade ? (result.upgraded ? `Release "${name}" has been upgraded. Happy Helming!\n` : `Release "${name}" does not exist. Installing it now.\n`) : "";
        if (bool(parsed, "wait") || bool(parsed, "atomic")) {
          const pending = await waitReady(ctx, result.objects, timeoutMs);
          if (pending.length > 0) {
            markFailed(ctx, result.release, `Release "${name}" failed: context deadline exceeded`);
            return fail(`${result.upgraded ? "UPGRADE" : "INSTALLATION"} FAILED: context deadline exceeded`, head);
          }
        }
        return ok(`${head}${statusBlock(result.release)}`);
      }
      default:
        return fail(`unknown command "${cmd}" for "helm"\nRun 'helm --help' for usage.`);
    }
  };
}
