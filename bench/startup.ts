// Start-to-exit time of a script answering --help, against a bare `bun -e ''` and against running an empty .ts file,
// both in the same run. The target is <= 2x `bun -e ''`; an empty .ts file alone costs about 3x that (Bun
// reads and transpiles a file where `-e` does not), so the second ratio shows what the toolkit itself adds.
// Run: bun bench/startup.ts [--rounds N]
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { compare, ratio, runCommand } from "../lib/bench/index.ts";

const root = path.resolve(import.meta.dir, "..");
const rounds = Number(process.argv[process.argv.indexOf("--rounds") + 1]) || 21;
const dir = mkdtempSync(path.join(tmpdir(), "home-ops-bench-"));
const empty = path.join(dir, "empty.ts");
writeFileSync(empty, "export {};\n");
try {
  const result = await compare(
    {
      "bun -e ''": () => runCommand(["bun", "-e", ""], root),
      "bun empty.ts": () => runCommand(["bun", empty], root),
      "bun scripts/help.ts --help": () => runCommand(["bun", "scripts/help.ts", "--help"], root),
    },
    rounds,
  );
  const base = result["bun -e ''"]!;
  const file = result["bun empty.ts"]!;
  const help = result["bun scripts/help.ts --help"]!;
  console.log(`rounds: ${rounds} (medians, interleaved)`);
  console.log(`bun -e ''                   ${base.toFixed(1)} ms`);
  console.log(`bun empty.ts                ${file.toFixed(1)} ms   ${ratio(file, base)} of bun -e ''`);
  console.log(`bun scripts/help.ts --help  ${help.toFixed(1)} ms   ${ratio(help, base)} of bun -e '' (target <= 2x), ${ratio(help, file)} of an empty file`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
