import { InterruptedError, OperationError } from "../cli/errors.ts";

/**
 * Polling for what cannot be watched (talosctl state). Every wait has a deadline, backs off exponentially with
 * jitter, stops at once on abort, and reports progress so a person sees what is being waited for.
 */

export interface PollOptions {
  /** what is being waited for, in words ("etcd on 10.0.0.1 to report Preparing") */
  what: string;
  /** give up after this many ms (the whole wait, including the checks) */
  timeoutMs: number;
  /** first delay between checks (default 200 ms) */
  initialDelayMs?: number;
  /** longest delay between checks (default 5 s) */
  maxDelayMs?: number;
  /** multiplier per attempt (default 1.6) */
  factor?: number;
  /** +-fraction of random jitter (default 0.1) */
  jitter?: number;
  signal?: AbortSignal;
  /** called after each unsuccessful attempt */
  onProgress?: (p: PollProgress) => void;
  /** hint for the error when the deadline passes */
  hint?: string;
  /** clock and sleep, for tests */
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface PollProgress {
  attempt: number;
  elapsedMs: number;
  remainingMs: number;
  /** what the last check said (its `detail`, or the error it threw) */
  detail?: string;
}

/** What a check returns: done with a value, or not yet with a reason. */
export type PollResult<T> = { done: true; value: T } | { done: false; detail?: string };

export class PollTimeoutError extends OperationError {
  readonly lastDetail?: string;
  readonly attempts: number;
  constructor(what: string, timeoutMs: number, attempts: number, lastDetail?: string, hint?: string) {
    super(
      `gave up waiting for ${what} after ${formatMs(timeoutMs)}${lastDetail ? ` (last: ${lastDetail})` : ""}`,
      hint,
    );
    this.lastDetail = lastDetail;
    this.attempts = attempts;
  }
}

export function done<T>(value: T): PollResult<T> {
  return { done: true, value };
}
export function notYet(detail?: string): PollResult<never> {
  return { done: false, detail };
}

/** Delay before attempt n (1-based) without jitter. */
export function backoffDelay(attempt: number, opts: Pick<PollOptions, "initialDelayMs" | "maxDelayMs" | "factor"> = {}) {
  const initial = opts.initialDelayMs ?? 200;
  const max = opts.maxDelayMs ?? 5000;
  const factor = opts.factor ?? 1.6;
  return Math.min(max, initial * factor ** Math.max(0, attempt - 1));
}

export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new InterruptedError());
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new InterruptedError());
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Runs `check` until it reports done, the deadline passes (PollTimeoutError, exit 1) or the signal aborts
 * (InterruptedError, exit 130). A check that throws counts as "not yet" with the error as detail, unless `fatal`
 * says the error is final (then it is rethrown at once).
 */
export async function pollUntil<T>(
  check: (attempt: number) => Promise<PollResult<T>>,
  opts: PollOptions & { fatal?: (e: unknown) => boolean },
): Promise<T> {
  const now = opts.now ?? (() => performance.now());
  const sleep = opts.sleep ?? abortableSleep;
  const start = now();
  const jitter = opts.jitter ?? 0.1;
  let detail: string | undefined;
  for (let attempt = 1; ; attempt++) {
    if (opts.signal?.aborted) throw new InterruptedError();
    try {
      const r = await check(attempt);
      if (r.done) return r.value;
      detail = r.detail;
    } catch (e) {
      if (e instanceof InterruptedError || opts.signal?.aborted) throw new InterruptedError();
      if (opts.fatal?.(e)) throw e;
      detail = e instanceof Error ? e.message : String(e);
    }
    const elapsed = now() - start;
    const remaining = opts.timeoutMs - elapsed;
    opts.onProgress?.({ attempt, elapsedMs: elapsed, remainingMs: Math.max(0, remaining), detail });
    if (remaining <= 0) throw new PollTimeoutError(opts.what, opts.timeoutMs, attempt, detail, opts.hint);
    const base = backoffDelay(attempt, opts);
    const delay = Math.max(0, Math.min(remaining, base * (1 + (Math.random() * 2 - 1) * jitter)));
    await sleep(delay, opts.signal);
  }
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 120_000) return `${Math.round(ms / 100) / 10}s`;
  return `${Math.round(ms / 60_000)}m`;
}

/**
 * Parses a duration flag: "90s", "10m", "1h", "500ms", or a bare number of seconds. Returns ms, or null when the text
 * is not a duration.
 */
export function parseDuration(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const unit = m[2] ?? "s";
  return Math.round(n * (unit === "ms" ? 1 : unit === "s" ? 1000 : unit === "m" ? 60_000 : 3_600_000));
}
