/**
 * Test harness for the bootstrap scripts: a private copy of the repo (so talhelper output and the restored Talos
 * bundle land in a temp git checkout, not this one), a simulated cluster with a seeded 1Password vault, and the
 * scripts run as processes against it.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startSimulation, type SimCluster } from "../../lib/sim/index.ts";
import type { StartOptions, Simulation } from "../../lib/sim/index.ts";
import { runScript as spawnScript } from "../helpers/script.ts";

export const REPO = path.resolve(import.meta.dir, "../..");
export const VAULT = "home-ops";

/** A temp checkout: talos/ and kubernetes/ copied, code symlinked, `git init` so .gitignore applies. */
export function tempRepo(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "home-ops-bootstrap-"));
  const LINKED = new Set(["lib", "scripts", "node_modules", "tests", "bench"]);
  const SKIPPED = new Set([".git", "clusterconfig", ".home-ops", "backups", ".env"]);
  for (const name of readdirSync(REPO)) {
    if (SKIPPED.has(name)) continue;
    if (LINKED.has(name)) symlinkSync(path.join(REPO, name), path.join(dir, name));
    else cpSync(path.join(REPO, name), path.join(dir, name), { recursive: true, filter: (src) => !/talsecret/.test(path.basename(src)) });
  }
  Bun.spawnSync(["git", "init", "-q", dir]);
  return dir;
}

/** Every value the simulated vault holds (startSimulation seeds what the bootstrap and the ExternalSecrets read). */
export function vaultValues(cluster: SimCluster): Record<string, string> {
  const all: Record<string, string> = {};
  for (const item of cluster.vault.list()) for (const f of item.fields) all[`${item.title}/${f.label}`] = f.value;
  return all;
}

export interface Env {
  root: string;
  sim: Simulation;
  secrets: Record<string, string>;
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function setup(opts: StartOptions = {}): Promise<Env> {
  const root = tempRepo();
  const sim = await startSimulation({ root, ...opts });
  const secrets = vaultValues(sim.cluster);
  const env = { ...(process.env as Record<string, string>), ...sim.env, NO_COLOR: "1" };
  return {
    root,
    sim,
    secrets,
    env,
    async stop() {
      await sim.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export type Run = Awaited<ReturnType<typeof spawnScript>>;

/**
 * Runs a script of the temp repo. `killWhen`: send `signal` once stderr matches (after `delayMs`), to test stopping
 * mid-phase.
 */
export function run(
  e: Env,
  script: string,
  args: string[],
  opts: { killWhen?: RegExp; signal?: NodeJS.Signals; delayMs?: number; timeoutMs?: number } = {},
): Promise<Run> {
  return spawnScript(script, args, { root: e.root, env: e.env, inherit: false, ...opts });
}

/** Files under a folder (for grepping them for secret values). */
export function filesUnder(dir: string, skip: (rel: string) => boolean = () => false): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      const rel = path.relative(dir, p);
      if (skip(rel)) continue;
      const st = statSync(p, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isSymbolicLink?.()) continue;
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && st.size < 5_000_000) out.push(p);
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

export function fileContains(file: string, values: string[]): string | undefined {
  const text = readFileSync(file, "latin1");
  return values.find((v) => v.length >= 6 && (text.includes(v) || text.includes(Buffer.from(v).toString("base64"))));
}
