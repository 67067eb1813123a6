/**
 * Benchmark helpers: every figure home-ops reports is a ratio against a baseline measured in the same run, so the
 * numbers mean the same on a laptop and on a loaded CI machine.
 */
export function median(values: number[]): number {
  if (values.length === 0) throw new Error("median of no values");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Wall time of one run of fn, in ms. */
export async function timeOnce(fn: () => Promise<unknown> | unknown): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

/**
 * Runs each case `rounds` times, interleaved (a, b, a, b, ...) so drift in machine load hits both alike, after one
 * warm-up each, and returns each case's median in ms.
 */
export async function compare(
  cases: Record<string, () => Promise<unknown> | unknown>,
  rounds = 15,
): Promise<Record<string, number>> {
  const samples = await compareSamples(cases, rounds);
  return Object.fromEntries(Object.entries(samples).map(([n, xs]) => [n, median(xs)]));
}

/** compare(), keeping every round's time of each case (for a minimum next to the median on a busy machine). */
export async function compareSamples(
  cases: Record<string, () => Promise<unknown> | unknown>,
  rounds = 15,
): Promise<Record<string, number[]>> {
  const names = Object.keys(cases);
  for (const n of names) await cases[n]!();
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let i = 0; i < rounds; i++) for (const n of names) samples[n]!.push(await timeOnce(cases[n]!));
  return samples;
}

/** Runs a command to completion, discarding its output; throws when it fails. */
export async function runCommand(cmd: string[], cwd?: string): Promise<void> {
  const proc = Bun.spawn(cmd, { cwd, stdout: "ignore", stderr: "ignore", stdin: "ignore" });
  const code = await proc.exited;
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited ${code}`);
}

export function ratio(value: number, baseline: number): string {
  return `${(value / baseline).toFixed(2)}x`;
}
