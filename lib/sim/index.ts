import type { Output } from "../cli/output.ts";
import { ConfigError } from "../cli/errors.ts";

/** Contract used by lib/cli for `--simulate`; implemented by the simulated cluster (issue: lib/sim). */
export interface SimulateOptions {
  root: string;
  nodes?: number;
  out: Output;
  signal: AbortSignal;
}

/**
 * Starts the simulated cluster of the repo at `root`, runs `fn` with the environment (KUBECONFIG, TALOSCONFIG,
 * PATH with the stand-in tools first) that points every tool and client at it, then tears it down.
 */
export async function runSimulated(
  _opts: SimulateOptions,
  _fn: (env: Record<string, string>) => Promise<number>,
): Promise<number> {
  throw new ConfigError("the simulated cluster is not built yet");
}
