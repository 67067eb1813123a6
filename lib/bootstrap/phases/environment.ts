/**
 * Phase 1: the workstation can bootstrap. Tools at the .mise.toml versions, .env complete, 1Password signed in,
 * the repo loads without problems. Nothing here can be fixed automatically, so run() reports what is missing.
 */
import { ConfigError } from "../../cli/errors.ts";
import { plural } from "../../cli/output.ts";
import { validateRepo } from "../../checks/index.ts";
import { checkTool } from "../../exec.ts";
import { opSignedIn } from "../../secrets/op.ts";
import { SIGNIN_HINT } from "../secrets.ts";
import type { BootstrapContext, Detection, Phase } from "../types.ts";

/** mise tool name -> executable, for the tools bootstrap runs. */
const TOOL_EXECUTABLES: Record<string, string> = {
  talosctl: "talosctl",
  talhelper: "talhelper",
  helm: "helm",
  flux2: "flux",
  "1password": "op",
};

/** .env keys bootstrap needs (documented in .env.example). */
export const REQUIRED_ENV = ["OP_ACCOUNT", "OP_VAULT"] as const;

/**
 * The tools to check: name on PATH and the pinned version. talosctl must match the pinned major.minor (client/server
 * skew matters, talos.md); for the others the major must match and a different minor or patch is a warning (helm,
 * op and talhelper behave the same across minors; Flux's components are pinned by `flux install --version`).
 */
export function toolRequirements(
  tools: Record<string, { value: string }>,
): Array<{ tool: string; exe: string; range: string; pinned: string; strict: boolean }> {
  const out: Array<{ tool: string; exe: string; range: string; pinned: string; strict: boolean }> = [];
  for (const [tool, v] of Object.entries(tools)) {
    const short = tool.split(/[:/]/).pop() ?? tool;
    const exe = TOOL_EXECUTABLES[short];
    if (!exe) continue;
    const m = /^v?(\d+)\.(\d+)/.exec(v.value);
    if (!m) continue;
    const strict = exe === "talosctl";
    out.push({ tool, exe, range: strict ? `${m[1]}.${m[2]}` : `${m[1]}`, pinned: v.value, strict });
  }
  return out;
}

/** `validate`'s offline checks on the loaded model: errors block the bootstrap (warnings do not). */
async function repoErrors(ctx: BootstrapContext): Promise<string[]> {
  const r = await validateRepo(ctx.root, { model: ctx.model });
  return r.findings.filter((f) => f.severity === "error").map((f) => `${f.file}:${f.line}: ${f.message} (${f.id})`);
}

async function check(ctx: BootstrapContext): Promise<Detection & { signedOut: boolean; hints: string[] }> {
  const missing: string[] = [];
  const hints: string[] = [];
  const reqs = toolRequirements(ctx.model.versions.tools);
  const checks = await Promise.all(reqs.map((r) => checkTool(r.exe, r.range, { env: ctx.env })));
  const warnings: string[] = [];
  checks.forEach((c, i) => {
    const req = reqs[i]!;
    if (!c.ok) {
      missing.push(`${c.message.replace(/: run `mise install`$/, "")} (pinned ${req.pinned} in .mise.toml)`);
      if (!hints.includes("`mise install` installs the pinned tools")) hints.push("`mise install` installs the pinned tools");
    }
    else if (c.version && c.version !== req.pinned.replace(/^v/, "")) warnings.push(`${c.name} ${c.version} (pinned ${req.pinned})`);
  });
  for (const key of REQUIRED_ENV) if (!ctx.env[key]) missing.push(`${key} is not set (.env)`);
  if (REQUIRED_ENV.some((k) => !ctx.env[k])) hints.push("`cp .env.example .env` and fill it in");
  let signedOut = false;
  if (checks.find((c) => c.name === "op")?.ok) {
    signedOut = !(await opSignedIn(ctx.exec));
    if (signedOut) missing.push("the 1Password CLI is not signed in");
  }
  const repo = await repoErrors(ctx);
  missing.push(...repo);
  if (repo.length) hints.push("`bun scripts/validate.ts` shows each problem with its fix");
  return {
    done: missing.length === 0,
    summary:
      missing.length === 0
        ? `${reqs.length} tools present${warnings.length ? ` (not the pinned version: ${warnings.join(", ")})` : " at pinned versions"}, .env complete, 1Password signed in, repo valid`
        : plural(missing.length, "problem"),
    missing,
    signedOut,
    hints,
  };
}

export const environmentPhase: Phase = {
  n: 1,
  id: "environment",
  title: "environment",
  detect: (ctx) => check(ctx),
  async run(ctx) {
    const d = await check(ctx);
    if (d.done) return;
    // detect's list was printed when the phase started; the error names the one problem or points at that list
    throw new ConfigError(
      `the environment is not ready to bootstrap (${plural(d.missing.length, "problem")}, listed above)`,
      [...(d.signedOut ? [SIGNIN_HINT] : []), ...d.hints].join("; "),
    );
  },
  verify: (ctx) => check(ctx),
};
