/**
 * Health gates for rolling operations: what must hold before a node is taken down and again after it is back.
 *   etcd:     every control plane is an etcd member, none is a learner, each answers `etcd status` without errors,
 *             and they agree on one leader;
 *   nodes:    every node of the repo is a Kubernetes Node with Ready=True (not merely listed: `NotReady` is not Ready);
 *   longhorn: every Longhorn volume is healthy (detached volumes, robustness "unknown", do not block).
 * Reads run concurrently; the decision is a pure function of what was read so it is unit-tested without a cluster.
 */
import { whyNoAnswer } from "../talos/errors.ts";
import type { Talosctl } from "../talos/talosctl.ts";
import type { EtcdMember, EtcdMemberStatus } from "../talos/parse.ts";
import { pollUntil, done, notYet, PollTimeoutError, type PollProgress } from "../talos/poll.ts";
import { quorumSize } from "./quorum.ts";

export interface GateNode {
  hostname: string;
  ip: string;
  controlPlane: boolean;
}

export interface KubeNodeView {
  name: string;
  ready: boolean;
  /** the Ready condition's reason/message when not ready */
  reason?: string;
  roles: string[];
  kubeletVersion?: string;
  osImage?: string;
  internalIPs: string[];
  unschedulable: boolean;
}

export interface LonghornVolumeView {
  name: string;
  state: string;
  robustness: string;
  /** Longhorn's own condition message when something is wrong (lib/storage volumeConditionMessage) */
  message?: string;
}

/** What the gates read from Kubernetes. An adapter over lib/kube implements it (see kube-reader.ts). */
export interface ClusterReader {
  nodes(): Promise<KubeNodeView[]>;
  /** null when Longhorn is not installed (its CRD is absent) */
  longhornVolumes(): Promise<LonghornVolumeView[] | null>;
  /** waits (watching) until every named node is Ready; throws with what is still missing at the deadline */
  waitNodesReady?(names: string[], timeoutMs: number, signal?: AbortSignal): Promise<void>;
  /** waits (watching) until every Longhorn volume is healthy (callers check Longhorn is installed first) */
  waitVolumesHealthy?(timeoutMs: number, signal?: AbortSignal): Promise<void>;
}

export type GateName = "etcd" | "nodes" | "longhorn";

export interface GateCheck {
  name: GateName;
  ok: boolean;
  /** one line for a person */
  detail: string;
  problems: string[];
}

export interface EtcdView {
  members: EtcdMember[];
  status: EtcdMemberStatus[];
  /** control planes whose `etcd status` failed, with the reason */
  unreachable: Array<{ node: string; error: string }>;
  /** when no control plane answered `etcd members` */
  membersError?: string;
}

export interface GateReport {
  ok: boolean;
  checks: GateCheck[];
  etcd: EtcdView;
  /** healthy voting etcd members (for quorum decisions) */
  healthyVoters: number;
  controlPlanes: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Pure decisions

export function etcdGate(controlPlanes: GateNode[], view: EtcdView): { check: GateCheck; healthyVoters: number } {
  const problems: string[] = [];
  if (view.membersError) problems.push(`no control plane answered etcd members: ${view.membersError}`);
  const byHost = new Map(view.members.map((m) => [m.hostname, m]));
  for (const cp of controlPlanes) {
    const m = byHost.get(cp.hostname);
    if (!view.membersError && !m) problems.push(`${cp.hostname} is not an etcd member`);
    else if (m?.learner) problems.push(`${cp.hostname} is still a learner (not voting)`);
  }
  const known = new Set(controlPlanes.map((c) => c.hostname));
  for (const m of view.members)
    if (!known.has(m.hostname)) problems.push(`etcd has a member ${m.hostname} (${m.id}) that is not a control plane of the repo`);
  for (const u of view.unreachable) problems.push(`etcd on ${u.node} does not answer: ${u.error}`);
  const leaders = new Set<string>();
  let healthyVoters = 0;
  for (const s of view.status) {
    if (s.errors.length) problems.push(`etcd on ${s.node} reports: ${s.errors.join(", ")}`);
    if (s.learner) problems.push(`etcd on ${s.node} is a learner`);
    if (!s.errors.length && !s.learner) healthyVoters++;
    if (s.leader && s.leader !== "0" && s.leader !== "0000000000000000") leaders.add(s.leader);
    else problems.push(`etcd on ${s.node} has no leader`);
  }
  if (leaders.size > 1) problems.push(`etcd members disagree on the leader (${[...leaders].join(", ")})`);
  const n = controlPlanes.length;
  const ok = problems.length === 0;
  const detail = ok
    ? `${view.members.length} members voting, all healthy, leader ${[...leaders][0] ?? "?"}`
    : `${healthyVoters} of ${n} members healthy (quorum ${quorumSize(n)}): ${problems[0]}`;
  return { check: { name: "etcd", ok, detail, problems }, healthyVoters };
}

export function nodesGate(expected: GateNode[], nodes: KubeNodeView[] | Error): GateCheck {
  if (nodes instanceof Error)
    return { name: "nodes", ok: false, detail: `the Kubernetes API does not answer: ${nodes.message}`, problems: [nodes.message] };
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const problems: string[] = [];
  for (const e of expected) {
    const n = byName.get(e.hostname);
    if (!n) problems.push(`${e.hostname} is not registered as a Kubernetes node`);
    else if (!n.ready) problems.push(`${e.hostname} is NotReady${n.reason ? ` (${n.reason})` : ""}`);
  }
  const ready = expected.filter((e) => byName.get(e.hostname)?.ready).length;
  return {
    name: "nodes",
    ok: problems.length === 0,
    detail: problems.length === 0 ? `${ready} of ${expected.length} nodes Ready` : `${ready} of ${expected.length} nodes Ready: ${problems[0]}`,
    problems,
  };
}

export function volumeHealthy(v: LonghornVolumeView): boolean {
  if (v.robustness === "healthy") return true;
  // a detached volume has no replicas running: Longhorn reports robustness "unknown"; nothing to rebuild
  return v.state === "detached" && (v.robustness === "unknown" || v.robustness === "");
}

export function longhornGate(volumes: LonghornVolumeView[] | null | Error): GateCheck {
  if (volumes instanceof Error)
    return { name: "longhorn", ok: false, detail: `Longhorn volumes could not be read: ${volumes.message}`, problems: [volumes.message] };
  if (volumes === null) return { name: "longhorn", ok: true, detail: "Longhorn is not installed", problems: [] };
  const bad = volumes.filter((v) => !volumeHealthy(v));
  const problems = bad.map((v) => `volume ${v.name} is ${v.robustness || "unknown"} (${v.state || "unknown state"})${v.message ? `: ${v.message}` : ""}`);
  return {
    name: "longhorn",
    ok: bad.length === 0,
    detail: bad.length === 0 ? `${volumes.length} volumes healthy` : `${bad.length} of ${volumes.length} volumes not healthy: ${problems[0]}`,
    problems,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

/** Reads etcd from the control planes concurrently: members from the first that answers, status from each. */
export async function readEtcd(talos: Talosctl, controlPlanes: GateNode[]): Promise<EtcdView> {
  const statuses = await Promise.all(
    controlPlanes.map(async (cp) => {
      try {
        const rows = await talos.etcdStatus([cp.ip]);
        return { cp, rows };
      } catch (e) {
        return { cp, error: whyNoAnswer(e) };
      }
    }),
  );
  const view: EtcdView = { members: [], status: [], unreachable: [] };
  for (const s of statuses) {
    if ("rows" in s && s.rows) view.status.push(...s.rows.map((r) => ({ ...r, node: r.node || s.cp.ip })));
    else view.unreachable.push({ node: s.cp.hostname, error: s.error ?? "no answer" });
  }
  const answering = controlPlanes.filter((cp) => !view.unreachable.some((u) => u.node === cp.hostname));
  let lastError = "no control plane answers";
  for (const cp of answering.length ? answering : controlPlanes) {
    try {
      view.members = await talos.etcdMembers(cp.ip);
      return view;
    } catch (e) {
      lastError = (e as Error).message;
    }
  }
  view.membersError = lastError;
  return view;
}

export interface GateDeps {
  talos: Talosctl;
  kube: ClusterReader;
  /** every node of the repo */
  nodes: GateNode[];
  /** skip Longhorn (e.g. before it is installed) */
  skipLonghorn?: boolean;
}

/** Reads everything the gates need concurrently and decides. */
export async function evaluateGates(deps: GateDeps): Promise<GateReport> {
  const controlPlanes = deps.nodes.filter((n) => n.controlPlane);
  const [etcd, nodes, volumes] = await Promise.all([
    readEtcd(deps.talos, controlPlanes),
    deps.kube.nodes().catch((e: unknown) => (e instanceof Error ? e : new Error(String(e)))),
    deps.skipLonghorn
      ? Promise.resolve(null)
      : deps.kube.longhornVolumes().catch((e: unknown) => (e instanceof Error ? e : new Error(String(e)))),
  ]);
  const { check: etcdCheck, healthyVoters } = etcdGate(controlPlanes, etcd);
  const checks = [etcdCheck, nodesGate(deps.nodes, nodes), longhornGate(volumes)];
  return { ok: checks.every((c) => c.ok), checks, etcd, healthyVoters, controlPlanes: controlPlanes.length };
}

export function firstFailure(report: GateReport): GateCheck | undefined {
  return report.checks.find((c) => !c.ok);
}

/**
 * Waits until every gate passes within one deadline. What Kubernetes knows is watched (Nodes Ready, Longhorn volumes
 * healthy, when the reader can watch); only etcd, read through talosctl, is polled with backoff. A final read of all
 * gates together confirms nothing regressed meanwhile (else it waits again). PollTimeoutError / the watch's timeout
 * error name the gate still failing.
 */
export async function waitForGates(
  deps: GateDeps,
  opts: { timeoutMs: number; signal?: AbortSignal; what?: string; onProgress?: (p: PollProgress) => void; hint?: string },
): Promise<GateReport> {
  const what = opts.what ?? "the cluster to be healthy (etcd, nodes, Longhorn)";
  const deadline = performance.now() + opts.timeoutMs;
  const left = () => Math.max(1, deadline - performance.now());
  const canWatch = deps.kube.waitNodesReady !== undefined && deps.kube.waitVolumesHealthy !== undefined;
  if (!canWatch)
    return pollUntil(
      async () => {
        const report = await evaluateGates(deps);
        if (report.ok) return done(report);
        const f = firstFailure(report)!;
        return notYet(`${f.name}: ${f.detail}`);
      },
      { what, timeoutMs: opts.timeoutMs, signal: opts.signal, onProgress: opts.onProgress, hint: opts.hint, initialDelayMs: 250, maxDelayMs: 5000 },
    );
  const controlPlanes = deps.nodes.filter((n) => n.controlPlane);
  for (;;) {
    await pollUntil(
      async () => {
        const { check } = etcdGate(controlPlanes, await readEtcd(deps.talos, controlPlanes));
        return check.ok ? done(true) : notYet(`etcd: ${check.detail}`);
      },
      { what: `${what}: etcd`, timeoutMs: left(), signal: opts.signal, onProgress: opts.onProgress, hint: opts.hint, initialDelayMs: 250, maxDelayMs: 5000 },
    );
    await deps.kube.waitNodesReady!(deps.nodes.map((n) => n.hostname), left(), opts.signal);
    if (!deps.skipLonghorn && (await deps.kube.longhornVolumes()) !== null) await deps.kube.waitVolumesHealthy!(left(), opts.signal);
    const report = await evaluateGates(deps);
    if (report.ok) return report;
    const f = firstFailure(report)!;
    if (performance.now() >= deadline) throw new PollTimeoutError(what, opts.timeoutMs, 1, `${f.name}: ${f.detail}`, opts.hint);
    opts.onProgress?.({ attempt: 1, elapsedMs: opts.timeoutMs - left(), remainingMs: left(), detail: `${f.name}: ${f.detail}` });
  }
}
