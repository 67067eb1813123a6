/**
 * etcd bootstrap on exactly one control plane, once, and what follows: the kubeconfig (0600) and the API server with
 * every node registered. Every wait polls talosctl with backoff (or watches Kubernetes) under one deadline.
 * AlreadyExists is success (a re-run continues); "not available yet" and "time is not in sync yet" are retried.
 */
import { chmodSync, existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { ConfigError, OperationError } from "../cli/errors.ts";
import { done, notYet, pollUntil, type PollProgress } from "./poll.ts";
import type { Talosctl } from "./talosctl.ts";
import type { TalosNode } from "./cluster.ts";

export interface Deadline {
  /** absolute performance.now() ms */
  at: number;
}

export function deadlineIn(ms: number): Deadline {
  return { at: performance.now() + ms };
}

export function remaining(d: Deadline): number {
  return Math.max(1, d.at - performance.now());
}

/**
 * Waits until the node answers with its configuration and is `running` (it may still be installing or rebooting
 * after apply-config). A node in maintenance mode has no configuration: that is a configuration error, not a wait.
 */
export async function waitConfiguredRunning(
  talos: Talosctl,
  node: TalosNode,
  deadline: Deadline,
  opts: { signal?: AbortSignal; onProgress?: (p: PollProgress) => void } = {},
): Promise<void> {
  await pollUntil(
    async () => {
      const mode = await talos.detectMode(node.ip);
      if (mode.mode === "maintenance")
        throw new ConfigError(
          `${node.hostname} is in maintenance mode (no configuration)`,
          "apply its configuration first: bun scripts/talos-apply-config.ts",
        );
      if (mode.mode === "unreachable") return notYet(`${node.hostname} does not answer (${mode.detail ?? "unreachable"})`);
      if (mode.status?.stage !== "running") return notYet(`${node.hostname} is ${mode.status?.stage ?? "starting"}`);
      return done(true);
    },
    {
      what: `${node.hostname} to run with its configuration`,
      timeoutMs: remaining(deadline),
      signal: opts.signal,
      onProgress: opts.onProgress,
      fatal: (e) => e instanceof ConfigError,
      hint: "check the node's console; it may still be installing",
    },
  );
}

export type BootstrapOutcome = "bootstrapped" | "already-bootstrapped" | "would-bootstrap";

/** Runs `talosctl bootstrap` on one node until it is done or AlreadyExists, retrying the transient refusals. */
export async function bootstrapEtcd(
  talos: Talosctl,
  node: TalosNode,
  deadline: Deadline,
  opts: { signal?: AbortSignal; onProgress?: (p: PollProgress) => void; recoverFrom?: string; skipHashCheck?: boolean } = {},
): Promise<{ outcome: BootstrapOutcome; attempts: number }> {
  let attempts = 0;
  const outcome = await pollUntil<BootstrapOutcome>(
    async () => {
      attempts++;
      const r = await talos.bootstrap(node.ip, { recoverFrom: opts.recoverFrom, skipHashCheck: opts.skipHashCheck });
      if (r.dryRun) return done("would-bootstrap");
      if (r.result === "bootstrapped") return done("bootstrapped");
      if (r.result === "already-bootstrapped") {
        if (opts.recoverFrom)
          throw new OperationError(
            `${node.hostname} already has etcd data: a recovery needs EPHEMERAL wiped on every control plane first`,
          );
        return done("already-bootstrapped");
      }
      return notYet(r.detail);
    },
    {
      what: `etcd bootstrap on ${node.hostname}`,
      timeoutMs: remaining(deadline),
      signal: opts.signal,
      onProgress: opts.onProgress,
      initialDelayMs: 500,
      fatal: (e) => !(e instanceof Error && /not available yet|not in sync/.test(e.message)),
    },
  );
  return { outcome, attempts };
}

/** Fetches the admin kubeconfig (retrying until the API's certificates exist) and makes it owner-only. */
export async function fetchKubeconfig(
  talos: Talosctl,
  node: TalosNode,
  file: string,
  deadline: Deadline,
  opts: { signal?: AbortSignal } = {},
): Promise<{ written: boolean }> {
  if (talos.exec.dryRun) {
    await talos.kubeconfig(node.ip, file);
    return { written: false };
  }
  mkdirSync(path.dirname(file), { recursive: true });
  await pollUntil(
    async () => {
      await talos.kubeconfig(node.ip, file);
      return done(true);
    },
    { what: `the kubeconfig from ${node.hostname}`, timeoutMs: remaining(deadline), signal: opts.signal, initialDelayMs: 300 },
  );
  if (!existsSync(file)) throw new OperationError(`talosctl kubeconfig reported success but ${file} does not exist`);
  chmodSync(file, 0o600);
  return { written: true };
}
