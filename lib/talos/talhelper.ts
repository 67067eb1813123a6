/**
 * talhelper wrapper: genconfig (machine configs + talosconfig from talos/talconfig.yaml) and gencommand.
 * talhelper runs in the talos/ folder so its relative paths (patches @file, clusterconfig/) resolve as written.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { OperationError } from "../cli/errors.ts";
import type { Exec } from "../exec.ts";
import { parseGencommand, parseGenconfig, type GeneratedConfig } from "./parse.ts";

export interface GenconfigOptions {
  /** the talos/ folder */
  talosDir: string;
  /** secrets bundle file (relative to talosDir or absolute) */
  secretFile?: string;
  /** env file for ${VAR} substitution */
  envFile?: string;
  /** output folder (default clusterconfig) */
  outDir?: string;
}

export interface GenconfigResult {
  generated: GeneratedConfig[];
  outDir: string;
  talosconfig: string;
  dryRun: boolean;
  command: string;
}

export function genconfigArgs(opts: GenconfigOptions): string[] {
  const args = ["genconfig", "--config-file=talconfig.yaml"];
  if (opts.secretFile) args.push(`--secret-file=${opts.secretFile}`);
  if (opts.envFile) args.push(`--env-file=${opts.envFile}`);
  args.push(`--out-dir=${opts.outDir ?? "clusterconfig"}`);
  return args;
}

export async function genconfig(exec: Exec, opts: GenconfigOptions, bin = "talhelper"): Promise<GenconfigResult> {
  const outDir = path.resolve(opts.talosDir, opts.outDir ?? "clusterconfig");
  const r = await exec.run(bin, genconfigArgs(opts), { cwd: opts.talosDir, purpose: "generating the Talos configs" });
  return {
    generated: r.dryRun ? [] : parseGenconfig(r.stdout + "\n" + r.stderr),
    outDir,
    talosconfig: path.join(outDir, "talosconfig"),
    dryRun: r.dryRun,
    command: r.command,
  };
}

export interface ExpectedConfig {
  hostname: string;
  file: string;
  reported: boolean;
  exists: boolean;
}

/**
 * Checks that every node got its `<clusterName>-<hostname>.yaml` (reported by talhelper and present on disk) and
 * that the talosconfig exists. Returns the per-node view; `ok` is false when anything is missing.
 */
export function verifyGenerated(
  result: Pick<GenconfigResult, "generated" | "outDir" | "talosconfig">,
  clusterName: string,
  hostnames: string[],
): { ok: boolean; nodes: ExpectedConfig[]; talosconfig: boolean } {
  const reported = new Map(result.generated.map((g) => [g.host, g.file]));
  const nodes = hostnames.map((hostname) => {
    const file = path.join(result.outDir, `${clusterName}-${hostname}.yaml`);
    return { hostname, file, reported: reported.has(hostname), exists: existsSync(file) };
  });
  const talosconfig = existsSync(result.talosconfig);
  return { ok: talosconfig && nodes.every((n) => n.reported && n.exists), nodes, talosconfig };
}

/** `talhelper gencommand <kind>` as argv lists (each starting with "talosctl"). */
export async function gencommand(exec: Exec, talosDir: string, kind: string, extra: string[] = [], bin = "talhelper") {
  const r = await exec.run(bin, ["gencommand", kind, ...extra], { cwd: talosDir, readOnly: true });
  const cmds = parseGencommand(r.stdout);
  if (cmds.length === 0) throw new OperationError(`talhelper gencommand ${kind} printed no talosctl command`);
  return cmds;
}
