/**
 * How long things take in the simulated cluster. Every delay is a realistic duration (what a Mac mini running Talos
 * takes) multiplied by `scale`, so a whole bootstrap runs in seconds by default and instantly with `scale: 0`
 * (then state changes happen synchronously, inside the call that caused them, which keeps unit tests deterministic).
 */

export interface Delays {
  /** maintenance -> installed: writing the image to disk after apply-config */
  install: number;
  /** power-on or reboot until apid answers and the machine is `running` */
  boot: number;
  /** services stopping before a reboot, upgrade or reset goes down */
  shutdown: number;
  /** pulling and writing the installer of an upgrade */
  upgrade: number;
  /** wiping partitions during reset */
  reset: number;
  /** etcd bootstrap until kube-apiserver answers */
  bootstrap: number;
  /** a control plane joining etcd (as learner, then promoted) */
  etcdJoin: number;
  /** kubelet start until the Node object is registered */
  kubeletRegister: number;
}

/** Real-world durations in milliseconds. */
export const REAL_DELAYS: Delays = {
  install: 90_000,
  boot: 40_000,
  shutdown: 10_000,
  upgrade: 60_000,
  reset: 20_000,
  bootstrap: 30_000,
  etcdJoin: 10_000,
  kubeletRegister: 15_000,
};

/** The default: a full bootstrap of three nodes takes about 4 s. */
export const DEFAULT_SCALE = 0.02;

export interface TimingOptions {
  scale?: number;
  delays?: Partial<Delays>;
}

export class Timing {
  scale: number;
  readonly delays: Delays;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private stopped = false;

  constructor(opts: TimingOptions = {}) {
    this.scale = opts.scale ?? DEFAULT_SCALE;
    if (!Number.isFinite(this.scale) || this.scale < 0) throw new RangeError(`timing scale must be >= 0, not ${this.scale}`);
    this.delays = { ...REAL_DELAYS, ...(opts.delays ?? {}) };
  }

  /** The scaled duration of a named delay (or of a real duration in ms). */
  ms(delay: keyof Delays | number): number {
    const real = typeof delay === "number" ? delay : this.delays[delay];
    return Math.round(real * this.scale);
  }

  /** Runs fn after the scaled delay; with a zero delay, synchronously. Cancelled by stop(). */
  after(delay: keyof Delays | number, fn: () => void): void {
    if (this.stopped) return;
    const ms = this.ms(delay);
    if (ms <= 0) {
      fn();
      return;
    }
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(t);
  }

  /** Waits a scaled delay (resolves at once for zero); rejects when the signal aborts. */
  sleep(delay: keyof Delays | number, signal?: AbortSignal): Promise<void> {
    const ms = this.ms(delay);
    return sleepMs(ms, signal, this.timers);
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Cancels every pending transition. */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

export function sleepMs(ms: number, signal?: AbortSignal, track?: Set<ReturnType<typeof setTimeout>>): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason ?? new Error("aborted"));
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      track?.delete(t);
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    track?.add(t);
    const onAbort = () => {
      clearTimeout(t);
      track?.delete(t);
      reject(signal?.reason ?? new Error("aborted"));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Parses a Go duration as talosctl flags take it (`30s`, `10m`, `1h30m`, `500ms`) into milliseconds. */
export function parseGoDuration(text: string): number | null {
  const t = text.trim();
  if (t === "0") return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(t)) !== null) {
    const n = Number(m[1]);
    const unit = m[2]!;
    const factor = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit]!;
    total += n * factor;
    matched += m[0].length;
  }
  if (matched === 0 || matched !== t.length) return null;
  return total;
}
