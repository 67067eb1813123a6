/**
 * Rolling reboot and upgrade of Talos nodes over lib/safety's runner: the talosctl action for each node (with
 * `--wait`, so talosctl follows the node down and back), the "node is back" check from Talos' own state, and what
 * "already done" means for an upgrade (same Talos version and schematic), so a second run continues where the first
 * stopped.
 */
import type { Duration } from "../cli/flags.ts";
import type { Output, Waiting } from "../cli/output.ts";
import type { GateDeps, GateNode } from "../safety/gates.ts";
import { runRolling, type RollingEvent, type RollingResult } from "../safety/rolling.ts";
import { formatMs, pollUntil, done, notYet } from "./poll.ts";
import type { Talosctl } from "./talosctl.ts";
import { parseInstallerImage, sameVersion } from "./versions.ts";

export interface RollingCommon {
  talos: Talosctl;
  gates: GateDeps;
  targets: GateNode[];
  /** how long the node may take to come back: `.text` for talosctl --timeout, `.ms` for our own waits */
  nodeTimeout: Duration;
  gateTimeoutMs: number;
  dryRun: boolean;
  signal?: AbortSignal;
  out: Output;
  /** re-checks the maintenance lock before each step (lib/safety/lock.ts) */
  guard?: () => Promise<void>;
}

export function describeEvent(e: RollingEvent): string {
  const what: Record<RollingEvent["phase"], string> = {
    "gate-before": "gates before",
    quorum: "quorum",
    action: "change",
    "node-back": "back",
    "gate-after": "gates after",
    skipped: "skipped",
  };
  return `${e.node}: ${what[e.phase]}: ${e.detail}`;
}

/** Polls machinestatus until the node is `running` and ready (talosctl --wait already saw it boot). */
export async function waitRunning(talos: Talosctl, node: GateNode, timeoutMs: number, signal?: AbortSignal): Promise<string> {
  const t0 = performance.now();
  await pollUntil(
    async () => {
      const s = await talos.machineStatus(node.ip);
      if (s.stage === "running") return done(s);
      return notYet(`stage ${s.stage}`);
    },
    { what: `${node.hostname} to be running`, timeoutMs, signal, initialDelayMs: 100, maxDelayMs: 2000 },
  );
  return `running again after ${formatMs(performance.now() - t0)} more`;
}

/** talosctl's `--wait` timing out means the node went down and did not come back: say that. */
function notBack(e: unknown, node: GateNode, timeout: string, what: string): Error {
  const msg = e instanceof Error ? e.message : String(e);
  // the message may be translated already; talosctl's own words stay on the error's stderr
  const raw = `${msg}\n${(e as { stderr?: string }).stderr ?? ""}`;
  if (/timeout waiting for the node to come back/.test(raw))
    return new Error(`${node.hostname} did not come back from its ${what} within ${timeout} (check its console or power)`);
  return e instanceof Error ? e : new Error(msg);
}

/** Runs one step of a node's change under a progress line: what is awaited, the time so far, the deadline. */
async function waiting<T>(out: Output, what: string, deadlineMs: number, fn: (w: Waiting) => Promise<T>): Promise<T> {
  const w = out.wait(what, { deadlineMs });
  try {
    return await fn(w);
  } finally {
    w.done();
  }
}

/** The progress line of the gates' wait after a node; finish() ends it (the next step's line, or the end). */
function gateProgress(o: RollingCommon) {
  let current: { key: string; w: Waiting } | undefined;
  return {
    update(node: GateNode, what: string, p: { detail?: string; elapsedMs: number }) {
      const key = `${node.hostname}/${what}`;
      if (current?.key !== key) {
        current?.w.done();
        current = { key, w: o.out.wait(`${node.hostname}: waiting for the ${what} to pass again`, { deadlineMs: o.gateTimeoutMs }) };
      }
      current.w.update(p.detail ?? "");
    },
    finish() {
      current?.w.done();
      current = undefined;
    },
  };
}

/** What every rolling operation hands runRolling: targets, gates, and progress and events on the script's output. */
function rollingBase(o: RollingCommon, gates: ReturnType<typeof gateProgress>) {
  return {
    targets: o.targets,
    gates: o.gates,
    gateTimeoutMs: o.gateTimeoutMs,
    signal: o.signal,
    dryRun: o.dryRun,
    guard: o.guard,
    // a failed step stops the run and the script's error says it, once; the log shows the steps that passed
    onEvent: (e: Parameters<typeof describeEvent>[0]) => {
      gates.finish();
      if (e.ok) o.out.log(`${o.out.mark("ok")} ${describeEvent(e)}`);
    },
    onProgress: gates.update,
  };
}

export async function rollingReboot(o: RollingCommon): Promise<RollingResult> {
  const gates = gateProgress(o);
  return runRolling({
    ...rollingBase(o, gates),
    action: async (node) => {
      await waiting(o.out, `${node.hostname}: rebooting (talosctl follows it down and back)`, o.nodeTimeout.ms, () =>
        o.talos.reboot(node.ip, { timeout: o.nodeTimeout.text }),
      ).catch((e) => {
        throw notBack(e, node, o.nodeTimeout.text, "reboot");
      });
    },
    waitBack: (node) => waiting(o.out, `${node.hostname}: waiting for Talos to report it running`, o.nodeTimeout.ms, () => waitRunning(o.talos, node, o.nodeTimeout.ms, o.signal)),
  }).finally(() => gates.finish());
}

export interface UpgradeTarget {
  image: string;
  version: string;
  schematic: string;
}

/** What a node runs now: Talos version (get members' OS) and schematic id (the Image Factory's "schematic" extension). */
export async function nodeRuns(talos: Talosctl, node: GateNode): Promise<{ version?: string; schematic?: string }> {
  const [versions, exts] = await Promise.all([
    talos.versions([node.ip]).catch(() => []),
    talos.extensions([node.ip]).catch(() => []),
  ]);
  return {
    version: versions[0]?.tag,
    schematic: exts.find((e) => e.name === "schematic")?.version,
  };
}

export async function rollingUpgrade(o: RollingCommon & { target: UpgradeTarget; controlPlanes: number }): Promise<RollingResult> {
  const parsed = parseInstallerImage(o.target.image);
  const gates = gateProgress(o);
  return runRolling({
    ...rollingBase(o, gates),
    alreadyDone: async (node) => {
      const now = await nodeRuns(o.talos, node);
      if (now.version && sameVersion(now.version, o.target.version) && now.schematic === parsed?.schematic)
        return `already runs ${o.target.version} with schematic ${o.target.schematic.slice(0, 12)}...`;
      return false;
    },
    action: async (node) => {
      // fewer than 3 etcd members: Talos refuses to upgrade a control plane unless its data is preserved
      await waiting(o.out, `${node.hostname}: upgrading to ${o.target.version} (talosctl follows it down and back)`, o.nodeTimeout.ms, () =>
        o.talos.upgrade(node.ip, o.target.image, { timeout: o.nodeTimeout.text, preserve: node.controlPlane && o.controlPlanes < 3 }),
      ).catch((e) => {
          throw notBack(e, node, o.nodeTimeout.text, "upgrade");
        });
    },
    waitBack: async (node) => {
      const back = await waiting(o.out, `${node.hostname}: waiting for Talos to report it running`, o.nodeTimeout.ms, () =>
        waitRunning(o.talos, node, o.nodeTimeout.ms, o.signal),
      );
      const now = await nodeRuns(o.talos, node);
      if (!now.version || !sameVersion(now.version, o.target.version))
        throw new Error(`${node.hostname} came back running ${now.version ?? "an unknown version"}, not ${o.target.version}`);
      if (now.schematic !== parsed?.schematic)
        throw new Error(`${node.hostname} came back with schematic ${now.schematic ?? "none"}, not ${o.target.schematic}`);
      return `${back}; runs ${now.version} with the repo's schematic`;
    },
  }).finally(() => gates.finish());
}
