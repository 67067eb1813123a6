// Start-to-exit time of every script answering --help, against running an empty .ts file, in the same run
// (interleaved, medians). The goal is <= 2x the empty file for each script: --help must not load the run code.
// The minimum of each is shown next to the median: on a busy machine it is the closer figure to the cost itself.
// `bun -e ''` is shown too: an empty .ts file alone costs more than that (Bun reads and transpiles a file).
// Run: bun bench/startup.ts [--rounds N] [--only name,name]
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { compareSamples, median, ratio, runCommand } from "../lib/bench/index.ts";
import { scriptFiles } from "../lib/cli/registry.ts";

const root = path.resolve(import.meta.dir, "..");
const arg = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const rounds = Number(arg("--rounds")) || 11;
const only = arg("--only")?.split(",");
const dir = mkdtempSync(path.join(tmpdir(), "home-ops-bench-"));
const empty = path.join(dir, "empty.ts");
writeFileSync(empty, "export {};\n");
const scripts = scriptFiles(root)
  .map((f) => `scripts/${f}`)
  .filter((f) => !only || only.includes(path.basename(f, ".ts")));
try {
  // the figures depend on how busy the machine is: they are printed with the load around them
  const loadBefore = loadavg()[0]!;
  const samples = await compareSamples(
    {
      "bun -e ''": () => runCommand(["bun", "-e", ""], root),
      "bun empty.ts": () => runCommand(["bun", empty], root),
      ...Object.fromEntries(scripts.map((s) => [s, () => runCommand(["bun", s, "--help"], root)])),
    },
    rounds,
  );
  const loadAfter = loadavg()[0]!;
  const med = (name: string) => median(samples[name]!);
  const min = (name: string) => Math.min(...samples[name]!);
  const file = { med: med("bun empty.ts"), min: min("bun empty.ts") };
  console.log(`rounds: ${rounds}, interleaved; load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after, on ${availableParallelism()} cores`);
  console.log(`${"".padEnd(42)} ${"median".padStart(9)}          ${"minimum".padStart(9)}`);
  const row = (label: string, name: string, note = "") =>
    `${label.padEnd(42)} ${med(name).toFixed(1).padStart(6)} ms ${ratio(med(name), file.med).padStart(6)}   ${min(name).toFixed(1).padStart(6)} ms ${ratio(min(name), file.min).padStart(6)}${note}`;
  console.log(row("bun -e ''", "bun -e ''"));
  console.log(row("bun empty.ts", "bun empty.ts", "   (the baseline)"));
  let over = 0;
  for (const s of scripts) {
    const r = med(s) / file.med;
    if (r > 2) over += 1;
    console.log(row(`${s} --help`, s, r > 2 ? "   over the 2x goal" : ""));
  }
  console.log(over ? `${over} of ${scripts.length} scripts over 2x an empty file (medians)` : `every script within 2x an empty file (medians)`);
  // with more runnable processes than cores a run's time includes waiting for a core, longer runs more of it
  if (Math.max(loadBefore, loadAfter) > availableParallelism())
    console.log("the machine was busy: the medians include waits for a CPU; the minimums are closer to the cost itself");
} finally {
  rmSync(dir, { recursive: true, force: true });
}
