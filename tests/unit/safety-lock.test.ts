/**
 * The maintenance lock (lib/safety/lock.ts) over the simulated API's store: create conflicts, stale
 * resourceVersions, takeover only after a whole lease duration of no change by our own (here: fake) clock, release,
 * the re-check before a destructive step; and the lock file that stands in before the API exists.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  acquireLease,
  acquireLockFile,
  holderFromLease,
  LockHeldError,
  LockLostError,
  MAINTENANCE_LEASE,
  leaseSeconds,
  type Lease,
  type LeaseApi,
  type LockClock,
} from "../../lib/safety/lock.ts";
import { isStatusError, SimStore } from "../../lib/sim/store.ts";

const REF = { apiVersion: MAINTENANCE_LEASE.apiVersion, kind: MAINTENANCE_LEASE.kind };

function storeApi(store: SimStore): LeaseApi & { writes: string[] } {
  const writes: string[] = [];
  const on409 = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (e) {
      if (isStatusError(e, 409)) return undefined;
      throw e;
    }
  };
  return {
    writes,
    get: async () => store.tryGet(REF, MAINTENANCE_LEASE.name, MAINTENANCE_LEASE.namespace) as Lease | undefined,
    create: async (l) => {
      writes.push("create");
      return on409(() => store.create(l) as Lease);
    },
    replace: async (l) => {
      writes.push("replace");
      return on409(() => store.update(l) as Lease);
    },
  };
}

function fakeClock(start = Date.parse("2026-12-06T12:00:00Z")): LockClock & { t: number } {
  const c = {
    t: start,
    now: () => c.t,
    sleep: async (ms: number) => {
      c.t += ms;
    },
  };
  return c;
}

describe("the sim API serves Lease like kube-apiserver", () => {
  test("a duplicate create and a replace with a stale resourceVersion are 409", () => {
    const store = new SimStore();
    const l = { ...REF, metadata: { name: "x", namespace: "kube-system" }, spec: { holderIdentity: "a" } };
    const made = store.create(l);
    expect(() => store.create(l)).toThrow(/already exists/);
    const next = store.update({ ...made, spec: { holderIdentity: "b" } });
    let err: unknown;
    try {
      store.update({ ...made, spec: { holderIdentity: "c" } });
    } catch (e) {
      err = e;
    }
    expect(isStatusError(err, 409)).toBe(true);
    expect(next.spec.holderIdentity).toBe("b");
  });
});

describe("maintenance lease", () => {
  test("the first taker creates it; a second is refused naming the holder and the operation", async () => {
    const store = new SimStore();
    const api = storeApi(store);
    const a = await acquireLease(api, { operation: "talos-reboot --node mini01", durationSeconds: 60, clock: fakeClock() });
    const lease = (await api.get())!;
    expect(lease.spec?.holderIdentity).toBe(a.holder.identity);
    expect(lease.spec?.leaseDurationSeconds).toBe(60);
    expect(holderFromLease(lease)?.operation).toBe("talos-reboot --node mini01");
    const err = await acquireLease(api, { operation: "talos-reboot --node mini02", clock: fakeClock() }).catch((e) => e);
    expect(err).toBeInstanceOf(LockHeldError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain('"talos-reboot --node mini01"');
    expect(err.message).toContain(`pid ${process.pid}`);
    await a.release();
  });

  test("two takers racing on a missing lease: exactly one wins (create 409), the other is refused", async () => {
    const store = new SimStore();
    const results = await Promise.allSettled([
      acquireLease(storeApi(store), { operation: "one", clock: fakeClock() }),
      acquireLease(storeApi(store), { operation: "two", clock: fakeClock() }),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const lost = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(lost.reason).toBeInstanceOf(LockHeldError);
    for (const r of results) if (r.status === "fulfilled") await r.value.release();
  });

  test("release clears the holder; the next taker replaces it with the fetched resourceVersion", async () => {
    const store = new SimStore();
    const api = storeApi(store);
    const a = await acquireLease(api, { operation: "one", clock: fakeClock() });
    expect(await a.release()).toBeUndefined();
    const freed = (await api.get())!;
    expect(freed.spec?.holderIdentity).toBeUndefined();
    expect(holderFromLease(freed)).toBeUndefined();
    const b = await acquireLease(api, { operation: "two", clock: fakeClock() });
    expect(holderFromLease((await api.get())!)?.operation).toBe("two");
    await b.release();
  });

  test("a holder whose renewTime still looks fresh is never waited for: refused at once", async () => {
    const store = new SimStore();
    const clock = fakeClock();
    const a = await acquireLease(storeApi(store), { operation: "one", durationSeconds: 60, clock });
    clock.t += 30_000;
    const before = clock.t;
    await expect(acquireLease(storeApi(store), { operation: "two", clock })).rejects.toBeInstanceOf(LockHeldError);
    expect(clock.t).toBe(before);
    await a.release();
  });

  test("an expired-looking lease is taken over only after it stayed unchanged a whole duration by our clock", async () => {
    const store = new SimStore();
    const clock = fakeClock();
    const api = storeApi(store);
    await acquireLease(api, { operation: "dead holder", durationSeconds: 10, clock });
    clock.t += 11_000; // the holder stopped renewing (killed)
    const start = clock.t;
    const b = await acquireLease(api, { operation: "taker", durationSeconds: 10, clock });
    expect(clock.t - start).toBeGreaterThanOrEqual(10_000);
    const l = (await api.get())!;
    expect(l.spec?.holderIdentity).toBe(b.holder.identity);
    expect(l.spec?.leaseTransitions).toBe(1);
    await b.release();
  });

  test("a lease renewed while we watch it is not taken over", async () => {
    const store = new SimStore();
    const clock = fakeClock();
    const api = storeApi(store);
    await acquireLease(api, { operation: "slow holder", durationSeconds: 10, clock });
    clock.t += 11_000;
    // the holder renews while the taker watches (its clock or network was slow, it is alive)
    const watching: LeaseApi = {
      ...api,
      get: async () => {
        const l = await api.get();
        if (l && clock.t > Date.parse("2026-12-06T12:00:15Z") && !l.metadata.annotations?.renewed)
          return store.update({ ...l, metadata: { ...l.metadata, annotations: { ...l.metadata.annotations, renewed: "1" } }, spec: { ...l.spec, renewTime: new Date(clock.t).toISOString() } }) as Lease;
        return l;
      },
    };
    await expect(acquireLease(watching, { operation: "taker", durationSeconds: 10, clock })).rejects.toBeInstanceOf(LockHeldError);
    expect(holderFromLease((await api.get())!)?.operation).toBe("slow holder");
  });

  test("check() fails once another holder took it (no fencing: re-check before each destructive step)", async () => {
    const store = new SimStore();
    const api = storeApi(store);
    const a = await acquireLease(api, { operation: "one", clock: fakeClock() });
    await a.check();
    const b = await acquireLease(api, { operation: "breaker", breakLock: true, clock: fakeClock() });
    await expect(a.check()).rejects.toBeInstanceOf(LockLostError);
    // a lost lock is not released by its old holder: the new holder keeps it
    await a.release();
    expect(holderFromLease((await api.get())!)?.operation).toBe("breaker");
    await b.release();
  });

  test("the lease duration comes from HOMEOPS_LOCK_SECONDS as whole seconds only", () => {
    expect(leaseSeconds({})).toBe(60);
    expect(leaseSeconds({ HOMEOPS_LOCK_SECONDS: "5" })).toBe(5);
    for (const bad of ["0", "-1", "0x10", "1e3", " 3", "3600.5", "99999"]) expect(() => leaseSeconds({ HOMEOPS_LOCK_SECONDS: bad })).toThrow(/HOMEOPS_LOCK_SECONDS/);
  });
});

describe("maintenance lock file (before the API exists)", () => {
  const tmp = () => mkdtempSync(path.join(os.tmpdir(), "home-ops-lock-"));

  test("O_EXCL: the second taker is refused naming the holder; release removes the file", async () => {
    const dir = tmp();
    try {
      const file = path.join(dir, "state", "maintenance.lock");
      const a = await acquireLockFile(file, { operation: "talos-bootstrap" });
      const err = await acquireLockFile(file, { operation: "bootstrap-phased" }).catch((e) => e);
      expect(err).toBeInstanceOf(LockHeldError);
      expect(err.message).toContain('"talos-bootstrap"');
      await a.check();
      await a.release();
      const b = await acquireLockFile(file, { operation: "bootstrap-phased" });
      await b.release();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a file left by a process that is gone is taken over; one untouched for its duration too", async () => {
    const dir = tmp();
    try {
      const file = path.join(dir, "maintenance.lock");
      // a pid that cannot be alive on this host
      writeFileSync(file, JSON.stringify({ identity: "x", who: "me@" + os.hostname(), host: os.hostname(), pid: 2 ** 22 + 7, operation: "crashed", since: "then", durationSeconds: 600 }));
      const a = await acquireLockFile(file, { operation: "after a crash" });
      await a.release();
      writeFileSync(file, JSON.stringify({ identity: "y", who: "other@elsewhere", host: "elsewhere", pid: 1, operation: "remote", since: "then", durationSeconds: 5 }));
      await expect(acquireLockFile(file, { operation: "too early" })).rejects.toBeInstanceOf(LockHeldError);
      const old = new Date(Date.now() - 60_000);
      utimesSync(file, old, old);
      const b = await acquireLockFile(file, { operation: "after expiry" });
      await b.release();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
