import type { Output } from "../cli/output.ts";
import type { Exec } from "../exec.ts";
import type { ClusterModel } from "../repo/model.ts";
import type { Talosctl } from "../talos/talosctl.ts";
import type { KubeApi } from "./kube.ts";

/** What a phase's detect() or verify() saw on the live cluster. */
export interface Detection {
  done: boolean;
  /** one line a person reads in `--status` */
  summary: string;
  /** what is still missing, one item per line (empty when done) */
  missing: string[];
}

export const PHASE_IDS = ["environment", "talos", "networking", "core", "gitops", "applications"] as const;
export type PhaseId = (typeof PHASE_IDS)[number];

export interface Phase {
  n: number;
  id: PhaseId;
  title: string;
  /** Reads the live cluster (and talosctl) to tell whether the phase's goal already holds. Never changes anything. */
  detect(ctx: BootstrapContext): Promise<Detection>;
  /** Does the phase's work; every step is idempotent, so a rerun after an interruption continues. */
  run(ctx: BootstrapContext): Promise<void>;
  /** Checks the goal after run(); usually detect() again. */
  verify(ctx: BootstrapContext): Promise<Detection>;
}

export interface Timeouts {
  /** one wait (a rollout, nodes Ready, a CRD, a Kustomization) */
  waitMs: number;
  /** talosctl reaching a node, bootstrap retries */
  talosMs: number;
}

export interface BootstrapContext {
  root: string;
  model: ClusterModel;
  exec: Exec;
  out: Output;
  env: Record<string, string | undefined>;
  signal: AbortSignal;
  dryRun: boolean;
  timeouts: Timeouts;
  /** bound to the talosconfig present at the time of use (phase 2 generates it) */
  readonly talosctl: Talosctl;
  /** the kubeconfig path talosctl writes and the client reads */
  kubeconfigPath: string;
  /** the Kubernetes API (connects on first use; under --dry-run writes are printed, not made) */
  kube(): Promise<KubeApi>;
  /** whether the API answers (false before etcd is bootstrapped or without a kubeconfig) */
  kubeReachable(): Promise<boolean>;
  /**
   * Runs one wait with a start line, progress on a TTY, and the outcome with its duration. Under --dry-run it only
   * prints what it would wait for.
   */
  /** a wait with a progress line; `deadlineMs` (shown to the user) defaults to timeouts.waitMs */
  wait<T>(
    what: string,
    fn: (onProgress: (detail: string, elapsedMs: number) => void) => Promise<T>,
    opts?: { deadlineMs?: number },
  ): Promise<T | undefined>;
  /** a step line: "  helm upgrade --install cilium 1.17.6" */
  step(text: string): void;
}
