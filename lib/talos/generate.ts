/**
 * Generating the cluster's machine configs, the one way both `talos-generate-config` and bootstrap phase 2 do it:
 * restore the Talos secrets bundle from 1Password (stdout into memory, then a git-ignored 0600 file; never argv,
 * never printed) unless it is already there or the caller skips it, run `talhelper genconfig`, make every output
 * owner-only, and check that each node got its config and that the talosconfig exists.
 */
import { chmodSync, existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { OperationError } from "../cli/errors.ts";
import { displayPath } from "../cli/index.ts";
import type { Exec } from "../exec.ts";
import { opRead, writeSecretFile } from "../secrets/op.ts";
import { genconfig, verifyGenerated, type ExpectedConfig, type GenconfigResult } from "./talhelper.ts";

export interface GenerateOptions {
  root: string;
  talosDir: string;
  clusterName: string;
  hostnames: string[];
  /** the bundle file (absolute) */
  secretFile: string;
  /** talhelper's output folder (absolute) */
  outDir: string;
  /** the op:// reference of the bundle */
  secretRef: string;
  /** an existing secret file outside the repository may be replaced (the default location, or --force confirmed) */
  replaceOutside?: boolean;
  /** "always" reads 1Password every time; "if-missing" keeps an existing file; "never" requires the file */
  restore: "always" | "if-missing" | "never";
}

export interface GenerateResult {
  secretsRestored: boolean;
  genconfig: GenconfigResult;
  nodes: ExpectedConfig[];
  talosconfig: boolean;
  ok: boolean;
  dryRun: boolean;
}

export async function generateClusterConfig(exec: Exec, o: GenerateOptions): Promise<GenerateResult> {
  let secretsRestored = false;
  const present = existsSync(o.secretFile);
  if (o.restore === "never" && !present)
    throw new OperationError(`${displayPath(o.root, o.secretFile)} does not exist`, "restore it from 1Password (run without --skip-secrets)");
  if (o.restore === "always" || (o.restore === "if-missing" && !present)) {
    const bundle = await opRead(exec, o.secretRef, { label: "talos secrets bundle" });
    secretsRestored = (await writeSecretFile(exec, o.root, o.secretFile, bundle, { replaceOutside: o.replaceOutside })).written;
  }
  const result = await genconfig(exec, { talosDir: o.talosDir, secretFile: o.secretFile, envFile: "talenv.yaml", outDir: o.outDir });
  if (result.dryRun) return { secretsRestored, genconfig: result, nodes: [], talosconfig: false, ok: true, dryRun: true };
  // machine configs and the talosconfig carry the cluster's keys: owner-only
  if (existsSync(o.outDir))
    for (const f of readdirSync(o.outDir)) if (f.endsWith(".yaml") || f === "talosconfig") chmodSync(path.join(o.outDir, f), 0o600);
  const check = verifyGenerated(result, o.clusterName, o.hostnames);
  return { secretsRestored, genconfig: result, nodes: check.nodes, talosconfig: check.talosconfig, ok: check.ok, dryRun: false };
}
