// The simulated bootstrap, bare nodes to every Flux Kustomization Ready, measured two ways in one run:
//  1. toolkit overhead: the same bootstrap with the sim's scripted delays at their default scale and at scale 0
//     (every sim transition instant). The scale-0 wall time is the bootstrap minus the sim's scripted delays; the
//     bootstrap process's own CPU time is shown beside it (the rest is the stand-in tools and the sim's own work).
//  2. reaction time: for each wait, from the moment its condition turns true in the sim (store events, Talos
//     machine events, observed in this process) to the script printing that it moved on (its stderr line, also
//     timestamped here). Target <= 100 ms. Next to it: the Taskfile's fixed sleeps and what a poll loop at that
//     interval costs on average (half the interval) and at worst (the interval).
// Run: bun bench/bootstrap.ts [--scale 0.05] [--skip-zero] [--micro-only] [--rounds 25]
import path from "node:path";
import { median } from "../lib/bench/index.ts";
import { conditionReady, crdEstablished, nodeReady, releaseRolledOut, rolledOut } from "../lib/bootstrap/checks.ts";
import type { KubeObj } from "../lib/bootstrap/kube.ts";
import { networkDocuments } from "../lib/bootstrap/phases/networking.ts";
import { crdNameOf } from "../lib/bootstrap/checks.ts";
import { FLUX_CONTROLLERS } from "../lib/flux/index.ts";
import { loadRepo } from "../lib/repo/model.ts";
import { ClientKube } from "../lib/bootstrap/kube.ts";
import { nodesState } from "../lib/bootstrap/checks.ts";
import { setup, type Env } from "../tests/scripts/bootstrap-harness.ts";

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const scale = Number(arg("--scale") ?? "0.05");
const model = loadRepo(path.resolve(import.meta.dir, ".."));
const hostnames = model.nodes.map((n) => n.hostname);

type Pred = (e: Env) => boolean;
const list = (e: Env, kind: string, ns?: string): KubeObj[] => {
  try {
    return e.sim.cluster.store.list(kind, ns ? { namespace: ns } : {}).items as unknown as KubeObj[];
  } catch {
    return [];
  }
};
const get = (e: Env, kind: string, name: string, ns?: string) => list(e, kind, ns).find((o) => o.metadata.name === name);
const workloads = (e: Env, ns: string) => [...list(e, "deployments", ns), ...list(e, "daemonsets", ns), ...list(e, "statefulsets", ns)];
const ciliumCrds = [...new Set(networkDocuments({ model }).map((d) => crdNameOf(d.apiVersion!, d.kind!)))];

/** Each wait the script announces, and the condition in the sim that ends it. */
const WAITS: Array<{ match: RegExp; label: string; cond: Pred; polled?: boolean }> = [
  {
    match: /^every node to reboot into its configuration$/,
    label: "nodes configured (talosctl, polled with backoff)",
    polled: true,
    // what talosctl sees: the node answers on its secure API (configured) again
    cond: (e) => e.sim.cluster.talos.machines.every((m) => m.configured && m.up),
  },
  { match: /^all \d+ nodes to register/, label: "nodes registered (watch)", cond: (e) => hostnames.every((h) => get(e, "nodes", h)) },
  { match: /^all \d+ nodes Ready$/, label: "nodes Ready (watch)", cond: (e) => hostnames.every((h) => nodeReady(get(e, "nodes", h))) },
  {
    match: /^Cilium LB-IPAM and BGP CRDs to be Established$/,
    label: "Cilium CRDs Established (watch)",
    cond: (e) => ciliumCrds.every((c) => crdEstablished(get(e, "customresourcedefinitions", c))),
  },
  ...["cilium", "external-secrets", "onepassword-connect", "longhorn"].map((release) => ({
    match: new RegExp(`^${release} to roll out in (\\S+)$`),
    label: `${release} rolled out (watch)`,
    cond: (e: Env) => {
      const ns = model.helmReleases.find((h) => (h.releaseName ?? h.name) === release)?.namespace ?? "";
      return releaseRolledOut(workloads(e, ns), release).done;
    },
  })),
  {
    match: /^ClusterSecretStore onepassword to be Ready$/,
    label: "ClusterSecretStore Ready (watch)",
    cond: (e) => conditionReady(get(e, "clustersecretstores.external-secrets.io", "onepassword")).ready,
  },
  {
    match: /^the Flux controllers to roll out$/,
    label: "Flux controllers rolled out (watch)",
    cond: (e) => FLUX_CONTROLLERS.every((n) => {
      const d = get(e, "deployments", n, "flux-system");
      return d !== undefined && rolledOut(d).ready;
    }),
  },
  ...["home-ops", "cluster", "cluster-meta", "cluster-apps"].map((name) => ({
    match: new RegExp(`^(GitRepository|Kustomization) ${name} to be Ready$`),
    label: `${name} Ready (watch)`,
    cond: (e: Env) =>
      conditionReady(get(e, name === "home-ops" ? "gitrepositories.source.toolkit.fluxcd.io" : "kustomizations.kustomize.toolkit.fluxcd.io", name, "flux-system")).ready,
  })),
];

interface Result {
  wallMs: number;
  code: number | null;
  cpuMs: number;
  toolCalls: number;
  toolMs: number;
  waits: Array<{ label: string; polled: boolean; reactionMs?: number; alreadyTrue: boolean }>;
}

async function bootstrapOnce(timingScale: number): Promise<Result> {
  const e = await setup({ timing: { scale: timingScale } });
  try {
    const trueAt = new Map<number, number>();
    const check = () => {
      const now = performance.now();
      WAITS.forEach((w, i) => {
        if (trueAt.has(i)) return;
        try {
          if (w.cond(e)) trueAt.set(i, now);
        } catch {
          /* kinds not served yet */
        }
      });
    };
    const unsub = e.sim.cluster.store.subscribe(() => check());
    const unsubTalos = e.sim.cluster.talos.onEvent(() => check());
    const started: Array<{ i: number; at: number }> = [];
    const done = new Map<number, number>();
    const t0 = performance.now();
    const proc = Bun.spawn(["bun", path.join(e.root, "scripts", "bootstrap-phased.ts"), "--timeout", "300s"], {
      cwd: e.root,
      env: e.env,
      stdout: "ignore",
      stderr: "pipe",
      stdin: "ignore",
    });
    const dec = new TextDecoder();
    let buf = "";
    for await (const chunk of proc.stderr) {
      const at = performance.now();
      buf += dec.decode(chunk);
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        const waiting = /^… waiting for (.*)$/.exec(line);
        const ok = /^ok (.*) \([\d.]+m?s\)$/.exec(line);
        const what = waiting?.[1] ?? ok?.[1];
        if (!what) continue;
        const i = WAITS.findIndex((w) => w.match.test(what));
        if (i < 0) continue;
        if (waiting) started.push({ i, at });
        else if (!done.has(i)) done.set(i, at);
      }
    }
    const code = await proc.exited;
    const wallMs = performance.now() - t0;
    unsub();
    unsubTalos();
    const ru = proc.resourceUsage();
    const cpuMs = ru ? Number(ru.cpuTime.total) / 1000 : NaN;
    const calls = e.sim.cluster.tools.calls;
    const waits = WAITS.flatMap((w, i) => {
      const s = started.find((x) => x.i === i);
      const d = done.get(i);
      const c = trueAt.get(i);
      if (!s || d === undefined || c === undefined) return [];
      const alreadyTrue = c <= s.at;
      return [{ label: w.label, polled: w.polled === true, alreadyTrue, ...(alreadyTrue ? {} : { reactionMs: d - c }) }];
    });
    return { wallMs, code, cpuMs, toolCalls: calls.length, toolMs: calls.reduce((a, c) => a + c.ms, 0), waits };
  } finally {
    await e.stop();
  }
}

/**
 * The wait itself, isolated: lib/bootstrap's watch-based wait (the code path every phase uses) on an idle simulated
 * cluster, with the condition (every Node Ready, via the sim's CNI switch) turned true at a random moment.
 */
async function watchReaction(rounds: number): Promise<{ reaction: number[]; roundTrip: number[] }> {
  const e = await setup({ state: "talos", timing: { scale: 0 } });
  const kube = ClientKube.fromKubeconfig(e.sim.env.KUBECONFIG!);
  const out: number[] = [];
  const roundTrip: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      // baseline, same moment and load: one plain GET of a Node through the same client
      const g0 = performance.now();
      await kube.get({ apiVersion: "v1", kind: "Node" }, hostnames[0]!);
      roundTrip.push(performance.now() - g0);
      e.sim.cluster.setCniReady(false);
      let trueAt = 0;
      const wait = kube.waitFor(
        { apiVersion: "v1", kind: "Node" },
        (items) => ({ done: nodesState(items, hostnames).notReady.length === 0 && items.length > 0 }),
        { what: "nodes Ready", timeoutMs: 10_000 },
      );
      await Bun.sleep(30 + Math.random() * 70);
      trueAt = performance.now();
      e.sim.cluster.setCniReady(true);
      await wait;
      out.push(performance.now() - trueAt);
    }
  } finally {
    kube.close();
    await e.stop();
  }
  return { reaction: out, roundTrip };
}

const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);

const { reaction: micro, roundTrip } = await watchReaction(Number(arg("--rounds") ?? "25"));
const microOnly = process.argv.includes("--micro-only");
const scaled = microOnly ? undefined : await bootstrapOnce(scale);
const zero = microOnly || process.argv.includes("--skip-zero") ? undefined : await bootstrapOnce(0);

if (scaled) {
  console.log(`simulated bootstrap, bare -> every Kustomization Ready (${model.nodes.length} nodes, ${model.kustomizations.length} Kustomizations)`);
  console.log(`  scale ${scale}: wall ${fmt(scaled.wallMs)} (exit ${scaled.code}), bootstrap process CPU ${fmt(scaled.cpuMs)}, ${scaled.toolCalls} stand-in tool calls taking ${fmt(scaled.toolMs)} in all`);
  if (zero) {
    console.log(`  scale 0 (no scripted delays): wall ${fmt(zero.wallMs)} (exit ${zero.code}), bootstrap process CPU ${fmt(zero.cpuMs)}, ${zero.toolCalls} tool calls taking ${fmt(zero.toolMs)}`);
    console.log(`  => the sim's scripted delays on the critical path: ${fmt(scaled.wallMs - zero.wallMs)}; toolkit overhead (wall without them): ${fmt(zero.wallMs)}, of which the toolkit's own CPU ${fmt(zero.cpuMs)}`);
  }
  console.log("");
}
const sortedMicro = [...micro].sort((a, b) => a - b);
console.log(`reaction time, isolated: the watch-based wait on an idle sim, condition turned true at a random moment (${micro.length} rounds)`);
console.log(`  median ${fmt(median(micro))}, p90 ${fmt(sortedMicro[Math.floor(sortedMicro.length * 0.9)]!)}, max ${fmt(sortedMicro[sortedMicro.length - 1]!)} (target <= 100 ms)`);
console.log(`  baseline, one GET through the same client in the same rounds: median ${fmt(median(roundTrip))} -> reaction = ${(median(micro) / Math.max(0.001, median(roundTrip))).toFixed(1)}x a request round trip`);
const load = await Bun.file("/proc/loadavg").text().catch(() => "?");
console.log(`  machine load average while measuring: ${load.split(" ").slice(0, 3).join(" ")}`);
if (scaled) {
  console.log("");
  console.log(`reaction time in the full bootstrap: condition true in the sim -> the script moves on (scale ${scale}; the sim runs in this process, so its own busy periods count too)`);
  for (const w of scaled.waits) console.log(`  ${w.label.padEnd(46)} ${w.alreadyTrue ? "already true when the wait began" : fmt(w.reactionMs!)}`);
  const watched = scaled.waits.filter((w) => !w.polled && w.reactionMs !== undefined).map((w) => w.reactionMs!);
  const polled = scaled.waits.filter((w) => w.polled && w.reactionMs !== undefined).map((w) => w.reactionMs!);
  if (watched.length) console.log(`  watched waits: median ${fmt(median(watched))}, max ${fmt(Math.max(...watched))} over ${watched.length} waits`);
  if (polled.length) console.log(`  polled (talosctl, backoff 200 ms .. 5 s): ${polled.map(fmt).join(", ")}`);
}
console.log("");
console.log("the Taskfile it replaces: fixed sleeps instead of watching");
console.log("  rolling reboot `sleep 45`: reacts 45 s after the wait began whatever the node does (0 s..45 s late: 22.5 s on average)");
console.log("  a poll loop every N s (`until ...; do sleep N; done`): N/2 s late on average, N s at worst (10 s loop: 5 s / 10 s)");
console.log(`  => the watch-based wait here: ${fmt(median(micro))} median, ${(5000 / Math.max(1, median(micro))).toFixed(0)}x sooner than a 10 s poll loop on average, ${(22_500 / Math.max(1, median(micro))).toFixed(0)}x sooner than \`sleep 45\``);
