import { describe, expect, test } from "bun:test";
import path from "node:path";
import { ConfigError, UsageError } from "../../lib/cli/errors.ts";
import { Output } from "../../lib/cli/output.ts";
import { PHASES, selectPhases } from "../../lib/bootstrap/index.ts";
import { crdNameOf, nodesState, releaseRolledOut, rolledOut } from "../../lib/bootstrap/checks.ts";
import { DryRunKube, type KubeObj } from "../../lib/bootstrap/kube.ts";
import { toolRequirements } from "../../lib/bootstrap/phases/environment.ts";
import { syncDocuments } from "../../lib/bootstrap/phases/gitops.ts";
import { networkDocuments } from "../../lib/bootstrap/phases/networking.ts";
import {
  connectCredentialsTarget,
  connectCredentialsValue,
  connectTokenTarget,
  credentialsSecretValid,
  externalSecretRefs,
  opaqueSecret,
  referenceOf,
  CONNECT_TOKEN,
} from "../../lib/bootstrap/secrets.ts";
import { loadRepo } from "../../lib/repo/model.ts";

const model = loadRepo(path.resolve(import.meta.dir, "../.."));
const credentialsJson = JSON.stringify({
  verifier: { salt: "s", localHash: "h" },
  encCredentials: { kid: "k", enc: "A256GCM", cty: "b5+jwk+json", iv: "i", data: "d" },
  version: "2",
  deviceUuid: "u",
  uniqueKey: { alg: "A256GCM", k: "x" },
});
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

describe("1Password Connect credentials (the double-base64 pitfall)", () => {
  test("the JSON file from 1Password is encoded once; the Secret's data holds it twice", () => {
    const v = connectCredentialsValue(credentialsJson);
    expect(v).toBe(b64(credentialsJson));
    const secret = opaqueSecret({ name: "c", namespace: "n" }, { "1password-credentials.json": v });
    expect(secret.data!["1password-credentials.json"]).toBe(b64(b64(credentialsJson)));
    expect(credentialsSecretValid(secret, "1password-credentials.json").ok).toBe(true);
  });
  test("an item already holding base64 is used as is", () => {
    expect(connectCredentialsValue(b64(credentialsJson))).toBe(b64(credentialsJson));
  });
  test("double-encoded, truncated or foreign values are refused before reaching the cluster", () => {
    expect(() => connectCredentialsValue(b64(b64(credentialsJson)))).toThrow(/base64-encoded twice/);
    expect(() => connectCredentialsValue(credentialsJson.slice(0, 40))).toThrow(ConfigError);
    expect(() => connectCredentialsValue("hunter2")).toThrow(/not a 1password-credentials.json file/);
  });
  test("a Secret holding the raw JSON (encoded once) is reported as unreadable by Connect", () => {
    const wrong = opaqueSecret({ name: "c", namespace: "n" }, { k: credentialsJson });
    expect(credentialsSecretValid(wrong, "k")).toEqual({ ok: false, detail: "key k holds the JSON file, not its base64: Connect cannot read it" });
    expect(credentialsSecretValid(undefined, "k").detail).toBe("missing");
  });
});

describe("where the secrets go and come from (the repo says)", () => {
  test("credentials: the Connect chart's credentialsName/Key values; token: the store's connectTokenSecretRef", () => {
    expect(connectCredentialsTarget(model)).toEqual({ name: "onepassword-connect-credentials", key: "1password-credentials.json", namespace: "external-secrets" });
    expect(connectTokenTarget(model)).toEqual({ name: "onepassword-connect-token", key: "token", namespace: "external-secrets" });
  });
  test("Flux's deploy key: the 1Password fields its ExternalSecret names (vault from OP_VAULT, else the store)", () => {
    const want = { identity: "op://home-ops/flux/github-deploy-key", known_hosts: "op://home-ops/flux/github-known-hosts" };
    expect(externalSecretRefs(model, { name: "github-deploy-key", namespace: "flux-system" }, {})).toEqual(want);
    expect(externalSecretRefs(model, { name: "github-deploy-key", namespace: "flux-system" }, { OP_VAULT: "v2" })!.identity).toBe("op://v2/flux/github-deploy-key");
    expect(externalSecretRefs(model, { name: "nothing", namespace: "flux-system" }, {})).toBeUndefined();
  });
  test("op references: OP_VAULT, or an override; no vault is a ConfigError", () => {
    expect(referenceOf(CONNECT_TOKEN, { OP_VAULT: "home-ops" })).toBe("op://home-ops/1password-connect/token");
    expect(referenceOf(CONNECT_TOKEN, { OP_CONNECT_TOKEN_REF: "op://v/i/f" })).toBe("op://v/i/f");
    expect(() => referenceOf(CONNECT_TOKEN, {})).toThrow(/OP_VAULT is not set/);
  });
});

describe("repo documents each phase applies", () => {
  test("phase 3: every LB pool and BGP object of the repo", () => {
    const docs = networkDocuments({ model });
    const kinds = new Set(docs.map((d) => d.kind));
    expect(docs.length).toBe(model.pools.length + model.bgp.clusterConfigs.length + model.bgp.peerConfigs.length + model.bgp.advertisements.length + model.bgp.nodeConfigOverrides.length);
    expect(kinds.has("CiliumLoadBalancerIPPool")).toBe(true);
    expect(kinds.has("CiliumBGPClusterConfig")).toBe(true);
  });
  test("phase 5: the GitRepository and root Kustomizations of kubernetes/flux/", () => {
    const { git, roots } = syncDocuments({ model });
    expect(git.kind).toBe("GitRepository");
    expect(roots.map((r) => r.name)).toContain("cluster-apps");
    expect(roots.every((r) => r.file.startsWith("kubernetes/flux/") && r.apiVersion!.startsWith("kustomize.toolkit.fluxcd.io/"))).toBe(true);
    // the kustomize-config kustomization.yaml files are not Flux objects
    expect(roots.some((r) => r.apiVersion!.startsWith("kustomize.config.k8s.io"))).toBe(false);
  });
  test("CRD names of kinds", () => {
    expect(crdNameOf("cilium.io/v2alpha1", "CiliumLoadBalancerIPPool")).toBe("ciliumloadbalancerippools.cilium.io");
    expect(crdNameOf("cilium.io/v2", "CiliumBGPPeeringPolicy")).toBe("ciliumbgppeeringpolicies.cilium.io");
    expect(crdNameOf("external-secrets.io/v1", "ClusterSecretStore")).toBe("clustersecretstores.external-secrets.io");
  });
});

describe("readiness checks", () => {
  const node = (name: string, status: string): KubeObj => ({ apiVersion: "v1", kind: "Node", metadata: { name }, status: { conditions: [{ type: "Ready", status }] } });
  test("nodes: NotReady is not Ready (no text matching), missing ones are listed", () => {
    const st = nodesState([node("a", "True"), node("b", "False")], ["a", "b", "c"]);
    expect(st).toEqual({ missing: ["c"], notReady: ["b"] });
  });
  test("DaemonSet with no status yet is not rolled out; a full one is", () => {
    const ds = (status: Record<string, number>): KubeObj => ({
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: { name: "cilium", namespace: "kube-system", generation: 1, annotations: { "meta.helm.sh/release-name": "cilium" } },
      status,
    });
    expect(rolledOut(ds({})).ready).toBe(false);
    expect(rolledOut(ds({ observedGeneration: 1, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 2 })).ready).toBe(false);
    const full = ds({ observedGeneration: 1, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 3, numberReady: 3 });
    expect(rolledOut(full).ready).toBe(true);
    expect(releaseRolledOut([full], "cilium").done).toBe(true);
    expect(releaseRolledOut([full], "longhorn")).toEqual({ done: false, detail: "no workloads of longhorn yet" });
  });
});

describe("phases", () => {
  test("six phases in order", () => {
    expect(PHASES.map((p) => `${p.n}:${p.id}`)).toEqual(["1:environment", "2:talos", "3:networking", "4:core", "5:gitops", "6:applications"]);
  });
  test("--from and --only select; bad numbers are usage errors", () => {
    expect(selectPhases({ from: 3 }).map((p) => p.n)).toEqual([3, 4, 5, 6]);
    expect(selectPhases({ only: 4 }).map((p) => p.n)).toEqual([4]);
    expect(() => selectPhases({ from: 0 })).toThrow(UsageError);
    expect(() => selectPhases({ only: 7 })).toThrow(UsageError);
    expect(() => selectPhases({ from: 2, only: 3 })).toThrow(/cannot be used together/);
  });
  test("tools checked against .mise.toml: talosctl at the pinned minor, the others at the pinned major", () => {
    const reqs = toolRequirements(model.versions.tools);
    const exes = reqs.map((r) => r.exe).sort();
    expect(exes).toEqual(["flux", "helm", "op", "talhelper", "talosctl"]);
    const talos = reqs.find((r) => r.exe === "talosctl")!;
    expect(talos.strict).toBe(true);
    expect(talos.range).toBe(talos.pinned.split(".").slice(0, 2).join("."));
    const helm = reqs.find((r) => r.exe === "helm")!;
    expect(helm.range).toBe(helm.pinned.split(".")[0]!);
  });
});

describe("--dry-run API writes", () => {
  test("a Secret is shown by its keys, never its values; waits return at once", async () => {
    const lines: string[] = [];
    const out = new Output({ stdout: { write: (t: string) => lines.push(t) }, stderr: { write: () => {} } });
    const kube = new DryRunKube(undefined, out);
    await kube.apply(opaqueSecret({ name: "s", namespace: "n" }, { token: "super-secret-value" }));
    await kube.waitFor({ apiVersion: "v1", kind: "Node" }, () => ({ done: false }), { what: "nodes", timeoutMs: 1 });
    const text = lines.join("");
    expect(text).toContain("[dry-run] apply v1 Secret n/s (keys: token; values not shown)");
    expect(text).toContain("[dry-run] wait for nodes");
    expect(text).not.toContain("super-secret-value");
    expect(text).not.toContain(b64("super-secret-value"));
    expect(kube.writes.length).toBe(1);
    expect(await kube.get({ apiVersion: "v1", kind: "Node" }, "x")).toBeUndefined();
  });
});

describe("phase 6: what is not Ready, with its message", () => {
  test("on the deadline every expected object that is not Ready is listed, then a one-line error", async () => {
    const { waitApplications } = await import("../../lib/bootstrap/phases/applications.ts");
    const { OperationError } = await import("../../lib/cli/errors.ts");
    const { expectedFluxObjects } = await import("../../lib/flux/index.ts");
    const logs: string[] = [];
    const out = new Output({ stdout: { write: () => {} }, stderr: { write: (t: string) => logs.push(t) } });
    const expected = expectedFluxObjects(model);
    const ks = expected.filter((x) => x.kind === "Kustomization");
    const live: KubeObj[] = ks.slice(1).map((k, i) => ({
      apiVersion: "kustomize.toolkit.fluxcd.io/v1",
      kind: "Kustomization",
      metadata: { name: k.name, namespace: k.namespace, generation: 1 },
      status: {
        observedGeneration: 1,
        conditions: [i === 0 ? { type: "Ready", status: "False", reason: "HealthCheckFailed", message: "timeout waiting for: [Deployment/x/y status: 'InProgress']" } : { type: "Ready", status: "True" }],
      },
    }));
    const kube = {
      async list(q: { kind: string }) {
        return q.kind === "Kustomization" ? live : [];
      },
      async waitFor() {
        throw new OperationError("timed out after 1s waiting for all Kustomizations Ready");
      },
    };
    const ctx = {
      model,
      out,
      signal: new AbortController().signal,
      timeouts: { waitMs: 1000, talosMs: 1000 },
      kube: async () => kube,
      wait: async (_what: string, fn: (p: () => void) => Promise<unknown>) => fn(() => {}),
    } as never;
    const err = await waitApplications(ctx).catch((e: Error) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect((err as Error).message).toMatch(/^\d+ Flux object\(s\) are not Ready \(listed above\)$/);
    const text = logs.join("");
    expect(text).toContain(`Kustomization ${ks[0]!.namespace}/${ks[0]!.name}: NotFound: not on the cluster yet`);
    expect(text).toContain(`Kustomization ${ks[1]!.namespace}/${ks[1]!.name}: HealthCheckFailed: timeout waiting for: [Deployment/x/y status: 'InProgress']`);
    expect(text).toContain("HelmRelease ");
  });
});

describe("journal", () => {
  test("keeps the last event per phase, survives a torn line, and never fails the caller", async () => {
    const { mkdtempSync, appendFileSync, rmSync, statSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { Journal } = await import("../../lib/bootstrap/journal.ts");
    const dir = mkdtempSync(path.join(tmpdir(), "journal-"));
    try {
      const j = new Journal(dir);
      j.record({ phase: 2, event: "started" });
      j.record({ phase: 2, event: "done", ms: 10 });
      j.record({ phase: 3, event: "interrupted" });
      appendFileSync(j.file, '{"phase": 4, "ev');
      const last = j.last();
      expect(last.get(2)?.event).toBe("done");
      expect(last.get(3)?.event).toBe("interrupted");
      expect(last.has(4)).toBe(false);
      expect(statSync(j.file).mode & 0o777).toBe(0o600);
      new Journal(dir, { HOMEOPS_STATE_DIR: "/proc/no/such/place" }).record({ phase: 1, event: "done" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("bootstrapReferences", () => {
  test("lists the Connect items and the deploy-key fields its ExternalSecret names", async () => {
    const { bootstrapReferences } = await import("../../lib/bootstrap/secrets.ts");
    const refs = bootstrapReferences(model, { OP_VAULT: "home-ops" });
    expect(refs.map((r) => `${r.reference} ${r.shape}`)).toEqual([
      "op://home-ops/1password-connect/credentials connect-credentials",
      "op://home-ops/1password-connect/token token",
      "op://home-ops/flux/github-deploy-key ssh-private-key",
      "op://home-ops/flux/github-known-hosts known-hosts",
    ]);
  });
});
