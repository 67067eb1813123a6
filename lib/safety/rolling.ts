/**
 * Rolling changes (reboot, upgrade): strictly one node at a time, each behind the health gates.
 *   before a node:  gates pass (no waiting: a failing gate stops the run before anything changes on that node),
 *                   and for a control plane, taking it down keeps etcd quorum;
 *   the change:     the action (talosctl reboot/upgrade), then wait until the node is back (talosctl state, polled);
 *   after a node:   wait until the gates pass again (nodes Ready, etcd voting, Longhorn rebuilt) within a deadline.
 * The first failure stops the run with one clear message, leaving the cluster as it is; the nodes already done are
 * reported so the next run (which starts from the observed state) can continue.
 */
import { OperationError } from "../cli/errors.ts";
import type { PollProgress } from "../talos/poll.ts";
import { evaluateGates, firstFailure, waitForGates, type GateDeps, type GateNode, type GateReport } from "./gates.ts";
import { canTakeDownTemporarily } from "./quorum.ts";

export type RollingPhase = "gate-before" | "quorum" | "action" | "node-back" | "gate-after" | "skipped";

export interface RollingEvent {
  node: string;
  phase: RollingPhase;
  ok: boolean;
  detail: string;
}

export interface RollingOptions {
  /** nodes to change, in order */
  targets: GateNode[];
  gates: GateDeps;
  /** is this node already in the wanted state (upgrade: version + schematic match)? then it is skipped */
  alreadyDone?: (node: GateNode) => Promise<string | false>;
  /** make the change (returns when talosctl accepted it) */
  action: (node: GateNode) => Promise<void>;
  /** wait until the node is back from the change (throws on deadline) */
  waitBack: (node: GateNode) => Promise<string>;
  gateTimeoutMs: number;
  signal?: AbortSignal;
  /** a line per step, for the person watching */
  onEvent?: (e: RollingEvent) => void;
  onProgress?: (node: GateNode, what: string, p: PollProgress) => void;
  /** dry run: evaluate the first gate and print the plan, change nothing */
  dryRun?: boolean;
  /** re-checks that we still hold the maintenance lock; called before each node's gates and before its change */
  guard?: (node: GateNode) => Promise<void>;
}

export interface NodeOutcome {
  node: string;
  ip: string;
  result: "done" | "skipped" | "failed" | "not-started" | "planned";
  detail: string;
}

export interface RollingResult {
  ok: boolean;
  nodes: NodeOutcome[];
  /** where it stopped, when it did */
  stopped?: { node: string; phase: RollingPhase; message: string };
  events: RollingEvent[];
}

export class RollingStopped extends OperationError {
  readonly result: RollingResult;
  constructor(result: RollingResult, hint?: string) {
    const s = result.stopped!;
    super(`stopped at ${s.node} (${s.phase}): ${s.message}`, hint);
    this.result = result;
  }
}

/** Control planes first (Kubernetes' version-skew rule: the control plane is never older than kubelets), then workers. */
export function rollingOrder(nodes: GateNode[]): GateNode[] {
  return [...nodes.filter((n) => n.controlPlane), ...nodes.filter((n) => !n.controlPlane)];
}

export async function runRolling(opts: RollingOptions): Promise<RollingResult> {
  const events: RollingEvent[] = [];
  const outcomes: NodeOutcome[] = opts.targets.map((n) => ({ node: n.hostname, ip: n.ip, result: "not-started", detail: "" }));
  const emit = (e: RollingEvent) => {
    events.push(e);
    opts.onEvent?.(e);
  };
  const stop = (node: GateNode, phase: RollingPhase, message: string): RollingResult => {
    const o = outcomes.find((x) => x.node === node.hostname)!;
    o.result = phase === "action" || phase === "node-back" || phase === "gate-after" ? "failed" : "not-started";
    o.detail = message;
    emit({ node: node.hostname, phase, ok: false, detail: message });
    return { ok: false, nodes: outcomes, stopped: { node: node.hostname, phase, message }, events };
  };

  for (const [i, node] of opts.targets.entries()) {
    const outcome = outcomes[i]!;
    if (opts.signal?.aborted) break;
    const skip = opts.alreadyDone ? await opts.alreadyDone(node) : false;
    if (skip) {
      outcome.result = "skipped";
      outcome.detail = skip;
      emit({ node: node.hostname, phase: "skipped", ok: true, detail: skip });
      continue;
    }
    try {
      await opts.guard?.(node);
    } catch (e) {
      return stop(node, "gate-before", (e as Error).message);
    }
    // before: every gate passes now (a node already down or a degraded volume stops the run here)
    const before: GateReport = await evaluateGates(opts.gates);
    const failed = firstFailure(before);
    if (failed) return stop(node, "gate-before", `${failed.name} gate failed before touching ${node.hostname}: ${failed.detail}`);
    emit({ node: node.hostname, phase: "gate-before", ok: true, detail: before.checks.map((c) => `${c.name}: ${c.detail}`).join("; ") });
    if (node.controlPlane) {
      const q = canTakeDownTemporarily(before.controlPlanes, before.healthyVoters);
      if (!q.ok) return stop(node, "quorum", q.reason);
      emit({ node: node.hostname, phase: "quorum", ok: true, detail: q.reason });
    }
    if (opts.dryRun) {
      outcome.result = "planned";
      outcome.detail = "would change this node, then wait for it and the gates";
      await opts.action(node);
      continue;
    }
    try {
      await opts.guard?.(node);
    } catch (e) {
      return stop(node, "gate-before", (e as Error).message);
    }
    try {
      await opts.action(node);
    } catch (e) {
      return stop(node, "action", (e as Error).message);
    }
    emit({ node: node.hostname, phase: "action", ok: true, detail: "accepted" });
    try {
      const back = await opts.waitBack(node);
      emit({ node: node.hostname, phase: "node-back", ok: true, detail: back });
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      return stop(node, "node-back", (e as Error).message);
    }
    try {
      const after = await waitForGates(opts.gates, {
        timeoutMs: opts.gateTimeoutMs,
        signal: opts.signal,
        what: `the cluster to be healthy again after ${node.hostname}`,
        onProgress: (p) => opts.onProgress?.(node, "gates", p),
      });
      emit({ node: node.hostname, phase: "gate-after", ok: true, detail: after.checks.map((c) => `${c.name}: ${c.detail}`).join("; ") });
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      return stop(node, "gate-after", (e as Error).message);
    }
    outcome.result = "done";
    outcome.detail = "changed, back and healthy";
  }
  return { ok: outcomes.every((o) => o.result === "done" || o.result === "skipped" || o.result === "planned"), nodes: outcomes, events };
}
