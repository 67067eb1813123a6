/**
 * The cluster's one maintenance lock: every script that reboots, upgrades, resets, recovers or wipes holds it for
 * the whole operation, so two operators (or two terminals) never take two nodes down at once.
 *
 * With a Kubernetes API it is a coordination.k8s.io/v1 Lease, kube-system/home-ops-maintenance, used the way
 * client-go's leader election and kured use theirs (reference: cilium-bgpv1-and-locks.md B):
 *   take:    GET; NotFound -> create (409 = someone else was faster); free (empty holder) -> replace with the fetched
 *            resourceVersion (409 = lost the race);
 *   held:    exit 2 naming the holder and its operation. Only when the holder's own renewTime already looks older
 *            than its leaseDurationSeconds do we watch it; it is taken over once it stayed unchanged for that long
 *            by OUR clock (a foreign clock is only a hint), bumping leaseTransitions. A holder on this same host
 *            whose process is gone (killed, crashed) is taken over at once: an interrupted run continues;
 *   renew:   replace with the resourceVersion of our last write, every quarter of the duration; a 409 whose
 *            holder is no longer us means the lock is lost (the operation stops at its next step);
 *   check:   re-read before each destructive step (a Lease has no fencing);
 *   release: clear the holder (duration 1), on every exit path a process can take (not SIGKILL: then it expires).
 * Never apply or annotate --overwrite: both are last-write-wins.
 *
 * Before the API exists (bootstrap, maintenance mode, a recovery whose API is gone) a lock file in the state folder
 * stands in: created with O_EXCL, renewed by touching it, stale when its process is gone (same host) or when it
 * was not touched for the lease duration.
 */
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, utimesSync, writeSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ExitCode, OperationError, ToolkitError, UsageError } from "../cli/errors.ts";
import type { Output } from "../cli/output.ts";
import type { KubeClient, KubeObject } from "../kube/client.ts";
import { isConflict, isNotFound } from "../kube/errors.ts";

export const MAINTENANCE_LEASE = { apiVersion: "coordination.k8s.io/v1", kind: "Lease", namespace: "kube-system", name: "home-ops-maintenance" } as const;
export const LOCK_FILE_NAME = "maintenance.lock";
/** Annotations on the Lease saying what the holder does (holderIdentity says who). */
export const OPERATION_ANNOTATION = "home-ops.dev/operation";
export const HOLDER_ANNOTATION = "home-ops.dev/holder";
export const DEFAULT_LEASE_SECONDS = 60;


export interface LockHolder {
  /** unique per acquisition: `user@host pid N #nonce` */
  identity: string;
  /** `user@host` */
  who: string;
  pid: number;
  operation: string;
  /** ISO time the holder took the lock */
  since: string;
  /** the lease duration the holder declared */
  durationSeconds: number;
}

export interface Lease extends KubeObject {
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** The three writes the lock needs; 409 comes back as undefined, anything else throws. */
export interface LeaseApi {
  get(): Promise<Lease | undefined>;
  create(lease: Lease): Promise<Lease | undefined>;
  replace(lease: Lease): Promise<Lease | undefined>;
}

export interface LockClock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: LockClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      signal?.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
    }),
};

/** Another operation holds the lock: exit 2, nothing was changed. */
export class LockHeldError extends ToolkitError {
  readonly holder: LockHolder;
  constructor(holder: LockHolder, where: string) {
    super(`the cluster is under maintenance: ${describeHolder(holder)} (${where}); nothing was changed`, {
      exitCode: ExitCode.usage,
      hint: `wait for it to finish; if that process is gone, the lock expires ${holder.durationSeconds}s after its last renewal, or take it with --break-lock`,
    });
    this.holder = holder;
  }
}

/** We held the lock and do not any more (taken over, or not renewable): stop before the next change. */
export class LockLostError extends OperationError {}

export function describeHolder(h: LockHolder): string {
  return `"${h.operation}" by ${h.who} (pid ${h.pid}) since ${h.since}`;
}

export function holderFromLease(l: Lease): LockHolder | undefined {
  const identity = l.spec?.holderIdentity;
  if (!identity) return undefined;
  const ann = l.metadata.annotations ?? {};
  const m = /^(.+?) pid (\d+)/.exec(ann[HOLDER_ANNOTATION] ?? identity);
  return {
    identity,
    who: m?.[1] ?? identity,
    pid: m ? Number(m[2]) : 0,
    operation: ann[OPERATION_ANNOTATION] || "an operation that did not say what",
    since: l.spec?.acquireTime ?? l.spec?.renewTime ?? "an unknown time",
    durationSeconds: l.spec?.leaseDurationSeconds ?? DEFAULT_LEASE_SECONDS,
  };
}

export function newHolder(operation: string, durationSeconds: number, now = Date.now()): LockHolder {
  let user = "unknown";
  try {
    user = os.userInfo().username;
  } catch {
    user = process.env.USER ?? "unknown";
  }
  const who = `${user}@${os.hostname()}`;
  return {
    identity: `${who} pid ${process.pid} #${randomBytes(4).toString("hex")}`,
    who,
    pid: process.pid,
    operation,
    since: microTime(now),
    durationSeconds,
  };
}

/** Kubernetes MicroTime: RFC 3339 with microseconds. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** Does the holder's own renewTime look older than its duration? Only a hint to start watching (clock skew). */
export function looksExpired(l: Lease, now: number): boolean {
  const t = Date.parse(l.spec?.renewTime ?? l.spec?.acquireTime ?? "");
  if (!Number.isFinite(t)) return true;
  return now - t > (l.spec?.leaseDurationSeconds ?? DEFAULT_LEASE_SECONDS) * 1000;
}

function leaseFor(me: LockHolder, now: number, base?: Lease): Lease {
  const previous = base ? holderFromLease(base) : undefined;
  const transitions = (base?.spec?.leaseTransitions ?? 0) + (previous && previous.identity !== me.identity ? 1 : 0);
  const annotations = { ...(base?.metadata.annotations ?? {}) };
  annotations[OPERATION_ANNOTATION] = me.operation;
  annotations[HOLDER_ANNOTATION] = `${me.who} pid ${me.pid}`;
  return {
    apiVersion: MAINTENANCE_LEASE.apiVersion,
    kind: MAINTENANCE_LEASE.kind,
    metadata: {
      ...(base?.metadata ?? {}),
      name: MAINTENANCE_LEASE.name,
      namespace: MAINTENANCE_LEASE.namespace,
      annotations,
    },
    spec: {
      holderIdentity: me.identity,
      leaseDurationSeconds: me.durationSeconds,
      acquireTime: me.since,
      renewTime: microTime(now),
      leaseTransitions: transitions,
    },
  };
}

export interface MaintenanceLock {
  readonly holder: LockHolder;
  /** "lease kube-system/home-ops-maintenance" or "lock file <path>" */
  readonly where: string;
  /** Re-reads the lock; throws LockLostError when it is not ours any more. Call before each destructive step. */
  check(): Promise<void>;
  /** Gives it up (idempotent). Returns a problem to report, or undefined. */
  release(): Promise<string | undefined>;
}

export interface AcquireOptions {
  operation: string;
  durationSeconds?: number;
  /** take it even from a live holder (the caller asked for a typed confirmation) */
  breakLock?: boolean;
  clock?: LockClock;
  signal?: AbortSignal;
  /** says what the lock is waiting for */
  onWait?: (text: string) => void;
}

/** Takes the Lease, or throws LockHeldError naming the holder. */
export async function acquireLease(api: LeaseApi, o: AcquireOptions): Promise<MaintenanceLock> {
  const clock = o.clock ?? systemClock;
  const duration = o.durationSeconds ?? DEFAULT_LEASE_SECONDS;
  const where = `lease ${MAINTENANCE_LEASE.namespace}/${MAINTENANCE_LEASE.name}`;
  const me = newHolder(o.operation, duration, clock.now());
  let breakLock = o.breakLock === true;
  let last: LockHolder | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    const cur = await api.get();
    if (!cur) {
      const made = await api.create(leaseFor(me, clock.now()));
      if (made) return leaseLock(api, me, made, clock, where);
      continue; // 409: someone created it first; look at who
    }
    const other = holderFromLease(cur);
    if (other) last = other;
    if (!other || other.identity === me.identity || breakLock) {
      breakLock = false; // the confirmation was about the holder seen now, not whoever wins a race next
      const taken = await api.replace(leaseFor(me, clock.now(), cur));
      if (taken) return leaseLock(api, me, taken, clock, where);
      continue;
    }
    if (holderGoneHere(other)) {
      // provably dead: its process is not running on this very host (a SIGKILL, a crash): no need to wait
      o.onWait?.(`the maintenance lock was held by ${describeHolder(other)}, a process that is gone from this host: taking it over`);
      const taken = await api.replace(leaseFor(me, clock.now(), cur));
      if (taken) return leaseLock(api, me, taken, clock, where);
      continue;
    }
    if (!looksExpired(cur, clock.now())) throw new LockHeldError(other, where);
    // the holder looks gone: take over only after it stayed unchanged for its whole duration by our clock
    const seenRv = cur.metadata.resourceVersion;
    const t0 = clock.now();
    const wait = (cur.spec?.leaseDurationSeconds ?? duration) * 1000;
    o.onWait?.(`the maintenance lock held by ${describeHolder(other)} was not renewed; taking it over if it stays unchanged for ${wait / 1000}s`);
    let changed = false;
    while (clock.now() - t0 < wait) {
      if (o.signal?.aborted) throw o.signal.reason ?? new Error("interrupted");
      await clock.sleep(Math.min(1000, Math.max(50, wait / 10)), o.signal);
      const again = await api.get();
      if (!again || again.metadata.resourceVersion !== seenRv) {
        changed = true;
        break;
      }
    }
    if (changed) continue;
    const taken = await api.replace(leaseFor(me, clock.now(), cur));
    if (taken) return leaseLock(api, me, taken, clock, where);
  }
  if (last) throw new LockHeldError(last, where);
  throw new OperationError(`could not take the maintenance ${where}: it kept changing under us`, "run again");
}

function leaseLock(api: LeaseApi, me: LockHolder, first: Lease, clock: LockClock, where: string): MaintenanceLock {
  let current = first;
  let lost: string | undefined;
  let released = false;
  let lastRenewOk = clock.now();
  // writes are serialised: a renewal never races the release or a check
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = queue.then(fn, fn);
    queue = p.catch(() => undefined);
    return p;
  };
  const refetchOurs = async (): Promise<Lease | undefined> => {
    const now = await api.get();
    const h = now ? holderFromLease(now) : undefined;
    if (now && h?.identity === me.identity) return now;
    lost = h ? `it is now held by ${describeHolder(h)}` : "it was released by someone else";
    return undefined;
  };
  const renew = () =>
    serial(async () => {
      if (released || lost) return;
      try {
        let next = await api.replace({ ...current, spec: { ...current.spec, renewTime: microTime(clock.now()) } });
        if (!next) {
          const ours = await refetchOurs();
          if (ours) next = await api.replace({ ...ours, spec: { ...ours.spec, renewTime: microTime(clock.now()) } });
        }
        if (next) {
          current = next;
          lastRenewOk = clock.now();
        }
      } catch {
        // the API did not answer: keep trying until the lease would have expired for the others
      }
      if (!lost && clock.now() - lastRenewOk > me.durationSeconds * 1000) lost = `it could not be renewed for ${me.durationSeconds}s`;
    });
  const timer = setInterval(() => void renew(), Math.max(100, (me.durationSeconds * 1000) / 4));
  timer.unref?.();
  return {
    holder: me,
    where,
    check: () =>
      serial(async () => {
        if (!lost) await refetchOurs();
        if (lost) throw new LockLostError(`lost the maintenance ${where}: ${lost}; stopping before the next change`, "check what the other operation did, then run again");
      }),
    release: () =>
      serial(async () => {
        if (released) return undefined;
        released = true;
        clearInterval(timer);
        if (lost) return undefined;
        for (let i = 0; i < 3; i++) {
          try {
            const cleared: Lease = { ...current, spec: { ...current.spec, holderIdentity: undefined, leaseDurationSeconds: 1 } };
            delete cleared.spec!.holderIdentity;
            const annotations = { ...(current.metadata.annotations ?? {}) };
            delete annotations[OPERATION_ANNOTATION];
            delete annotations[HOLDER_ANNOTATION];
            cleared.metadata = { ...current.metadata, annotations };
            if (await api.replace(cleared)) return undefined;
            const ours = await refetchOurs();
            if (!ours) return undefined;
            current = ours;
          } catch (e) {
            if (isNotFound(e)) return undefined; // gone with the data (a recovery restored an older etcd)
            return `could not release the maintenance ${where}: ${(e as Error).message}`;
          }
        }
        return `could not release the maintenance ${where}: it kept changing`;
      }),
  };
}

/** The Lease over lib/kube's client. */
export function kubeLeaseApi(kube: KubeClient): LeaseApi {
  const ref = { apiVersion: MAINTENANCE_LEASE.apiVersion, kind: MAINTENANCE_LEASE.kind, namespace: MAINTENANCE_LEASE.namespace, name: MAINTENANCE_LEASE.name };
  const on409 = async <T>(fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (e) {
      if (isConflict(e)) return undefined;
      throw e;
    }
  };
  return {
    get: async () => {
      try {
        return await kube.get<Lease>(ref);
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    },
    create: (l) => on409(() => kube.create<Lease>(l)),
    replace: (l) => on409(() => kube.replace<Lease>(l)),
  };
}

// ---- the lock file stand-in --------------------------------------------------------------------------------------

interface LockFileBody {
  identity: string;
  who: string;
  host: string;
  pid: number;
  operation: string;
  since: string;
  durationSeconds: number;
}

/** Where the lock file lives: the state folder ($HOMEOPS_STATE_DIR in a rehearsal, else the repo's .home-ops/). */
export function lockFilePath(root: string, env: Record<string, string | undefined>): string {
  return path.join(env.HOMEOPS_STATE_DIR || path.join(root, ".home-ops"), LOCK_FILE_NAME);
}

function readLockFile(file: string): { body: LockFileBody; mtimeMs: number } | undefined {
  try {
    const st = statSync(file);
    const body = JSON.parse(readFileSync(file, "utf8")) as LockFileBody;
    return { body, mtimeMs: st.mtimeMs };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    // unreadable or not JSON: treat as held by someone unknown, since now
    return { body: { identity: "?", who: "unknown", host: "", pid: 0, operation: "unknown (the lock file does not parse)", since: "unknown", durationSeconds: DEFAULT_LEASE_SECONDS }, mtimeMs: Date.now() };
  }
}

/** A holder on this host whose process is gone (pid reuse only ever makes it look alive: the safe side). */
export function holderGoneHere(h: LockHolder): boolean {
  return h.pid > 0 && h.who.slice(h.who.lastIndexOf("@") + 1) === os.hostname() && processGone(h.pid);
}

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH";
  }
}

function fileHolder(b: LockFileBody): LockHolder {
  return { identity: b.identity, who: b.who, pid: b.pid, operation: b.operation, since: b.since, durationSeconds: b.durationSeconds };
}

/** Takes the lock file with O_EXCL, or throws LockHeldError. A stale file (its process gone, or untouched for its duration) is replaced. */
export async function acquireLockFile(file: string, o: AcquireOptions): Promise<MaintenanceLock> {
  const clock = o.clock ?? systemClock;
  const duration = o.durationSeconds ?? DEFAULT_LEASE_SECONDS;
  const me = newHolder(o.operation, duration, clock.now());
  const where = `lock file ${file}`;
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  let breakLock = o.breakLock === true;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = openSync(file, "wx", 0o600);
      try {
        writeSync(fd, JSON.stringify({ ...me, host: os.hostname() } satisfies LockFileBody) + "\n");
      } finally {
        closeSync(fd);
      }
      return fileLock(file, me, where);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const seen = readLockFile(file);
    if (!seen) continue;
    const stale =
      (seen.body.host === os.hostname() && seen.body.pid > 0 && processGone(seen.body.pid)) ||
      clock.now() - seen.mtimeMs > (seen.body.durationSeconds || duration) * 1000;
    if (!stale && !breakLock) throw new LockHeldError(fileHolder(seen.body), where);
    breakLock = false;
    // re-read right before removing: only the file we judged stale goes
    const again = readLockFile(file);
    if (again && again.body.identity === seen.body.identity && again.mtimeMs === seen.mtimeMs) {
      try {
        unlinkSync(file);
      } catch {
        /* someone else removed it */
      }
    }
  }
  const h = readLockFile(file);
  if (h) throw new LockHeldError(fileHolder(h.body), where);
  throw new OperationError(`could not take the maintenance ${where}`, "run again");
}

function fileLock(file: string, me: LockHolder, where: string): MaintenanceLock {
  let released = false;
  const timer = setInterval(() => {
    try {
      const t = new Date();
      if (readLockFile(file)?.body.identity === me.identity) utimesSync(file, t, t);
    } catch {
      /* checked before the next step */
    }
  }, Math.max(100, (me.durationSeconds * 1000) / 4));
  timer.unref?.();
  return {
    holder: me,
    where,
    async check() {
      const h = readLockFile(file);
      if (h?.body.identity !== me.identity)
        throw new LockLostError(
          `lost the maintenance ${where}: ${h ? `it is now held by ${describeHolder(fileHolder(h.body))}` : "the file was removed"}; stopping before the next change`,
          "check what the other operation did, then run again",
        );
    },
    async release() {
      if (released) return undefined;
      released = true;
      clearInterval(timer);
      try {
        if (readLockFile(file)?.body.identity === me.identity) unlinkSync(file);
        return undefined;
      } catch (e) {
        return `could not remove the ${where}: ${(e as Error).message}`;
      }
    },
  };
}

// ---- what scripts call ----------------------------------------------------------------------------------------------

export interface LockScope {
  root: string;
  env: Record<string, string | undefined>;
  out: Output;
  dryRun: boolean;
  signal?: AbortSignal;
  confirm(action: string, expected: string): Promise<void>;
  breakLock?: boolean;
}

export interface LockPlan {
  /** what the holder does, shown to whoever finds the lock taken: `talos-reboot --node mini02` */
  operation: string;
  /**
   * lease: the Kubernetes API must answer (reboot, upgrade, reset); file: there is no API yet (bootstrap,
   * maintenance mode); auto: the Lease when the API answers, else the file (recovery).
   */
  via: "lease" | "file" | "auto";
  kube?: () => KubeClient;
}

/** The lease duration: $HOMEOPS_LOCK_SECONDS (whole seconds, 1-3600), else 60. */
export function leaseSeconds(env: Record<string, string | undefined>): number {
  const v = env.HOMEOPS_LOCK_SECONDS;
  if (v === undefined || v === "") return DEFAULT_LEASE_SECONDS;
  if (!/^[0-9]{1,4}$/.test(v) || Number(v) < 1 || Number(v) > 3600)
    throw new UsageError(`HOMEOPS_LOCK_SECONDS must be a whole number of seconds from 1 to 3600, not "${v}"`);
  return Number(v);
}

async function peek(plan: LockPlan, scope: LockScope, api: LeaseApi | undefined): Promise<LockHolder | undefined> {
  if (api) {
    const l = await api.get();
    return l ? holderFromLease(l) : undefined;
  }
  const f = readLockFile(lockFilePath(scope.root, scope.env));
  return f ? fileHolder(f.body) : undefined;
}

async function leaseApiFor(plan: LockPlan, scope: LockScope): Promise<LeaseApi | undefined> {
  if (plan.via === "file") return undefined;
  let kube: KubeClient | undefined;
  try {
    kube = plan.kube?.();
  } catch (e) {
    if (plan.via === "lease") throw e;
    // no kubeconfig yet (before bootstrap): the lock file
  }
  if (!kube) {
    if (plan.via === "lease") throw new UsageError("the maintenance lock needs the Kubernetes API, and there is no client for it");
    return undefined;
  }
  const api = kubeLeaseApi(kube);
  if (plan.via === "lease") return api;
  try {
    // a host without a route can take minutes to refuse: five seconds of silence count as "no API"
    let timer: ReturnType<typeof setTimeout> | undefined;
    const silent = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("no answer")), 5_000);
    });
    await Promise.race([api.get(), silent]).finally(() => clearTimeout(timer));
    return api;
  } catch {
    scope.out.log(`the Kubernetes API does not answer: the maintenance lock is the lock file ${lockFilePath(scope.root, scope.env)}`);
    return undefined;
  }
}

/**
 * Runs `fn` holding the maintenance lock, released on every way out (return, throw, Ctrl-C, SIGTERM, SIGHUP).
 * A dry run takes nothing: it says who holds the lock now, if anyone.
 */
export async function withMaintenanceLock<T>(scope: LockScope, plan: LockPlan, fn: (lock: MaintenanceLock) => Promise<T>): Promise<T> {
  const api = await leaseApiFor(plan, scope);
  const where = api ? `lease ${MAINTENANCE_LEASE.namespace}/${MAINTENANCE_LEASE.name}` : `lock file ${lockFilePath(scope.root, scope.env)}`;
  if (scope.dryRun) {
    const h = await peek(plan, scope, api).catch(() => undefined);
    scope.out.line(`[dry-run] take the maintenance ${where}${h ? ` (now held by ${describeHolder(h)})` : ""}`);
    return fn({ holder: newHolder(plan.operation, 0), where, check: async () => {}, release: async () => undefined });
  }
  let breakLock = false;
  if (scope.breakLock) {
    const h = await peek(plan, scope, api);
    if (h) {
      await scope.confirm(`break the maintenance lock held by ${describeHolder(h)}`, "break the lock");
      breakLock = true;
    }
  }
  const o: AcquireOptions = {
    operation: plan.operation,
    durationSeconds: leaseSeconds(scope.env),
    breakLock,
    signal: scope.signal,
    onWait: (t) => scope.out.log(t),
  };
  const lock = api ? await acquireLease(api, o) : await acquireLockFile(lockFilePath(scope.root, scope.env), o);
  scope.out.debug(`took the maintenance ${lock.where} as ${lock.holder.identity}`);
  // Ctrl-C and SIGTERM unwind through the finally below (lib/cli aborts the run and exits 130 or 143 after it);
  // a hang-up (the terminal closed) would end the process at once
  const onSignal = () => {
    void lock.release().finally(() => process.exit(ExitCode.interrupted));
  };
  process.once("SIGHUP", onSignal);
  try {
    return await fn(lock);
  } finally {
    process.off("SIGHUP", onSignal);
    // after a full reset there may be no API left to answer: do not wait for a TCP timeout, the lease expires anyway
    let timer: ReturnType<typeof setTimeout> | undefined;
    const gaveUp = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`the maintenance ${lock.where} was not released (no answer within 10 s); it expires ${lock.holder.durationSeconds}s after its last renewal`), 10_000);
    });
    const problem = await Promise.race([lock.release(), gaveUp]).finally(() => clearTimeout(timer));
    if (problem) scope.out.warn(problem);
  }
}
