// Start-to-exit time of every script answering --help, against running an empty .ts file, in the same run
// (interleaved, medians). The goal is <= 2x the empty file for each script: --help must not load the run code.
// `bun -e ''` is shown too: an empty .ts file alone costs more than that (Bun reads and transpiles a file).
// Run: bun bench/startup.ts [--rounds N] [--only name,name]
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { compare, ratio, runCommand } from "../lib/bench/index.ts";
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
  const result = await compare(
    {
      "bun -e ''": () => runCommand(["bun", "-e", ""], root),
      "bun empty.ts": () => runCommand(["bun", empty], root),
      ...Object.fromEntries(scripts.map((s) => [s, () => runCommand(["bun", s, "--help"], root)])),
    },
    rounds,
  );
  const base = result["bun -e ''"]!;
  const file = result["bun empty.ts"]!;
  console.log(
    `rounds: ${rounds} (medians, interleaved); load average ${loadBefore.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after, on ${availableParallelism()} cores`,
  );
  console.log(`${"bun -e ''".padEnd(42)} ${base.toFixed(1).padStart(6)} ms`);
  console.log(`${"bun empty.ts".padEnd(42)} ${file.toFixed(1).padStart(6)} ms   (the baseline)`);
  let over = 0;
  for (const s of scripts) {
    const ms = result[s]!;
    const r = ms / file;
    if (r > 2) over += 1;
    console.log(`${`${s} --help`.padEnd(42)} ${ms.toFixed(1).padStart(6)} ms   ${ratio(ms, file)}${r > 2 ? "   over the 2x goal" : ""}`);
  }
  console.log(over ? `${over} of ${scripts.length} scripts over 2x an empty file` : `every script within 2x an empty file`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
