import { describe, expect, test } from "bun:test";
import { ConfigError, OperationError } from "../../lib/cli/errors.ts";
import { conditionTrue, crdEstablished, KubeApiError, nodeReady, rolloutState, toKubeError } from "../../lib/kube/index.ts";

const SERVER = "https://127.0.0.1:6443";

describe("conditions", () => {
  test("nodeReady and conditionTrue read status.conditions", () => {
    const n = { status: { conditions: [{ type: "Ready", status: "True" }, { type: "MemoryPressure", status: "False" }] } };
    expect(nodeReady(n)).toBe(true);
    expect(conditionTrue(n, "MemoryPressure")).toBe(false);
    expect(nodeReady({ status: { conditions: [{ type: "Ready", status: "Unknown" }] } })).toBe(false);
    expect(nodeReady({})).toBe(false);
    expect(nodeReady({ status: { conditions: "garbage" } })).toBe(false);
    expect(crdEstablished({ status: { conditions: [{ type: "Established", status: "True" }] } })).toBe(true);
  });
});

describe("rolloutState speaks kubectl rollout status", () => {
  const dep = (status: Record<string, unknown>, generation = 2, replicas = 3) => ({
    kind: "Deployment",
    metadata: { name: "web", namespace: "apps", generation },
    spec: { replicas },
    status,
  });
  test("deployment stages", () => {
    expect(rolloutState(dep({ observedGeneration: 1 })).message).toBe("Waiting for deployment spec update to be observed...");
    expect(rolloutState(dep({ observedGeneration: 2, updatedReplicas: 1, replicas: 3 })).message).toBe(
      'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...',
    );
    expect(rolloutState(dep({ observedGeneration: 2, updatedReplicas: 3, replicas: 4 })).message).toBe(
      'Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...',
    );
    expect(rolloutState(dep({ observedGeneration: 2, updatedReplicas: 3, replicas: 3, availableReplicas: 2 })).message).toBe(
      'Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...',
    );
    expect(rolloutState(dep({ observedGeneration: 2, updatedReplicas: 3, replicas: 3, availableReplicas: 3 }))).toEqual({
      done: true,
      message: 'deployment "web" successfully rolled out',
    });
  });
  test("a deployment past its progress deadline fails instead of waiting", () => {
    expect(() => rolloutState(dep({ observedGeneration: 2, conditions: [{ type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded" }] }))).toThrow(
      'deployment "web" exceeded its progress deadline',
    );
  });
  test("daemonset and statefulset", () => {
    const ds = (status: Record<string, unknown>) => ({ kind: "DaemonSet", metadata: { name: "cilium", generation: 1 }, status: { observedGeneration: 1, ...status } });
    expect(rolloutState(ds({ desiredNumberScheduled: 3, updatedNumberScheduled: 2 })).message).toBe(
      'Waiting for daemon set "cilium" rollout to finish: 2 out of 3 new pods have been updated...',
    );
    expect(rolloutState(ds({ desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 1 })).message).toBe(
      'Waiting for daemon set "cilium" rollout to finish: 1 of 3 updated pods are available...',
    );
    expect(rolloutState(ds({ desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 3 })).done).toBe(true);
    const sts = { kind: "StatefulSet", metadata: { name: "db", generation: 1 }, spec: { replicas: 2 }, status: { observedGeneration: 1, readyReplicas: 1 } };
    expect(rolloutState(sts).message).toBe("Waiting for 1 pods to be ready...");
    expect(() => rolloutState({ kind: "ConfigMap", metadata: { name: "x" } })).toThrow(OperationError);
  });
});

describe("toKubeError", () => {
  test("a Status body becomes KubeApiError with the server's sentence", () => {
    const body = JSON.stringify({ kind: "Status", status: "Failure", message: 'nodes "x" not found', reason: "NotFound", code: 404 });
    const e = toKubeError({ code: 404, body }, SERVER, "get Node x");
    expect(e).toBeInstanceOf(KubeApiError);
    expect(e.message).toBe('cannot get Node x: nodes "x" not found');
    expect((e as KubeApiError).reason).toBe("NotFound");
    expect(e.exitCode).toBe(1);
  });
  test("403 carries a hint about credentials", () => {
    const e = toKubeError({ code: 403, body: "{\"message\":\"forbidden\"}" }, SERVER, "list nodes");
    expect(e.hint).toContain("KUBECONFIG");
  });
  test("connection refused in node's and Bun's shapes", () => {
    const msg = `cannot reach the Kubernetes API at ${SERVER}: connection refused — is the cluster up? check KUBECONFIG`;
    expect(toKubeError(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:6443"), { code: "ECONNREFUSED" }), SERVER, "list").message).toBe(msg);
    expect(toKubeError(new Error("request failed", { cause: Object.assign(new Error("x"), { code: "ConnectionRefused" }) }), SERVER, "list").message).toBe(msg);
    expect(toKubeError(Object.assign(new Error("t"), { code: "ETIMEDOUT" }), SERVER, "list").message).toContain("connection timed out");
  });
  test("TLS failures are configuration errors", () => {
    const e = toKubeError(Object.assign(new Error("unable to verify the first certificate"), { code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" }), SERVER, "list");
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toContain(SERVER);
  });
  test("anything else keeps its text and the action", () => {
    expect(toKubeError(new Error("boom"), SERVER, "list nodes").message).toBe("cannot list nodes: boom");
  });
});
