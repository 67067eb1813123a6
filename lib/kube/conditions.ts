/** Pure readings of object status the waits and checks share (no I/O). */
import { OperationError } from "../cli/errors.ts";

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown" | string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

/** Minimal object shape these helpers read. */
export interface ObjectLike {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; generation?: number; resourceVersion?: string; labels?: Record<string, string> };
  spec?: unknown;
  status?: unknown;
}

export function conditions(obj: ObjectLike | undefined): Condition[] {
  const c = (obj?.status as { conditions?: unknown } | undefined)?.conditions;
  return Array.isArray(c) ? (c.filter((x) => x && typeof x === "object" && typeof (x as Condition).type === "string") as Condition[]) : [];
}

export function condition(obj: ObjectLike | undefined, type: string): Condition | undefined {
  return conditions(obj).find((c) => c.type === type);
}

export function conditionTrue(obj: ObjectLike | undefined, type: string): boolean {
  return condition(obj, type)?.status === "True";
}

/** A Node is Ready when its Ready condition is True (a NotReady node has it False or Unknown). */
export function nodeReady(node: ObjectLike | undefined): boolean {
  return conditionTrue(node, "Ready");
}

export function crdEstablished(crd: ObjectLike | undefined): boolean {
  return conditionTrue(crd, "Established");
}

export interface RolloutState {
  done: boolean;
  /** kubectl rollout status's sentence for the state. */
  message: string;
}

const num = (v: unknown, dflt = 0): number => (typeof v === "number" ? v : dflt);

/**
 * kubectl rollout status for a Deployment, DaemonSet or StatefulSet, with its messages. Throws OperationError when
 * the Deployment exceeded its progress deadline (waiting longer will not help).
 */
export function rolloutState(obj: ObjectLike): RolloutState {
  const name = obj.metadata?.name ?? "";
  const gen = num(obj.metadata?.generation, 0);
  const spec = (obj.spec ?? {}) as Record<string, unknown>;
  const st = (obj.status ?? {}) as Record<string, unknown>;
  const observed = num(st.observedGeneration, 0);
  switch (obj.kind) {
    case "Deployment": {
      if (gen > observed) return { done: false, message: "Waiting for deployment spec update to be observed..." };
      const progressing = condition(obj, "Progressing");
      if (progressing?.reason === "ProgressDeadlineExceeded") {
        throw new OperationError(`deployment "${name}" exceeded its progress deadline`, `kubectl -n ${obj.metadata?.namespace ?? "default"} describe deployment ${name}`);
      }
      const replicas = num(spec.replicas, 1);
      const updated = num(st.updatedReplicas);
      const total = num(st.replicas);
      const available = num(st.availableReplicas);
      if (updated < replicas) return { done: false, message: `Waiting for deployment "${name}" rollout to finish: ${updated} out of ${replicas} new replicas have been updated...` };
      if (total > updated) return { done: false, message: `Waiting for deployment "${name}" rollout to finish: ${total - updated} old replicas are pending termination...` };
      if (available < updated) return { done: false, message: `Waiting for deployment "${name}" rollout to finish: ${available} of ${updated} updated replicas are available...` };
      return { done: true, message: `deployment "${name}" successfully rolled out` };
    }
    case "DaemonSet": {
      if (gen > observed) return { done: false, message: "Waiting for daemon set spec update to be observed..." };
      const desired = num(st.desiredNumberScheduled);
      const updated = num(st.updatedNumberScheduled);
      const available = num(st.numberAvailable);
      if (updated < desired) return { done: false, message: `Waiting for daemon set "${name}" rollout to finish: ${updated} out of ${desired} new pods have been updated...` };
      if (available < desired) return { done: false, message: `Waiting for daemon set "${name}" rollout to finish: ${available} of ${desired} updated pods are available...` };
      return { done: true, message: `daemon set "${name}" successfully rolled out` };
    }
    case "StatefulSet": {
      if (gen > observed) return { done: false, message: "Waiting for statefulset spec update to be observed..." };
      const replicas = num(spec.replicas, 1);
      const ready = num(st.readyReplicas);
      if (ready < replicas) return { done: false, message: `Waiting for ${replicas - ready} pods to be ready...` };
      const update = st.updateRevision;
      if (update !== undefined && update !== st.currentRevision) {
        return { done: false, message: `waiting for statefulset rolling update to complete ${num(st.updatedReplicas)} pods at revision ${String(update)}...` };
      }
      return { done: true, message: `statefulset rolling update complete ${replicas} pods at revision ${String(st.currentRevision ?? "")}...` };
    }
    default:
      throw new OperationError(`cannot wait for the rollout of a ${obj.kind ?? "object without a kind"}: only Deployment, DaemonSet and StatefulSet roll out`);
  }
}
