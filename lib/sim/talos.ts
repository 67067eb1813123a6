/**
 * The simulated Talos machines and their etcd cluster: the state machine of talos.md, without any output format
 * (lib/sim/tools/talosctl.ts renders it). Every change is recorded in `history`, and the owner (SimCluster) is told
 * through hooks so it can keep the Kubernetes Node objects in step.
 *
 * Lifecycle: maintenance --apply-config--> installing -> (reboot) -> running; control planes wait in etcd
 * `Preparing` until one of them is bootstrapped, then the others join; kubelets register their Node once the
 * API exists. reboot/upgrade take a node down and back; reset wipes STATE (-> maintenance) and/or EPHEMERAL (etcd
 * data) and, when graceful, leaves etcd first.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Faults } from "./faults.ts";
import type { Timing } from "./timing.ts";
import type { SimNodeSpec, SimTopology } from "./topology.ts";

export type MachineStage =
  | "booting"
  | "installing"
  | "maintenance"
  | "running"
  | "rebooting"
  | "shutting down"
  | "resetting"
  | "upgrading";

export type EtcdServiceState = "Waiting" | "Preparing" | "Running" | "Finished";

/** What apply-config stored in STATE. */
export interface AppliedConfig {
  text: string;
  type: "controlplane" | "worker";
  /** machine.ca.crt: a talosconfig must carry the same CA to be trusted */
  ca?: string;
  installImage?: string;
  hostname?: string;
  kubernetesVersion?: string;
  clusterName?: string;
}

export interface EtcdMember {
  /** 16 hex digits */
  id: string;
  hostname: string;
  ip: string;
  learner: boolean;
}

export interface HistoryEvent {
  /** ms since the simulation started */
  at: number;
  type:
    | "down"
    | "up"
    | "apply-config"
    | "bootstrap"
    | "recover"
    | "reboot"
    | "upgrade"
    | "reset"
    | "shutdown"
    | "etcd-join"
    | "etcd-leave"
    | "etcd-promote"
    | "kubelet-registered"
    | "stage";
  node?: string;
  detail?: string;
}

export class TalosMachine {
  readonly spec: SimNodeSpec;
  stage: MachineStage = "maintenance";
  /** apid answers (false while powered off, booting or going down) */
  up = true;
  /** powered off by shutdown/reset without reboot, or a reboot that never returned */
  off = false;
  config?: AppliedConfig;
  /** installed (or booted ISO) Talos version, e.g. v1.10.5 */
  version: string;
  installerImage?: string;
  schematicId?: string;
  extensions: string[] = [];
  etcdService: EtcdServiceState = "Waiting";
  /** the EPHEMERAL partition holds etcd data */
  etcdData = false;
  /** a bootstrap was accepted and etcd is starting: a second bootstrap is AlreadyExists, as on a real node */
  bootstrapping = false;
  kubeletRunning = false;
  /** resource version of MachineStatus, bumped on every change */
  statusVersion = 1;
  bootedAt = Date.now();
  stageChangedAt = Date.now();
  /** an upgrade is going on (the upgrade mutex) */
  upgrading = false;

  constructor(spec: SimNodeSpec, version: string) {
    this.spec = spec;
    this.version = version;
  }

  get hostname(): string {
    return this.spec.hostname;
  }
  get ip(): string {
    return this.spec.ipv4;
  }
  get controlPlane(): boolean {
    return this.config ? this.config.type === "controlplane" : this.spec.controlPlane;
  }
  get configured(): boolean {
    return this.config !== undefined;
  }
  get running(): boolean {
    return this.up && this.stage === "running";
  }
  get inMaintenance(): boolean {
    return this.up && this.stage === "maintenance";
  }
}

export interface TalosHooks {
  /** any change of a machine (stage, version, kubelet...) */
  onChange?(m: TalosMachine): void;
  /** the kubelet of a running, configured machine can register now (the API exists) */
  onKubeletUp?(m: TalosMachine): void;
  /** the machine went down (Node NotReady/Unknown) */
  onDown?(m: TalosMachine): void;
  /** etcd was bootstrapped (the Kubernetes API starts to exist); `recoveredFrom` is the snapshot's payload */
  onBootstrap?(recoveredFrom?: SnapshotPayload): void;
  /** the current number of keys and the revision of the Kubernetes data (for etcd status and snapshots) */
  dataStats?(): { revision: number; keys: number };
  /** a snapshot of the Kubernetes data (objects) to put into an etcd snapshot */
  dataDump?(): unknown;
}

/** The content of a simulated etcd snapshot file. */
export interface SnapshotPayload {
  cluster: string;
  takenAt: string;
  revision: number;
  keys: number;
  members: string[];
  /** the Kubernetes objects at the time of the snapshot */
  data?: unknown;
}

export class TalosError extends Error {
  constructor(
    /** gRPC code name: Unavailable, FailedPrecondition, AlreadyExists, Unimplemented, InvalidArgument, Unknown ... */
    readonly code: string,
    readonly desc: string,
  ) {
    super(`rpc error: code = ${code} desc = ${desc}`);
  }
}

export function unreachableError(ip: string): TalosError {
  return new TalosError(
    "Unavailable",
    `connection error: desc = "transport: Error while dialing: dial tcp ${ip.includes(":") ? `[${ip}]` : ip}:50000: connect: no route to host"`,
  );
}

export const X509_UNKNOWN_AUTHORITY =
  'connection error: desc = "transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"';
export const CERTIFICATE_REQUIRED =
  'connection error: desc = "transport: authentication handshake failed: remote error: tls: certificate required"';

export class TalosSim {
  readonly machines: TalosMachine[];
  readonly byKey = new Map<string, TalosMachine>();
  readonly members = new Map<string, EtcdMember>();
  leader?: string;
  raftTerm = 0;
  raftBase = 0;
  /** revision offset so a fresh etcd does not start at 0 (Talos writes its own keys first) */
  revisionBase = 0;
  readonly history: HistoryEvent[] = [];
  readonly startedAt = Date.now();
  /** etcd was bootstrapped at least once and has not been dissolved */
  bootstrapped = false;
  /** the snapshot restored by the last `bootstrap --recover-from` */
  restored?: SnapshotPayload;
  /** the Image Factory schematics the sim knows: id -> extensions */
  readonly schematics = new Map<string, string[]>();
  private readonly listeners = new Set<(e: HistoryEvent) => void>();

  constructor(
    readonly topology: SimTopology,
    readonly timing: Timing,
    readonly faults: Faults,
    readonly hooks: TalosHooks = {},
  ) {
    if (topology.schematic.id) this.schematics.set(topology.schematic.id, topology.schematic.extensions);
    faults.onChange(() => {
      this.electLeader();
      for (const m of this.machines) this.changed(m);
    });
    this.machines = topology.nodes.map((n) => new TalosMachine(n, topology.talosVersion));
    for (const m of this.machines) this.index(m);
  }

  private index(m: TalosMachine): void {
    this.byKey.set(m.hostname, m);
    this.byKey.set(m.ip, m);
    if (m.spec.ipv6) this.byKey.set(m.spec.ipv6, m);
  }

  /** A machine by hostname or IP. */
  machine(ref: string): TalosMachine | undefined {
    return this.byKey.get(ref);
  }

  onEvent(fn: (e: HistoryEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  record(type: HistoryEvent["type"], m?: TalosMachine, detail?: string): void {
    const e: HistoryEvent = { at: Date.now() - this.startedAt, type, ...(m ? { node: m.hostname } : {}), ...(detail ? { detail } : {}) };
    this.history.push(e);
    for (const fn of this.listeners) fn(e);
  }

  /** Reachable = powered, not partitioned by a fault. */
  reachable(m: TalosMachine): boolean {
    return m.up && !this.faults.isUnreachable(m.spec);
  }

  private setStage(m: TalosMachine, stage: MachineStage): void {
    if (m.stage === stage) return;
    m.stage = stage;
    m.stageChangedAt = Date.now();
    m.statusVersion += 1;
    this.record("stage", m, stage);
    this.changed(m);
  }

  private changed(m: TalosMachine): void {
    this.hooks.onChange?.(m);
  }

  private goDown(m: TalosMachine): void {
    if (!m.up) return;
    m.up = false;
    m.kubeletRunning = false;
    if (m.etcdService === "Running" || m.etcdService === "Preparing") m.etcdService = "Waiting";
    m.statusVersion += 1;
    this.record("down", m);
    this.hooks.onDown?.(m);
    this.electLeader();
    this.changed(m);
  }

  // ---- the etcd cluster --------------------------------------------------------------------------------------

  /** Members whose etcd runs (their node is up and etcd Running). */
  healthyMembers(): EtcdMember[] {
    return [...this.members.values()].filter((mem) => {
      const m = this.machine(mem.hostname);
      // a partitioned node is cut off from its peers as well
      return m !== undefined && m.up && m.etcdService === "Running" && !this.faults.isPartitioned(m.spec);
    });
  }

  quorum(): number {
    const voters = [...this.members.values()].filter((m) => !m.learner).length;
    return Math.floor(voters / 2) + 1;
  }

  hasQuorum(): boolean {
    if (this.members.size === 0) return false;
    return this.healthyMembers().filter((m) => !m.learner).length >= this.quorum();
  }

  /** The Kubernetes API answers when etcd has quorum and some control plane runs. */
  apiAvailable(): boolean {
    return this.bootstrapped && this.hasQuorum();
  }

  electLeader(): void {
    const healthy = this.healthyMembers().filter((m) => !m.learner);
    if (!this.hasQuorum()) {
      this.leader = undefined;
      return;
    }
    if (this.leader && healthy.some((m) => m.hostname === this.leader)) return;
    this.leader = healthy[0]?.hostname;
    this.raftTerm += 1;
  }

  revision(): number {
    const stats = this.hooks.dataStats?.() ?? { revision: 0, keys: 0 };
    return this.revisionBase + stats.revision;
  }

  keys(): number {
    const stats = this.hooks.dataStats?.() ?? { revision: 0, keys: 0 };
    return 180 + stats.keys;
  }

  raftIndex(): number {
    return this.raftBase + this.revision() * 2 + this.members.size * 3;
  }

  /** etcd's database size in bytes (grows with the data). */
  dbSize(): number {
    return 2_400_000 + this.keys() * 6_000;
  }

  private addMember(m: TalosMachine, learner: boolean): EtcdMember {
    const mem: EtcdMember = { id: memberId(), hostname: m.hostname, ip: m.ip, learner };
    this.members.set(m.hostname, mem);
    this.record("etcd-join", m, learner ? "learner" : "voter");
    return mem;
  }

  /**
   * etcd on a running control plane: rejoin with its data, join a healthy cluster (as learner, promoted after a
   * delay), or wait in Preparing for a bootstrap.
   */
  private startEtcd(m: TalosMachine): void {
    if (!m.controlPlane || !m.configured || !m.running) return;
    const own = this.members.get(m.hostname);
    if (m.etcdData && own) {
      m.etcdService = "Running";
      this.electLeader();
      this.changed(m);
      return;
    }
    if (this.bootstrapped && this.hasQuorum()) {
      // a stale entry of this host (reset without leaving) is replaced, as Talos does on join
      if (own) this.members.delete(m.hostname);
      m.etcdService = "Preparing";
      this.changed(m);
      this.addMember(m, true);
      this.timing.after("etcdJoin", () => {
        if (!m.running) return;
        const mem = this.members.get(m.hostname);
        if (!mem) return;
        mem.learner = false;
        m.etcdData = true;
        m.etcdService = "Running";
        this.record("etcd-promote", m);
        this.electLeader();
        this.changed(m);
      });
      return;
    }
    m.etcdService = "Preparing";
    this.changed(m);
  }

  private startKubelet(m: TalosMachine): void {
    if (!m.configured || !m.running) return;
    m.kubeletRunning = true;
    this.changed(m);
    if (!this.apiAvailable()) return;
    this.timing.after("kubeletRegister", () => {
      if (!m.running || !m.kubeletRunning || !this.apiAvailable()) return;
      this.record("kubelet-registered", m);
      this.hooks.onKubeletUp?.(m);
    });
  }

  /** Kubelets that were waiting for the API register now. */
  private kubeletsCatchUp(): void {
    for (const m of this.machines) if (m.running && m.configured) this.startKubelet(m);
  }

  // ---- power and boot ----------------------------------------------------------------------------------------

  /** Boots a machine (after power-on or a reboot): maintenance without config, else running with services. */
  private boot(m: TalosMachine): void {
    m.off = false;
    this.setStage(m, "booting");
    this.timing.after("boot", () => {
      m.up = true;
      m.bootedAt = Date.now();
      this.record("up", m);
      if (!m.configured) {
        this.setStage(m, "maintenance");
        return;
      }
      this.setStage(m, "running");
      this.startEtcd(m);
      this.startKubelet(m);
    });
  }

  /** Takes a machine down for `kind` and boots it again, unless a fault keeps it down. */
  private cycle(m: TalosMachine, stage: MachineStage, extra: "upgrade" | "reset" | undefined, during?: () => void): void {
    this.setStage(m, stage);
    this.timing.after("shutdown", () => {
      this.goDown(m);
      const finish = () => {
        during?.();
        if (this.faults.takeRebootNeverReturns(m.spec)) {
          m.off = true;
          this.record("down", m, "never returned");
          return;
        }
        this.boot(m);
      };
      if (extra) this.timing.after(extra, finish);
      else finish();
    });
  }

  /** Powers a machine on (the power button of the Mac mini; tests and `simulate` use it after a shutdown). */
  powerOn(m: TalosMachine): void {
    if (m.up && !m.off) return;
    this.boot(m);
  }

  // ---- operations (validation is done by the caller: talosctl) ----------------------------------------------

  /** Applies a machine config. Returns whether the node reboots. */
  applyConfig(m: TalosMachine, cfg: AppliedConfig, mode: "auto" | "no-reboot" | "reboot" | "staged" | "try"): "installed" | "reboot" | "no-reboot" | "staged" {
    const wasMaintenance = m.stage === "maintenance";
    this.record("apply-config", m, mode);
    if (wasMaintenance) {
      m.config = cfg;
      if (cfg.installImage) this.install(m, cfg.installImage);
      this.setStage(m, "installing");
      this.timing.after("install", () => this.cycle(m, "rebooting", undefined));
      return "installed";
    }
    if (mode === "staged") {
      m.config = { ...cfg };
      return "staged";
    }
    const prev = m.config;
    m.config = cfg;
    const needsReboot = mode === "reboot" || (mode === "auto" && prev !== undefined && prev.type !== cfg.type);
    if (needsReboot) {
      this.cycle(m, "rebooting", undefined);
      return "reboot";
    }
    this.changed(m);
    return "no-reboot";
  }

  private install(m: TalosMachine, image: string): void {
    m.installerImage = image;
    const parsed = parseInstallerImage(image);
    if (parsed.version) m.version = parsed.version;
    m.schematicId = parsed.schematic;
    m.extensions = parsed.schematic ? (this.schematics.get(parsed.schematic) ?? []) : [];
  }

  /** Bootstraps etcd on m (or recovers it from a snapshot). Caller checked the preconditions. */
  bootstrap(m: TalosMachine, recoverFrom?: SnapshotPayload): void {
    this.record(recoverFrom ? "recover" : "bootstrap", m);
    this.members.clear();
    this.bootstrapped = true;
    m.etcdService = "Preparing";
    m.bootstrapping = true;
    this.changed(m);
    this.timing.after("bootstrap", () => {
      m.bootstrapping = false;
      if (!m.running) return;
      this.addMember(m, false);
      m.etcdData = true;
      m.etcdService = "Running";
      this.raftTerm += 1;
      this.leader = m.hostname;
      if (recoverFrom) {
        this.restored = recoverFrom;
        this.revisionBase = Math.max(0, recoverFrom.revision - (this.hooks.dataStats?.().revision ?? 0));
      }
      this.hooks.onBootstrap?.(recoverFrom);
      this.changed(m);
      // the other control planes waiting in Preparing join now
      for (const o of this.machines) if (o !== m && o.controlPlane && o.running && o.configured) this.startEtcd(o);
      this.kubeletsCatchUp();
    });
  }

  reboot(m: TalosMachine): void {
    this.record("reboot", m);
    this.cycle(m, "rebooting", undefined);
  }

  shutdown(m: TalosMachine): void {
    this.record("shutdown", m);
    this.setStage(m, "shutting down");
    this.timing.after("shutdown", () => {
      this.goDown(m);
      m.off = true;
    });
  }

  /** Upgrades to an installer image; resolves when the node is back (or never, with the fault). */
  upgrade(m: TalosMachine, image: string, onDone?: () => void): void {
    this.record("upgrade", m, image);
    m.upgrading = true;
    this.cycle(m, "upgrading", "upgrade", () => {
      this.install(m, image);
      m.upgrading = false;
      onDone?.();
    });
  }

  /** Removes m from etcd (graceful reset / etcd leave). Throws a TalosError when that would lose quorum. */
  leaveEtcd(m: TalosMachine): void {
    const mem = this.members.get(m.hostname);
    if (!mem) return;
    const remaining = [...this.members.values()].filter((x) => x !== mem && !x.learner);
    const healthyRemaining = this.healthyMembers().filter((x) => x !== mem && !x.learner).length;
    if (remaining.length === 0 || healthyRemaining < Math.floor(remaining.length / 2) + 1)
      throw new TalosError("Unknown", "failed to leave etcd cluster: etcdserver: unhealthy cluster");
    this.members.delete(m.hostname);
    m.etcdService = "Finished";
    this.record("etcd-leave", m);
    this.electLeader();
    this.changed(m);
  }

  reset(m: TalosMachine, opts: { graceful: boolean; reboot: boolean; wipe: Array<"STATE" | "EPHEMERAL"> | "all" }): void {
    if (opts.graceful && m.controlPlane) this.leaveEtcd(m);
    this.record("reset", m, opts.wipe === "all" ? "all" : opts.wipe.join(","));
    this.setStage(m, "resetting");
    this.timing.after("shutdown", () => {
      this.goDown(m);
      this.timing.after("reset", () => {
        const wipeState = opts.wipe === "all" || opts.wipe.includes("STATE");
        const wipeEphemeral = opts.wipe === "all" || opts.wipe.includes("EPHEMERAL");
        if (wipeState) m.config = undefined;
        if (wipeEphemeral) {
          m.etcdData = false;
          m.etcdService = "Waiting";
        }
        if (opts.wipe === "all") {
          m.installerImage = undefined;
        }
        // a cluster whose every member lost its data is gone: the next start waits for a (recovery) bootstrap
        if ([...this.members.values()].every((mem) => !this.machine(mem.hostname)?.etcdData)) {
          this.members.clear();
          this.bootstrapped = false;
          this.leader = undefined;
        }
        this.changed(m);
        if (opts.reboot) this.boot(m);
        else m.off = true;
      });
    });
  }

  /** Snapshot payload of the current data. */
  snapshot(): SnapshotPayload {
    return {
      cluster: this.topology.clusterName,
      takenAt: new Date().toISOString(),
      revision: this.revision(),
      keys: this.keys(),
      members: [...this.members.values()].map((x) => x.hostname),
      data: this.hooks.dataDump?.(),
    };
  }

  /** Which upgrade blocks another (the upgrade mutex): the machine holding it, if any. */
  upgradeHolder(except?: TalosMachine): TalosMachine | undefined {
    return this.machines.find((x) => x !== except && x.upgrading);
  }

  /**
   * Marks a state "configured": every node has its machine config and runs it (installed, rebooted), etcd waits in
   * Preparing for the bootstrap and the kubelets wait for an API server (instantly): what talos-apply-config leaves.
   */
  forceConfigured(configFor: (m: TalosMachine) => AppliedConfig): void {
    for (const m of this.machines) {
      m.config = configFor(m);
      if (m.config.installImage) this.install(m, m.config.installImage);
      m.stage = "running";
      m.up = true;
      m.kubeletRunning = true;
      if (m.controlPlane) m.etcdService = "Preparing";
    }
    for (const m of this.machines) this.changed(m);
  }

  /** Marks a state "already bootstrapped": every node configured, running, etcd formed, kubelets up (instantly). */
  forceBootstrapped(configFor: (m: TalosMachine) => AppliedConfig): void {
    for (const m of this.machines) {
      m.config = configFor(m);
      if (m.config.installImage) this.install(m, m.config.installImage);
      m.stage = "running";
      m.up = true;
      m.kubeletRunning = true;
    }
    this.bootstrapped = true;
    this.raftTerm = 2;
    for (const m of this.machines.filter((x) => x.controlPlane)) {
      this.members.set(m.hostname, { id: memberId(), hostname: m.hostname, ip: m.ip, learner: false });
      m.etcdData = true;
      m.etcdService = "Running";
    }
    this.leader = this.machines.find((x) => x.controlPlane)?.hostname;
    for (const m of this.machines) {
      this.changed(m);
      this.hooks.onKubeletUp?.(m);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Installer images and snapshot files

/** `factory.talos.dev/(metal-)installer/<schematic>:<version>` or `ghcr.io/siderolabs/installer:<version>`. */
export function parseInstallerImage(image: string): { schematic?: string; version?: string; factory: boolean } {
  const m = /^factory\.talos\.dev\/(?:[a-z0-9-]+-)?installer\/([0-9a-f]{64}):(v[\w.+-]+)$/.exec(image);
  if (m) return { schematic: m[1]!, version: m[2]!, factory: true };
  const tag = /:(v\d+\.\d+\.\d+[\w.+-]*)$/.exec(image)?.[1];
  return { ...(tag ? { version: tag } : {}), factory: false };
}

export const SNAPSHOT_MAGIC = "HOMEOPS-SIM-ETCD-SNAPSHOT v1\n";

/**
 * Encodes a snapshot as a file: a header line, the JSON payload, padding, and (like a real etcd snapshot stream) a
 * sha256 trailer, with the total size ≡ 32 (mod 512) as talosctl checks. Returns the bytes and the hash talosctl
 * prints (crc32 of the payload).
 */
export function encodeSnapshot(p: SnapshotPayload): { bytes: Uint8Array; hash: number } {
  const body = Buffer.from(SNAPSHOT_MAGIC + JSON.stringify(p) + "\n", "utf8");
  const padLen = (512 - (body.length % 512)) % 512;
  const padded = Buffer.concat([body, Buffer.alloc(padLen, 0)]);
  const sum = createHash("sha256").update(padded).digest();
  const bytes = new Uint8Array(Buffer.concat([padded, sum]));
  return { bytes, hash: Bun.hash.crc32(padded) >>> 0 };
}

export class SnapshotError extends Error {}

/** Reads a snapshot file; verifies the sha256 trailer unless skipHashCheck (a raw db copy has none). */
export function decodeSnapshot(bytes: Uint8Array, opts: { skipHashCheck?: boolean } = {}): SnapshotPayload {
  const buf = Buffer.from(bytes);
  const hasTrailer = buf.length % 512 === 32;
  if (!hasTrailer && !opts.skipHashCheck) throw new SnapshotError("snapshot file doesn't have a hash; use --recover-skip-hash-check");
  const body = hasTrailer ? buf.subarray(0, buf.length - 32) : buf;
  if (hasTrailer && !opts.skipHashCheck) {
    const sum = createHash("sha256").update(body).digest();
    if (!sum.equals(buf.subarray(buf.length - 32))) throw new SnapshotError("snapshot file hash mismatch");
  }
  const text = body.toString("utf8").replace(/\0+$/, "");
  if (!text.startsWith(SNAPSHOT_MAGIC)) throw new SnapshotError("not an etcd snapshot (bad header)");
  try {
    return JSON.parse(text.slice(SNAPSHOT_MAGIC.length)) as SnapshotPayload;
  } catch {
    throw new SnapshotError("etcd snapshot is truncated or corrupt");
  }
}

function memberId(): string {
  let id = randomBytes(8).toString("hex");
  if (id[0] === "0") id = "1" + id.slice(1);
  return id;
}

/** A fake PEM-ish CA blob (base64), stable for one simulated cluster. */
export function fakeCa(): string {
  const body = randomBytes(48).toString("base64");
  return Buffer.from(`-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`).toString("base64");
}
