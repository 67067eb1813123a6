/**
 * cluster-status: one screen of everything that says whether the cluster is healthy. Every read runs at once
 * (talosctl calls batch nodes, in chunks, the way talosctl fans out through apid; Kubernetes lists run in
 * parallel); a read that fails becomes a problem in the report, never an exception. `sequential: true` does the
 * same reads one after another (the baseline bench/status.ts compares with).
 */
import { plural, type Output } from "../cli/output.ts";
import { condition } from "../kube/conditions.ts";
import { isNotFound } from "../kube/errors.ts";
import type { KubeClient, KubeObject, KindSpec } from "../kube/client.ts";
import { etcdGate, longhornGate, volumeHealthy, type GateNode } from "../safety/gates.ts";
import { LONGHORN_NAMESPACE, LONGHORN_VOLUME_KIND, NODE_KIND, nodeView, volumeView } from "../safety/kube-reader.ts";
import { quorumSize } from "../safety/quorum.ts";
import type { TalosNode } from "./cluster.ts";
import { parseNodeErrors, talosErrorShort, whyNoAnswer } from "./errors.ts";
import {
  parseEtcdMembers,
  parseEtcdStatus,
  parseMachineStatus,
  parseMembers,
  type ClusterMember,
  type EtcdMember,
  type EtcdMemberStatus,
  type MachineStatus,
} from "./parse.ts";
import type { Talosctl } from "./talosctl.ts";

export interface NodeStatus {
  hostname: string;
  ip: string;
  roles: string[];
  inRepo: boolean;
  ready: boolean | null;
  readyReason?: string;
  talosVersion?: string;
  kubeletVersion?: string;
  stage?: string;
  /** what the Talos API failure means, in a few words ("not answering", "in maintenance mode") */
  talosError?: string;
  /** talosctl's own words for it */
  talosErrorRaw?: string;
  ok: boolean;
}

export interface SectionStatus {
  ok: boolean;
  /** not installed: nothing to judge */
  installed: boolean;
  detail: string;
  problems: string[];
}

export interface StatusReport {
  ok: boolean;
  cluster: string;
  nodes: NodeStatus[];
  etcd: SectionStatus & {
    members: number;
    leader?: string;
    dbSize?: string;
    /** one row per member; `unknown` where its node did not answer (not "missing": the member may be fine) */
    rows: Array<{ node: string; member: string; state: "healthy" | "errors" | "unknown"; dbSize: string; leader: boolean; learner: boolean; errors: string[] }>;
  };
  cilium: SectionStatus;
  bgp: SectionStatus & { sessions: Array<{ node: string; peer: string; address?: string; state: string }> };
  flux: SectionStatus & { notReady: Array<{ kind: string; namespace: string; name: string; reason: string }> };
  longhorn: SectionStatus & { volumes: number; notHealthy: Array<{ name: string; state: string; robustness: string }> };
  certificates: SectionStatus & { expiring: Array<{ namespace: string; name: string; notAfter?: string; days?: number; ready: boolean }> };
  problems: string[];
  /** the problems grouped under their root cause: a node that is down explains its etcd peer, BGP sessions, ... */
  groups: ProblemGroup[];
  readMs: number;
}

export interface ProblemGroup {
  /** "mini03 down", or the problem itself when nothing else follows from it */
  cause: string;
  /** what follows from the cause, counted: "Talos API", "etcd peer", "2 BGP sessions" */
  follows: string[];
  /** every problem line of the group, as in `problems` */
  problems: string[];
}

export const KINDS = {
  daemonSet: { apiVersion: "apps/v1", kind: "DaemonSet" },
  bgpNodeConfig: { apiVersion: "cilium.io/v2alpha1", kind: "CiliumBGPNodeConfig" },
  kustomization: { apiVersion: "kustomize.toolkit.fluxcd.io/v1", kind: "Kustomization" },
  helmRelease: { apiVersion: "helm.toolkit.fluxcd.io/v2", kind: "HelmRelease" },
  certificate: { apiVersion: "cert-manager.io/v1", kind: "Certificate" },
} as const satisfies Record<string, KindSpec>;

type Read<T> = { ok: true; value: T } | { ok: false; error: string; notInstalled: boolean };

async function read<T>(fn: () => Promise<T>): Promise<Read<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    return { ok: false, error: (e as Error).message.split("\n")[0]!, notInstalled: isNotFound(e) };
  }
}

interface TalosRead<T> {
  rows: T[];
  errors: Map<string, string>;
}

/** A multi-node talosctl read: rows from stdout (even on exit 1), per-node errors from the error block. */
async function talosRead<T>(
  talos: Talosctl,
  args: string[],
  nodes: string[],
  parse: (s: string) => T[],
  endpoints?: string[],
): Promise<TalosRead<T>> {
  const r = await talos.call(args, { nodes, readOnly: true, ...(endpoints && nodes.length > 1 ? { endpoints } : {}) });
  const errors = new Map<string, string>();
  if (r.exitCode !== 0) {
    const errs = parseNodeErrors(r.stderr);
    for (const e of errs) {
      const text = /desc = (.*)$/.exec(e.message)?.[1] ?? e.message;
      if (e.node) errors.set(e.node, text);
      else for (const n of nodes) if (!errors.has(n)) errors.set(n, text);
    }
    if (errs.length === 0) for (const n of nodes) errors.set(n, r.stderr.trim().split("\n")[0] || `talosctl exit ${r.exitCode}`);
  }
  let rows: T[] = [];
  try {
    rows = r.stdout.trim() ? parse(r.stdout) : [];
  } catch (e) {
    for (const n of nodes) if (!errors.has(n)) errors.set(n, (e as Error).message);
  }
  return { rows, errors };
}

function chunks<T>(xs: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

async function talosReadChunked<T>(
  run: Runner,
  talos: Talosctl,
  args: string[],
  nodes: string[],
  parse: (s: string) => T[],
  chunkSize: number,
  endpoints?: string[],
): Promise<TalosRead<T>> {
  const parts = await run(chunks(nodes, chunkSize).map((c) => () => talosRead(talos, args, c, parse, endpoints)));
  return { rows: parts.flatMap((p) => p.rows), errors: new Map(parts.flatMap((p) => [...p.errors])) };
}

type Runner = <T>(tasks: Array<() => Promise<T>>) => Promise<T[]>;
const concurrent: Runner = (tasks) => Promise.all(tasks.map((t) => t()));
const sequential: Runner = async (tasks) => {
  const out = [];
  for (const t of tasks) out.push(await t());
  return out;
};

async function listKind(kube: KubeClient, kind: KindSpec, namespace?: string): Promise<KubeObject[]> {
  return (await kube.list(kind, namespace ? { namespace } : {})).items;
}

export interface StatusOptions {
  talos: Talosctl;
  kube: KubeClient | null;
  kubeError?: string;
  cluster: string;
  nodes: TalosNode[];
  sequential?: boolean;
  /** nodes per talosctl call (default 500: talosctl fans out to the nodes itself; each call is a process) */
  chunkSize?: number;
  /** certificates expiring within this many days are a problem */
  certDays?: number;
  now?: Date;
}

export async function collectStatus(o: StatusOptions): Promise<StatusReport> {
  const t0 = performance.now();
  const run = o.sequential ? sequential : concurrent;
  const chunkSize = o.chunkSize ?? 500;
  const cps = o.nodes.filter((n) => n.controlPlane);
  const firstCp = cps[0]?.ip ?? o.nodes[0]!.ip;
  const kube = o.kube;
  const noKube = <T>(): Promise<Read<T>> => Promise.resolve({ ok: false, error: o.kubeError ?? "no kubeconfig", notInstalled: false });
  const modelIps = o.nodes.map((n) => n.ip);
  const known = new Set(modelIps);
  const extrasOf = (m: TalosRead<ClusterMember>): TalosNode[] =>
    m.rows
      .filter((x) => x.addresses[0] && !known.has(x.addresses[0]))
      .map((x) => ({ hostname: x.hostname, ip: x.addresses[0]!, controlPlane: x.machineType === "controlplane", installerImage: "" }));
  const extraMachines = async (m: TalosRead<ClusterMember>): Promise<TalosRead<MachineStatus>> => {
    const extra = extrasOf(m);
    if (extra.length === 0) return { rows: [], errors: new Map() };
    return talosReadChunked(run, o.talos, ["get", "machinestatus", "-o", "json"], extra.map((e) => e.ip), parseMachineStatus, chunkSize);
  };

  // one round, all at once. `get members` (Talos' cluster discovery) gives every node's Talos version and the nodes
  // the live cluster has beyond the repo's (a scaled simulation, a node added by hand).
  const tasks = [
    // discovery, then at once the machine status of any node it found beyond the repo's (pipelined, not a round)
    async () => {
      const m = await talosRead(o.talos, ["get", "members"], [firstCp], parseMembers);
      const more = await extraMachines(m);
      return { members: m, more };
    },
    () => talosReadChunked(run, o.talos, ["get", "machinestatus", "-o", "json"], modelIps, parseMachineStatus, chunkSize),
    () => talosRead(o.talos, ["etcd", "status"], cps.map((n) => n.ip), parseEtcdStatus),
    () => talosRead(o.talos, ["etcd", "members"], [firstCp], parseEtcdMembers),
    () => (kube ? read(() => listKind(kube, NODE_KIND)) : noKube()),
    () => (kube ? read(() => listKind(kube, KINDS.daemonSet, "kube-system")) : noKube()),
    () => (kube ? read(() => listKind(kube, KINDS.bgpNodeConfig)) : noKube()),
    () => (kube ? read(() => listKind(kube, KINDS.kustomization)) : noKube()),
    () => (kube ? read(() => listKind(kube, KINDS.helmRelease)) : noKube()),
    () => (kube ? read(() => listKind(kube, LONGHORN_VOLUME_KIND, LONGHORN_NAMESPACE)) : noKube()),
    () => (kube ? read(() => listKind(kube, KINDS.certificate)) : noKube()),
  ] as const;
  const results = (await run(tasks.map((t) => t as () => Promise<unknown>))) as [
    { members: TalosRead<ClusterMember>; more: TalosRead<MachineStatus> },
    TalosRead<MachineStatus>,
    TalosRead<EtcdMemberStatus>,
    TalosRead<EtcdMember>,
    Read<KubeObject[]>,
    Read<KubeObject[]>,
    Read<KubeObject[]>,
    Read<KubeObject[]>,
    Read<KubeObject[]>,
    Read<KubeObject[]>,
    Read<KubeObject[]>,
  ];
  let [discovery, machines, etcdStatus, etcdMembers, k8sNodes, daemonSets, bgpConfigs, kustomizations, helmReleases, volumes, certificates] = results;

  let members = discovery.members;
  let more = discovery.more;
  // only when the first control plane did not answer: ask the others (a second round)
  if (members.errors.size || etcdMembers.errors.size) {
    for (const cp of cps.slice(1)) {
      const [m, e] = await run([
        () => talosRead(o.talos, ["get", "members"], [cp.ip], parseMembers),
        () => talosRead(o.talos, ["etcd", "members"], [cp.ip], parseEtcdMembers),
      ] as Array<() => Promise<TalosRead<unknown>>>);
      if (members.errors.size && m!.errors.size === 0) {
        members = m as TalosRead<ClusterMember>;
        more = await extraMachines(members);
      }
      if (etcdMembers.errors.size && e!.errors.size === 0) etcdMembers = e as TalosRead<EtcdMember>;
      if (!members.errors.size && !etcdMembers.errors.size) break;
    }
  }
  const extra = extrasOf(members);
  machines = { rows: [...machines.rows, ...more.rows], errors: new Map([...machines.errors, ...more.errors]) };
  const nodes = [...o.nodes, ...extra];
  const versions: TalosRead<{ node: string; tag: string }> = {
    rows: members.rows.filter((m) => m.addresses[0] && m.talosVersion).map((m) => ({ node: m.addresses[0]!, tag: m.talosVersion! })),
    errors: new Map(),
  };
  const readMs = performance.now() - t0;
  return buildReport({
    cluster: o.cluster,
    nodes,
    extra: new Set(extra.map((e) => e.ip)),
    versions,
    machines,
    etcdStatus,
    etcdMembers,
    k8sNodes,
    daemonSets,
    bgpConfigs,
    kustomizations,
    helmReleases,
    volumes,
    certificates,
    certDays: o.certDays ?? 14,
    now: o.now ?? new Date(),
    readMs,
  });
}

export interface ReportInput {
  cluster: string;
  nodes: TalosNode[];
  extra: Set<string>;
  versions: TalosRead<{ node: string; tag: string }>;
  machines: TalosRead<MachineStatus>;
  etcdStatus: TalosRead<EtcdMemberStatus>;
  etcdMembers: TalosRead<EtcdMember>;
  k8sNodes: Read<KubeObject[]>;
  daemonSets: Read<KubeObject[]>;
  bgpConfigs: Read<KubeObject[]>;
  kustomizations: Read<KubeObject[]>;
  helmReleases: Read<KubeObject[]>;
  volumes: Read<KubeObject[]>;
  certificates: Read<KubeObject[]>;
  certDays: number;
  now: Date;
  readMs: number;
}

/** Pure: what was read -> the report. */
export function buildReport(i: ReportInput): StatusReport {
  const problems: string[] = [];
  const k8s = i.k8sNodes.ok ? new Map(i.k8sNodes.value.map((o) => [o.metadata.name ?? "", nodeView(o)])) : new Map();
  if (!i.k8sNodes.ok) problems.push(`Kubernetes API: ${i.k8sNodes.error}`);
  const ver = new Map(i.versions.rows.map((v) => [v.node, v.tag]));
  const ms = new Map(i.machines.rows.map((m) => [m.node, m]));
  const nodes: NodeStatus[] = i.nodes.map((n) => {
    const kv = k8s.get(n.hostname);
    const rawTalosError = i.versions.errors.get(n.ip) ?? i.machines.errors.get(n.ip);
    // gRPC/TLS text becomes its meaning; --json keeps the same short words (the raw text is talosctl's to show)
    const talosError = rawTalosError === undefined ? undefined : talosErrorShort(rawTalosError);
    const stage = ms.get(n.ip)?.stage;
    const ready = i.k8sNodes.ok ? (kv ? kv.ready : false) : null;
    const s: NodeStatus = {
      hostname: n.hostname,
      ip: n.ip,
      roles: kv?.roles.length ? kv.roles : [n.controlPlane ? "control-plane" : "worker"],
      inRepo: !i.extra.has(n.ip),
      ready,
      ...(kv && !kv.ready ? { readyReason: kv.reason } : !kv && i.k8sNodes.ok ? { readyReason: "not registered" } : {}),
      talosVersion: ver.get(n.ip),
      kubeletVersion: kv?.kubeletVersion,
      stage,
      ...(talosError ? { talosError, talosErrorRaw: rawTalosError } : {}),
      ok: ready !== false && !talosError && (stage === undefined || stage === "running"),
    };
    if (talosError) problems.push(`node ${n.hostname}: Talos API: ${talosError}`);
    else if (stage && stage !== "running") problems.push(`node ${n.hostname}: stage ${stage}`);
    if (ready === false) problems.push(`node ${n.hostname}: ${kv ? `NotReady (${kv.reason ?? "?"})` : "not registered in Kubernetes"}`);
    return s;
  });

  // etcd
  const cps: GateNode[] = i.nodes.filter((n) => n.controlPlane).map((n) => ({ hostname: n.hostname, ip: n.ip, controlPlane: true }));
  const etcdView = {
    members: i.etcdMembers.rows,
    status: i.etcdStatus.rows,
    unreachable: [...i.etcdStatus.errors].map(([node, error]) => ({ node: cps.find((c) => c.ip === node)?.hostname ?? node, error: whyNoAnswer(error) })),
    ...(i.etcdMembers.rows.length === 0 && i.etcdMembers.errors.size ? { membersError: [...i.etcdMembers.errors.values()][0] } : {}),
  };
  const { check: etcdCheck } = etcdGate(cps, etcdView);
  const leaderId = i.etcdStatus.rows.find((r) => r.leader)?.leader;
  const leaderHost = i.etcdMembers.rows.find((m) => m.id === leaderId)?.hostname;
  const biggest = [...i.etcdStatus.rows].sort((a, b) => b.dbSize - a.dbSize)[0];
  const etcd = {
    ok: etcdCheck.ok,
    installed: true,
    detail: etcdCheck.ok
      ? `${i.etcdMembers.rows.length} members, leader ${leaderHost ?? leaderId ?? "?"}, quorum ${quorumSize(cps.length)}, db ${biggest?.dbSizeText ?? "?"}`
      : etcdCheck.detail,
    problems: etcdCheck.problems,
    members: i.etcdMembers.rows.length,
    leader: leaderHost ?? leaderId,
    dbSize: biggest?.dbSizeText,
    rows: [
      ...i.etcdStatus.rows.map((r) => ({
        node: cps.find((c) => c.ip === r.node)?.hostname ?? r.node,
        member: r.memberId,
        state: (r.errors.length ? "errors" : "healthy") as "errors" | "healthy",
        dbSize: r.dbSizeText,
        leader: r.memberId === r.leader,
        learner: r.learner,
        errors: r.errors,
      })),
      // members whose node did not answer `etcd status`: their state is unknown, not missing
      ...i.etcdMembers.rows
        .filter((m) => !i.etcdStatus.rows.some((r) => r.memberId === m.id || cps.find((c) => c.ip === r.node)?.hostname === m.hostname))
        .map((m) => ({
          node: m.hostname,
          member: m.id,
          state: "unknown" as const,
          dbSize: "?",
          leader: false,
          learner: m.learner ?? false,
          errors: [`unknown: ${m.hostname} did not answer`],
        })),
    ],
  };
  problems.push(...etcd.problems.map((p) => `etcd: ${p}`));

  // Cilium
  let cilium: SectionStatus;
  if (!i.daemonSets.ok) cilium = section(false, !i.daemonSets.notInstalled, `cannot read: ${i.daemonSets.error}`);
  else {
    const ds = i.daemonSets.value.find((d) => d.metadata.name === "cilium");
    if (!ds) cilium = { ok: false, installed: false, detail: "not installed (nodes stay NotReady without a CNI)", problems: ["Cilium is not installed"] };
    else {
      const want = Number(ds.status?.desiredNumberScheduled ?? 0);
      const ready = Number(ds.status?.numberReady ?? 0);
      const ok = want > 0 && ready === want;
      cilium = { ok, installed: true, detail: `${ready}/${want} agents ready`, problems: ok ? [] : [`Cilium agents ready ${ready}/${want}`] };
    }
  }
  problems.push(...cilium.problems.map((p) => `cilium: ${p}`));

  // BGP
  const sessions: StatusReport["bgp"]["sessions"] = [];
  let bgp: StatusReport["bgp"];
  if (!i.bgpConfigs.ok) {
    bgp = { ...section(i.bgpConfigs.notInstalled, !i.bgpConfigs.notInstalled, i.bgpConfigs.notInstalled ? "BGP control plane not installed" : `cannot read: ${i.bgpConfigs.error}`), sessions };
  } else {
    for (const nc of i.bgpConfigs.value)
      for (const inst of (nc.status?.bgpInstances ?? []) as Array<{ peers?: Array<{ name: string; peerAddress?: string; peeringState?: string }> }>)
        for (const p of inst.peers ?? [])
          sessions.push({ node: nc.metadata.name ?? "", peer: p.name, address: p.peerAddress, state: p.peeringState ?? "unknown" });
    // a node that is down or NotReady cannot update its status: what it last reported is stale, not established
    const silent = new Set(nodes.filter((n) => n.talosError !== undefined || n.ready === false).map((n) => n.hostname));
    for (const s of sessions) if (silent.has(s.node)) s.state = `unknown (${s.node} down: its last report was ${s.state})`;
    const down = sessions.filter((s) => s.state !== "established");
    const bgpProblems = down.map((s) => `${s.node} -> ${s.peer}${s.address ? ` (${s.address})` : ""}: ${s.state}`);
    if (i.bgpConfigs.value.length > 0 && sessions.length === 0) bgpProblems.push("node configs exist but report no peers");
    bgp = {
      ok: bgpProblems.length === 0,
      installed: i.bgpConfigs.value.length > 0,
      detail:
        i.bgpConfigs.value.length === 0
          ? "no CiliumBGPNodeConfig (BGP not configured yet)"
          : `${sessions.length - down.length}/${sessions.length} sessions established${silent.size && down.some((s) => silent.has(s.node)) ? `, ${down.filter((s) => silent.has(s.node)).length} unknown (node down)` : ""}`,
      problems: bgpProblems,
      sessions,
    };
  }
  problems.push(...bgp.problems.map((p) => `bgp: ${p}`));

  // Flux
  const notReady: StatusReport["flux"]["notReady"] = [];
  const fluxErrors: string[] = [];
  let fluxInstalled = false;
  for (const [kind, r] of [["Kustomization", i.kustomizations], ["HelmRelease", i.helmReleases]] as const) {
    if (!r.ok) {
      if (!r.notInstalled) fluxErrors.push(`cannot read ${kind}s: ${r.error}`);
      continue;
    }
    fluxInstalled = true;
    for (const o of r.value) {
      const c = condition(o, "Ready");
      if (o.spec?.suspend === true) continue;
      if (c?.status !== "True")
        notReady.push({ kind, namespace: o.metadata.namespace ?? "", name: o.metadata.name ?? "", reason: c ? `${c.reason ?? c.status}: ${(c.message ?? "").split("\n")[0]}` : "no Ready condition yet" });
    }
  }
  const total = (i.kustomizations.ok ? i.kustomizations.value.length : 0) + (i.helmReleases.ok ? i.helmReleases.value.length : 0);
  const flux = {
    ok: notReady.length === 0 && fluxErrors.length === 0,
    installed: fluxInstalled,
    detail: !fluxInstalled ? "Flux not installed" : `${total - notReady.length}/${total} Kustomizations and HelmReleases Ready`,
    problems: [...fluxErrors, ...notReady.map((n) => `${n.kind} ${n.namespace}/${n.name}: ${n.reason}`)],
    notReady,
  };
  problems.push(...flux.problems.map((p) => `flux: ${p}`));

  // Longhorn
  let longhorn: StatusReport["longhorn"];
  if (!i.volumes.ok) {
    longhorn = { ...section(i.volumes.notInstalled, !i.volumes.notInstalled, i.volumes.notInstalled ? "Longhorn not installed" : `cannot read: ${i.volumes.error}`), volumes: 0, notHealthy: [] };
  } else {
    const views = i.volumes.value.map(volumeView);
    const g = longhornGate(views);
    longhorn = { ok: g.ok, installed: true, detail: g.detail, problems: g.problems, volumes: views.length, notHealthy: views.filter((v) => !volumeHealthy(v)) };
  }
  problems.push(...longhorn.problems.map((p) => `longhorn: ${p}`));

  // certificates
  let certificatesSection: StatusReport["certificates"];
  if (!i.certificates.ok) {
    certificatesSection = { ...section(i.certificates.notInstalled, !i.certificates.notInstalled, i.certificates.notInstalled ? "cert-manager not installed" : `cannot read: ${i.certificates.error}`), expiring: [] };
  } else {
    const expiring: StatusReport["certificates"]["expiring"] = [];
    for (const c of i.certificates.value) {
      const notAfter = c.status?.notAfter as string | undefined;
      const days = notAfter ? Math.floor((Date.parse(notAfter) - i.now.getTime()) / 86_400_000) : undefined;
      const ready = condition(c, "Ready")?.status === "True";
      if (!ready || (days !== undefined && days < i.certDays))
        expiring.push({ namespace: c.metadata.namespace ?? "", name: c.metadata.name ?? "", ...(notAfter ? { notAfter } : {}), ...(days !== undefined ? { days } : {}), ready });
    }
    certificatesSection = {
      ok: expiring.length === 0,
      installed: true,
      detail: expiring.length ? `${expiring.length} of ${i.certificates.value.length} certificates not ready or expiring within ${i.certDays} days` : `${i.certificates.value.length} certificate${i.certificates.value.length === 1 ? "" : "s"} valid for ${i.certDays}+ days`,
      problems: expiring.map((e) => `${e.namespace}/${e.name}: ${e.ready ? `expires in ${e.days} days` : "not Ready"}`),
      expiring,
    };
  }
  problems.push(...certificatesSection.problems.map((p) => `certificates: ${p}`));

  return {
    ok: problems.length === 0,
    groups: groupProblems(nodes, { cilium, longhorn }, problems),
    cluster: i.cluster,
    nodes,
    etcd,
    cilium,
    bgp,
    flux,
    longhorn,
    certificates: certificatesSection,
    problems,
    readMs: Math.round(i.readMs),
  };
}

function section(ok: boolean, installed: boolean, detail: string): SectionStatus {
  return { ok, installed, detail, problems: ok ? [] : [detail] };
}

/** Node problems and section problems worded the way buildReport writes them, mapped to what they are part of. */
const PARTS: Array<[RegExp, string, string]> = [
  [/^node \S+: Talos API/, "Talos API", "Talos API"],
  [/^node \S+: stage /, "boot stage", "boot stage"],
  [/^node \S+: (NotReady|not registered)/, "kubelet", "kubelet"],
  [/^etcd: /, "etcd peer", "etcd peer"],
  [/^bgp: /, "BGP session", "BGP sessions"],
  [/^longhorn: /, "volume", "volumes"],
  [/^cilium: /, "Cilium agent", "Cilium agents"],
  [/^flux: /, "Flux object", "Flux objects"],
  [/^certificates: /, "certificate", "certificates"],
];

function partOf(problem: string): [string, string] {
  for (const [re, one, many] of PARTS) if (re.test(problem)) return [one, many];
  return ["other problem", "other problems"];
}

/**
 * Groups the report's problems under their root cause, so one node that is down reads as one problem
 * ("mini03 down: Talos API, kubelet, etcd peer, 2 BGP sessions") instead of a line per symptom. A node is a root
 * when its Talos API does not answer, it is NotReady, or it is not running; every problem that names it follows
 * from it. With one root, degraded Longhorn volumes and one missing Cilium agent follow from it too (a replica or
 * agent on that node). Whatever no root explains is a group of its own.
 */
export function groupProblems(
  nodes: NodeStatus[],
  sections: { longhorn: SectionStatus; cilium: SectionStatus },
  problems: string[],
): ProblemGroup[] {
  const roots = nodes.filter((n) => n.talosError !== undefined || n.ready === false || (n.stage !== undefined && n.stage !== "running"));
  const claimed = new Set<string>();
  const groups: ProblemGroup[] = [];
  for (const n of roots) {
    const names = new RegExp(`(^|[^\\w-])${n.hostname.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}([^\\w-]|$)`);
    const mine = problems.filter((p) => !claimed.has(p) && names.test(p));
    if (roots.length === 1) {
      mine.push(...sections.longhorn.problems.map((p) => `longhorn: ${p}`).filter((p) => !claimed.has(p) && !mine.includes(p) && /degraded/i.test(p) && problems.includes(p)));
      const agents = problems.find((p) => /^cilium: Cilium agents ready (\d+)\/(\d+)$/.test(p));
      const m = agents && /(\d+)\/(\d+)$/.exec(agents);
      if (agents && m && Number(m[2]) - Number(m[1]) === 1 && !claimed.has(agents)) mine.push(agents);
    }
    for (const p of mine) claimed.add(p);
    const counts = new Map<string, { one: string; many: string; n: number }>();
    for (const p of mine) {
      const [one, many] = partOf(p);
      const c = counts.get(one) ?? { one, many, n: 0 };
      c.n += 1;
      counts.set(one, c);
    }
    // the part the cause already names is not said again among what follows from it
    const [cause, named] =
      n.talosError === "not answering" && n.ready !== true
        ? [`${n.hostname} down`, undefined]
        : n.talosError !== undefined
          ? [`${n.hostname}: Talos API ${n.talosError}`, "Talos API"]
          : n.ready === false
            ? [`${n.hostname} NotReady`, "kubelet"]
            : [`${n.hostname} in stage ${n.stage}`, "boot stage"];
    const follows = [...counts.values()].filter((c) => c.one !== named).map((c) => (c.n === 1 ? c.one : `${c.n} ${c.many}`));
    groups.push({ cause, follows, problems: mine });
  }
  for (const p of problems) if (!claimed.has(p)) groups.push({ cause: p, follows: [], problems: [p] });
  return groups;
}

/** The problem list of cluster-status: one line per root cause; each symptom under it only with --verbose. */
export function printProblemGroups(out: Output, groups: ProblemGroup[], verbose: boolean): void {
  if (groups.length === 0) {
    out.line(`\n${out.mark("ok")} everything healthy`);
    return;
  }
  const lines = groups.reduce((n, g) => n + g.problems.length, 0);
  out.line();
  out.line(out.bold(`${plural(groups.length, "problem")}${lines > groups.length ? ` (${lines} findings; --verbose lists each)` : ""}:`));
  for (const g of groups.slice(0, 40)) {
    out.line(`  ${out.mark("fail")} ${g.cause}${g.follows.length ? `: ${g.follows.join(", ")}` : ""}`);
    if (verbose && g.follows.length) for (const p of g.problems) out.line(`      ${p}`);
  }
  if (groups.length > 40) out.line(`  ... and ${groups.length - 40} more (--json shows all)`);
}
