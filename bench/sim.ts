// The whole simulated cluster (Kubernetes API + Talos machines + stand-in tools): how long it takes to start and
// stop as a process against a bare `bun -e ''` in the same run (issue 8: "starts in under a second"); what one
// stand-in call costs (a `talosctl` process answering through the control endpoint) against `bun -e ''`; and the
// in-process start at 3 and 300 nodes (state bootstrapped: 300 Nodes registered) with a 300-node `get members`.
// Run: bun bench/sim.ts [--rounds N] [--nodes N] [--json]
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { compare, median, ratio, runCommand, timeOnce } from "../lib/bench/index.ts";
import { startSimulation } from "../lib/sim/index.ts";

const root = path.resolve(import.meta.dir, "..");
const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) || dflt : dflt;
};
const rounds = arg("--rounds", 7);
const big = arg("--nodes", 300);
// the emulated controllers are measured by their own benches; this one is the Talos/tools half
process.env.HOMEOPS_SIM_CONTROLLERS ??= "0";

const dir = mkdtempSync(path.join(tmpdir(), "home-ops-bench-simfull-"));
const starter = path.join(dir, "start-sim.ts");
writeFileSync(
  starter,
  [
    `import { startSimulation } from ${JSON.stringify(path.join(root, "lib/sim/index.ts"))};`,
    "const sim = await startSimulation({ controllers: false });",
    "const r = await sim.cluster.tools.call('talosctl', { argv: ['version', '--client'] });",
    "if (r.exitCode !== 0) throw new Error(r.stderr);",
    "await sim.stop();",
    "",
  ].join("\n"),
);

const sim = await startSimulation({ root, controllers: false, state: "bootstrapped" });
try {
  // 1. start + stop as a process, and one stand-in call, against bun -e ''
  const env = { ...process.env, ...sim.env };
  const standIn = async () => {
    const p = Bun.spawn(["talosctl", "-n", sim.cluster.topology.nodes[0]!.ipv4, "version"], { env, stdout: "ignore", stderr: "ignore", stdin: "ignore" });
    if ((await p.exited) !== 0) throw new Error("talosctl stand-in failed");
  };
  const proc = await compare(
    {
      "bun -e ''": () => runCommand(["bun", "-e", ""], root),
      "start simulation + stop": () => runCommand(["bun", starter], root),
      "stand-in talosctl call": standIn,
    },
    rounds,
  );
  const base = proc["bun -e ''"]!;
  const start = proc["start simulation + stop"]!;
  const call = proc["stand-in talosctl call"]!;

  // CPU time of the same two processes (user + system): what the wall time would be on an idle machine, and far
  // less sensitive to the load of a shared CI box than the wall time
  const cpuOf = async (cmd: string[]) => {
    const p = Bun.spawn(cmd, { cwd: root, stdout: "ignore", stderr: "ignore", stdin: "ignore" });
    if ((await p.exited) !== 0) throw new Error(`${cmd.join(" ")} failed`);
    return Number(p.resourceUsage()?.cpuTime.total ?? 0n) / 1000;
  };
  const cpuBase: number[] = [];
  const cpuStart: number[] = [];
  for (let i = 0; i < rounds; i++) {
    cpuBase.push(await cpuOf(["bun", "-e", ""]));
    cpuStart.push(await cpuOf(["bun", starter]));
  }
  const cpuB = median(cpuBase);
  const cpuS = median(cpuStart);

  // 2. in process, at 3 and at N nodes (bootstrapped: every Node registered and Ready)
  const inproc = async (nodes?: number) => {
    const times: number[] = [];
    let members = 0;
    for (let i = 0; i < Math.max(3, Math.floor(rounds / 2)); i++) {
      let s: Awaited<ReturnType<typeof startSimulation>> | undefined;
      times.push(
        await timeOnce(async () => {
          s = await startSimulation({ root, controllers: false, state: "bootstrapped", ...(nodes ? { nodes } : {}) });
        }),
      );
      if (nodes) {
        const t0 = performance.now();
        const r = await s!.cluster.tools.call("talosctl", {
          argv: ["-n", s!.cluster.topology.nodes[0]!.ipv4, "get", "members"],
          env: { TALOSCONFIG: s!.env.TALOSCONFIG! },
        });
        members = performance.now() - t0;
        if (r.stdout.trim().split("\n").length !== nodes + 1) throw new Error(`get members listed ${r.stdout.split("\n").length - 2} nodes`);
        if (s!.cluster.store.list("nodes").items.length !== nodes) throw new Error("not every Node registered");
      }
      await s!.stop();
    }
    return { start: median(times), members };
  };
  const small = await inproc();
  const large = await inproc(big);

  const figures = {
    rounds,
    bunE_ms: +base.toFixed(1),
    simProcess_ms: +start.toFixed(1),
    simProcessRatio: +(start / base).toFixed(2),
    bunE_cpu_ms: +cpuB.toFixed(1),
    simProcess_cpu_ms: +cpuS.toFixed(1),
    simProcessCpuRatio: +(cpuS / cpuB).toFixed(2),
    loadAverage: +(await Bun.file("/proc/loadavg").text().catch(() => "0")).split(" ")[0]!,
    standInCall_ms: +call.toFixed(1),
    standInCallRatio: +(call / base).toFixed(2),
    inProcess3_ms: +small.start.toFixed(1),
    nodes: big,
    inProcessN_ms: +large.start.toFixed(1),
    getMembersN_ms: +large.members.toFixed(1),
  };
  if (process.argv.includes("--json")) console.log(JSON.stringify(figures));
  else {
    console.log(`rounds: ${rounds} (medians, interleaved)`);
    console.log(`bun -e ''                                       ${base.toFixed(1)} ms`);
    console.log(`start simulation + one tool call + stop (proc)  ${start.toFixed(1)} ms   ${ratio(start, base)} of bun -e '' (target: under a second)`);
    console.log(`  CPU time (user+sys): bun -e '' ${cpuB.toFixed(1)} ms, simulation ${cpuS.toFixed(1)} ms   ${ratio(cpuS, cpuB)}`);
    console.log(`  (load average ${figures.loadAverage} while measuring)`);
    console.log(`one stand-in talosctl call (process)            ${call.toFixed(1)} ms   ${ratio(call, base)} of bun -e ''`);
    console.log(`in process: start, 3 nodes bootstrapped         ${small.start.toFixed(1)} ms`);
    console.log(`in process: start, ${big} nodes bootstrapped       ${large.start.toFixed(1)} ms`);
    console.log(`talosctl get members over ${big} nodes            ${large.members.toFixed(1)} ms`);
  }
} finally {
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
}
