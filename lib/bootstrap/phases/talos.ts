/**
 * Phase 2: from machines in maintenance mode to a Kubernetes API with every node registered (NotReady is expected:
 * there is no CNI yet). Generates the configs (talhelper), applies each node's config (only to nodes still in
 * maintenance mode), bootstraps etcd once (AlreadyExists is success), fetches the kubeconfig and watches the Nodes
 * register. talosctl state is polled with backoff; the API is watched.
 */
import { chmodSync, existsSync } from "node:fs";
import path from "node:path";
import { ConfigError, OperationError } from "../../cli/errors.ts";
import { SIGNIN_HINT } from "../secrets.ts";
import type { ClusterNode } from "../../repo/model.ts";
import { applyToNodes } from "../../talos/apply.ts";
import { clusterconfigDir, inventoryFromModel, talsecretFile } from "../../talos/cluster.ts";
import { talsecretRef } from "../../secrets/op.ts";
import { generateClusterConfig } from "../../talos/generate.ts";
import { done, notYet, pollUntil } from "../../talos/poll.ts";
import type { NodeMode } from "../../talos/talosctl.ts";
import { nodesState } from "../checks.ts";
import type { BootstrapContext, Detection, Phase } from "../types.ts";

/** Where talhelper writes the node configs (as the talos-* scripts: <repo>/clusterconfig, git-ignored; a temp folder under --simulate). */
export function configDir(ctx: Pick<BootstrapContext, "root" | "env">): string {
  return clusterconfigDir(ctx.root, ctx.env);
}

export function nodeConfigFile(ctx: Pick<BootstrapContext, "root" | "env" | "model">, node: ClusterNode): string {
  return path.join(configDir(ctx), `${ctx.model.cluster.name.value}-${node.hostname}.yaml`);
}

function display(ctx: Pick<BootstrapContext, "root">, file: string): string {
  const rel = path.relative(ctx.root, file);
  return rel.startsWith("..") ? file : rel;
}

function label(n: ClusterNode): string {
  return `${n.hostname} (${n.ipv4})`;
}

type Seen = Array<{ node: ClusterNode; mode: NodeMode; detail?: string }>;
const MODES_TTL_MS = 5000;
const modesMemo = new WeakMap<BootstrapContext, { at: number; seen: Promise<Seen> }>();

/** Each node's mode (maintenance, configured, unreachable), read concurrently; detect's reading is reused by run(). */
function modes(ctx: BootstrapContext): Promise<Seen> {
  const hit = modesMemo.get(ctx);
  if (hit && performance.now() - hit.at < MODES_TTL_MS) return hit.seen;
  const seen = Promise.all(
    ctx.model.nodes.map(async (node) => {
      try {
        const m = await ctx.talosctl.detectMode(node.ipv4);
        return { node, mode: m.mode, detail: m.detail };
      } catch (e) {
        return { node, mode: "unreachable" as NodeMode, detail: (e as Error).message };
      }
    }),
  );
  modesMemo.set(ctx, { at: performance.now(), seen });
  return seen;
}

async function detect(ctx: BootstrapContext): Promise<Detection> {
  const missing: string[] = [];
  const seen = await modes(ctx);
  for (const s of seen) {
    if (s.mode === "maintenance") missing.push(`${label(s.node)} is in maintenance mode (no config applied)`);
    if (s.mode === "unreachable") missing.push(`${label(s.node)} does not answer${s.detail ? `: ${s.detail}` : ""}`);
  }
  if (!existsSync(ctx.kubeconfigPath)) missing.push(`no kubeconfig at ${display(ctx, ctx.kubeconfigPath)}`);
  else if (!(await ctx.kubeReachable())) missing.push("the Kubernetes API does not answer (etcd not bootstrapped?)");
  else {
    const kube = await ctx.kube();
    const nodes = await kube.list({ apiVersion: "v1", kind: "Node" });
    const st = nodesState(nodes, ctx.model.nodes.map((n) => n.hostname));
    for (const h of st.missing) missing.push(`node ${h} is not registered in Kubernetes`);
  }
  const configured = seen.filter((s) => s.mode === "configured").length;
  return {
    done: missing.length === 0,
    summary:
      missing.length === 0
        ? `${configured}/${seen.length} nodes configured, etcd bootstrapped, all nodes registered`
        : `${configured}/${seen.length} nodes configured; ${missing.length} thing(s) to do`,
    missing,
  };
}

async function generateConfigs(ctx: BootstrapContext): Promise<void> {
  const dir = configDir(ctx);
  const want = ctx.model.nodes.map((n) => nodeConfigFile(ctx, n));
  if (existsSync(path.join(dir, "talosconfig")) && want.every((f) => existsSync(f))) {
    ctx.step(`configs present in ${display(ctx, dir)} (talhelper not rerun)`);
    return;
  }
  const secretFile = talsecretFile(ctx.root, ctx.env);
  // the same bundle and reference as talos-generate-config: without it talhelper would make NEW cluster secrets
  if (!existsSync(secretFile)) ctx.step(`Talos secrets bundle from 1Password -> ${display(ctx, secretFile)} (0600, never committed)`);
  ctx.step(`talhelper genconfig -> ${display(ctx, dir)}`);
  let r;
  try {
    r = await generateClusterConfig(ctx.exec, {
      root: ctx.root,
      talosDir: path.join(ctx.root, "talos"),
      clusterName: ctx.model.cluster.name.value,
      hostnames: ctx.model.nodes.map((n) => n.hostname),
      secretFile,
      outDir: dir,
      secretRef: talsecretRef(ctx.env, ctx.model.cluster.name.value),
      restore: "if-missing",
    });
  } catch (e) {
    if (/signed out/i.test((e as Error).message)) throw new ConfigError("the 1Password CLI is not signed in (reading the Talos secrets bundle)", SIGNIN_HINT);
    throw e;
  }
  if (r.dryRun) return;
  const absent = r.nodes.filter((n) => !n.exists).map((n) => n.hostname);
  if (absent.length > 0 || !r.talosconfig)
    throw new OperationError(
      `talhelper did not write ${[...absent.map((h) => `the config of ${h}`), ...(r.talosconfig ? [] : ["the talosconfig"])].join(", ")}`,
      "run `talhelper genconfig` in talos/ to see its error",
    );
}

async function applyConfigs(ctx: BootstrapContext): Promise<void> {
  const seen = (await modes(ctx)).map((s) => ({ ...s }));
  modesMemo.delete(ctx);
  const unreachable = seen.filter((s) => s.mode === "unreachable");
  if (unreachable.length > 0) {
    // give booting machines a moment (polled with backoff), then name the ones still silent
    const still = await Promise.all(
      unreachable.map(async (s) => {
        try {
          const mode = await pollUntil(
            async () => {
              const m = await ctx.talosctl.detectMode(s.node.ipv4);
              return m.mode === "unreachable" ? notYet(m.detail) : done(m.mode);
            },
            { what: `${label(s.node)} to answer`, timeoutMs: Math.min(ctx.timeouts.talosMs, 30_000), signal: ctx.signal },
          );
          s.mode = mode;
          return undefined;
        } catch (e) {
          if (ctx.signal.aborted) throw e;
          return s;
        }
      }),
    );
    const dead = still.filter((s) => s !== undefined);
    if (dead.length > 0)
      throw new OperationError(
        `${dead.length === 1 ? "node" : "nodes"} ${dead.map((s) => label(s!.node)).join(", ")} ${dead.length === 1 ? "does" : "do"} not answer on the Talos API${dead[0]!.detail ? ` (${dead[0]!.detail})` : ""}`,
        "check that it is powered on, booted from the Talos image and reachable on port 50000, then run again: finished steps are not repeated",
      );
  }
  const pending = seen.filter((s) => s.mode === "maintenance");
  if (pending.length === 0) {
    ctx.step("every node already has its configuration");
    return;
  }
  if (ctx.dryRun && pending.some((p) => !existsSync(nodeConfigFile(ctx, p.node)))) {
    // the configs would be generated first: show the apply commands talosctl would get
    for (const { node } of pending) await ctx.talosctl.applyConfig(node.ipv4, nodeConfigFile(ctx, node), { mode: "auto", insecure: true });
    return;
  }
  const names = new Set(pending.map((p) => p.node.hostname));
  const results = await applyToNodes({
    talos: ctx.talosctl,
    nodes: inventoryFromModel(ctx.model).filter((n) => names.has(n.hostname)),
    clusterName: ctx.model.cluster.name.value,
    configDir: configDir(ctx),
    mode: "auto",
    retries: 3,
    dryRun: ctx.dryRun,
    signal: ctx.signal,
    onResult: (r) => ctx.step(`apply-config ${r.hostname} (${r.ip}, maintenance mode): ${r.result === "failed" ? "FAILED: " : ""}${r.detail}`),
  });
  const failed = results.filter((r) => r.result === "failed");
  if (failed.length > 0)
    throw new OperationError(
      `apply-config failed on ${failed.map((f) => `${f.hostname} (${f.ip}): ${f.detail}`).join("; ")}`,
      "fix the cause and run again: nodes that took their configuration are not touched again",
    );
}

async function waitConfigured(ctx: BootstrapContext): Promise<void> {
  if (ctx.dryRun) return;
  await ctx.wait("every node to reboot into its configuration", async (onProgress) => {
    await Promise.all(
      ctx.model.nodes.map((node) =>
        pollUntil(
          async () => {
            const m = await ctx.talosctl.detectMode(node.ipv4);
            return m.mode === "configured" ? done(true) : notYet(`${node.hostname}: ${m.mode}`);
          },
          {
            what: `${label(node)} to come up configured`,
            timeoutMs: ctx.timeouts.talosMs,
            signal: ctx.signal,
            onProgress: (p) => onProgress(p.detail ?? "", p.elapsedMs),
          },
        ),
      ),
    );
  }, { deadlineMs: ctx.timeouts.talosMs });
}

async function bootstrapEtcd(ctx: BootstrapContext): Promise<void> {
  const first = ctx.model.nodes.find((n) => n.controlPlane);
  if (!first) throw new OperationError("the repo defines no control-plane node", "set controlPlane: true on at least one node in talos/talconfig.yaml");
  ctx.step(`bootstrap etcd on ${label(first)}`);
  const result = await ctx.wait(`etcd bootstrap on ${first.hostname}`, (onProgress) =>
    pollUntil(
      async () => {
        const r = await ctx.talosctl.bootstrap(first.ipv4);
        return r.result === "retry" ? notYet(r.detail) : done(r.result);
      },
      {
        what: `etcd to bootstrap on ${label(first)}`,
        timeoutMs: ctx.timeouts.talosMs,
        signal: ctx.signal,
        onProgress: (p) => onProgress(p.detail ?? "", p.elapsedMs),
      },
    ),
    { deadlineMs: ctx.timeouts.talosMs },
  );
  if (ctx.dryRun) {
    await ctx.talosctl.bootstrap(first.ipv4);
    return;
  }
  if (result === "already-bootstrapped") ctx.step("etcd was already bootstrapped (AlreadyExists)");
}

async function fetchKubeconfig(ctx: BootstrapContext): Promise<void> {
  const first = ctx.model.nodes.find((n) => n.controlPlane)!;
  ctx.step(`kubeconfig -> ${display(ctx, ctx.kubeconfigPath)} (0600)`);
  await ctx.talosctl.kubeconfig(first.ipv4, ctx.kubeconfigPath);
  if (!ctx.dryRun && existsSync(ctx.kubeconfigPath)) chmodSync(ctx.kubeconfigPath, 0o600);
}

async function waitRegistered(ctx: BootstrapContext): Promise<void> {
  const want = ctx.model.nodes.map((n) => n.hostname);
  // the API server may still be starting: lib/kube's watch reconnects with backoff until the deadline
  const kube = await ctx.kube();
  await ctx.wait(`all ${want.length} nodes to register (NotReady is expected before the CNI)`, (onProgress) =>
    kube.waitFor(
      { apiVersion: "v1", kind: "Node" },
      (items) => {
        const st = nodesState(items, want);
        return { done: st.missing.length === 0, detail: st.missing.length ? `waiting for ${st.missing.join(", ")}` : "" };
      },
      { what: "all nodes registered", timeoutMs: ctx.timeouts.waitMs, signal: ctx.signal, onProgress },
    ),
  );
}

export const talosPhase: Phase = {
  n: 2,
  id: "talos",
  title: "Talos cluster",
  detect,
  async run(ctx) {
    await generateConfigs(ctx);
    await applyConfigs(ctx);
    await waitConfigured(ctx);
    await bootstrapEtcd(ctx);
    await fetchKubeconfig(ctx);
    await waitRegistered(ctx);
  },
  verify: detect,
};
