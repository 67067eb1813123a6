/**
 * Phase 1: the workstation can bootstrap. Tools at the .mise.toml versions, .env complete, 1Password signed in,
 * the repo loads without problems. Nothing here can be fixed automatically, so run() reports what is missing.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { ConfigError } from "../../cli/errors.ts";
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

async function validateRepo(ctx: BootstrapContext): Promise<string[]> {
  const problems = ctx.model.problems.map((p) => `${p.file}:${p.line}: ${p.message}`);
  // the offline checks of `validate`, when lib/checks offers a runner (loaded by path: it is optional here)
  const checksIndex = path.join(import.meta.dir, "../../checks/index.ts");
  if (existsSync(checksIndex)) {
    try {
      const mod = (await import(checksIndex)) as Record<string, unknown>;
      const run = (mod.runChecks ?? mod.runAllChecks ?? mod.validate) as
        | ((m: typeof ctx.model) => Array<{ severity: string; message: string; file?: string; line?: number; source?: { file: string; line: number } }>)
        | undefined;
      if (typeof run === "function") {
        const findings = await run(ctx.model);
        for (const f of findings ?? [])
          if (f.severity === "error") {
            const src = f.source ?? (f.file ? { file: f.file, line: f.line ?? 0 } : undefined);
            problems.push(`${src ? `${src.file}:${src.line}: ` : ""}${f.message}`);
          }
      }
    } catch (e) {
      problems.push(`validate could not run: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  return problems;
}

async function check(ctx: BootstrapContext): Promise<Detection & { signedOut: boolean }> {
  const missing: string[] = [];
  const reqs = toolRequirements(ctx.model.versions.tools);
  const checks = await Promise.all(reqs.map((r) => checkTool(r.exe, r.range, { env: ctx.env })));
  const warnings: string[] = [];
  checks.forEach((c, i) => {
    const req = reqs[i]!;
    if (!c.ok) missing.push(`${c.message.replace(/: run `mise install`$/, "")} (pinned ${req.pinned} in .mise.toml)`);
    else if (c.version && c.version !== req.pinned.replace(/^v/, "")) warnings.push(`${c.name} ${c.version} (pinned ${req.pinned})`);
  });
  for (const key of REQUIRED_ENV) if (!ctx.env[key]) missing.push(`${key} is not set (.env)`);
  let signedOut = false;
  if (checks.find((c) => c.name === "op")?.ok) {
    signedOut = !(await opSignedIn(ctx.exec));
    if (signedOut) missing.push("the 1Password CLI is not signed in");
  }
  missing.push(...(await validateRepo(ctx)));
  return {
    done: missing.length === 0,
    summary:
      missing.length === 0
        ? `${reqs.length} tools present${warnings.length ? ` (not the pinned version: ${warnings.join(", ")})` : " at pinned versions"}, .env complete, 1Password signed in, repo valid`
        : `${missing.length} problem(s)`,
    missing,
    signedOut,
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
    for (const m of d.missing) ctx.out.log(`  ${ctx.out.mark("fail")} ${m}`);
    if (d.signedOut && d.missing.length === 1) throw new ConfigError("the 1Password CLI is not signed in", SIGNIN_HINT);
    throw new ConfigError(
      `the environment is not ready to bootstrap (${d.missing.length} problem(s) above)`,
      d.signedOut ? `${SIGNIN_HINT}; \`mise install\` installs the pinned tools` : "`mise install` installs the pinned tools; `cp .env.example .env` and fill it in",
    );
  },
  verify: (ctx) => check(ctx),
};
