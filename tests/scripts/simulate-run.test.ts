/**
 * runSimulated(): the `--simulate` path of every live script (lib/cli calls it). The environment it hands the
 * script points kubectl and the stand-ins at the simulation; HOMEOPS_SIM_STATE / HOMEOPS_SIM_FAULTS shape it; and
 * everything is torn down afterwards, also when the script fails or is interrupted.
 */
import { afterEach, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import path from "node:path";
import { Output } from "../../lib/cli/output.ts";
import { runSimulated, simSettings } from "../../lib/sim/index.ts";

const root = path.resolve(import.meta.dir, "../..");
const saved = { ...process.env };
/** what lib/cli hands runSimulated when no --sim-* flag is given: the environment's knobs over the default */
const fromEnv = () => simSettings({ defaultState: "complete" });
afterEach(() => {
  for (const k of ["HOMEOPS_SIM_STATE", "HOMEOPS_SIM_POPULATE", "HOMEOPS_SIM_FAULTS", "HOMEOPS_SIM_TIME_SCALE", "HOMEOPS_SIM_CONTROLLERS"]) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

function sink() {
  const lines: string[] = [];
  const stream = { write: (t: string) => lines.push(t) };
  return { out: new Output({ stdout: stream, stderr: stream, env: { NO_COLOR: "1" } }), lines };
}

async function sh(env: Record<string, string>, cmd: string) {
  const p = Bun.spawn(["bash", "-c", cmd], { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { stdout, stderr, code };
}

test("the script runs against the simulation; state and faults come from the environment; all is removed after", async () => {
  process.env.HOMEOPS_SIM_STATE = "bootstrapped";
  process.env.HOMEOPS_SIM_FAULTS = "unreachable=mini03;op-signed-out";
  process.env.HOMEOPS_SIM_CONTROLLERS = "0";
  const { out } = sink();
  let seen: Record<string, string> = {};
  const code = await runSimulated({ root, nodes: 4, out, signal: new AbortController().signal, settings: fromEnv() }, async (env) => {
    seen = env;
    const nodes = await sh(env, "kubectl get nodes -o name | wc -l");
    expect(nodes.stdout.trim()).toBe("4");
    const ms = await sh(env, "talosctl -n 172.29.51.11,172.29.51.13 get machinestatus");
    expect(ms.code).toBe(1);
    expect(ms.stdout).toContain("172.29.51.11");
    expect(ms.stderr).toContain("172.29.51.13: rpc error: code = Unavailable");
    const op = await sh(env, "op whoami");
    expect(op.code).toBe(1);
    return 3;
  });
  expect(code).toBe(3);
  expect(existsSync(seen.KUBECONFIG!)).toBe(false);
  expect(existsSync(path.dirname(seen.TALOSCONFIG!))).toBe(false);
  const after = await fetch(`${seen.HOMEOPS_SIM_URL}/healthz`).then(() => "answered", () => "gone");
  expect(after).toBe("gone");
}, 60_000);

test("a failing script still tears everything down", async () => {
  process.env.HOMEOPS_SIM_CONTROLLERS = "0";
  const { out } = sink();
  let dir = "";
  await expect(
    runSimulated({ root, out, signal: new AbortController().signal, settings: { state: "bare", faults: [] } }, async (env) => {
      dir = path.dirname(env.KUBECONFIG!);
      throw new Error("script failed");
    }),
  ).rejects.toThrow("script failed");
  expect(dir).not.toBe("");
  expect(existsSync(dir)).toBe(false);
}, 60_000);

test("bad simulation settings are configuration errors (exit 2)", async () => {
  const { out } = sink();
  for (const [k, v] of [
    ["HOMEOPS_SIM_STATE", "halfway"],
    ["HOMEOPS_SIM_FAULTS", "nonsense"],
    ["HOMEOPS_SIM_TIME_SCALE", "-3"],
    ["HOMEOPS_SIM_POPULATE", "maybe"],
  ] as const) {
    process.env[k] = v;
    const err = await (async () => runSimulated({ root, out, signal: new AbortController().signal, settings: fromEnv() }, async () => 0))().catch((e) => e);
    expect(err.exitCode).toBe(2);
    delete process.env[k];
  }
}, 60_000);

test("a live script with --simulate runs end to end: its exec reaches the talosctl stand-in", async () => {
  // through lib/cli's real --simulate path, with a tiny inline script
  const { defineScript } = await import("../../lib/cli/index.ts");
  process.env.HOMEOPS_SIM_CONTROLLERS = "0";
  process.env.HOMEOPS_SIM_STATE = "talos";
  const script = defineScript(null, {
    name: "probe",
    area: "dev",
    summary: "probe",
    replaces: [],
    live: true,
    async run({ exec, out }) {
      const r = await exec.run("talosctl", ["-n", "172.29.51.12", "get", "machinestatus", "-o", "json"], { readOnly: true });
      out.line(JSON.parse(r.stdout).spec.stage);
    },
  });
  const lines: string[] = [];
  const stream = { write: (t: string) => lines.push(t) };
  const code = await script.main(["--simulate"], { stdout: stream, stderr: stream, env: { ...process.env, NO_COLOR: "1" }, cwd: root });
  expect(lines.join("")).toBe("simulated cluster: 3 nodes, state talos, faults: none; nothing real is touched\nrunning\n");
  expect(code).toBe(0);
}, 60_000);

test("--sim-nodes 300: every node registered and Ready, talosctl and kubectl see all of them", async () => {
  process.env.HOMEOPS_SIM_CONTROLLERS = "0";
  process.env.HOMEOPS_SIM_STATE = "bootstrapped";
  const { out, lines } = sink();
  const code = await runSimulated({ root, nodes: 300, out, signal: new AbortController().signal, settings: fromEnv() }, async (env) => {
    const k = await sh(env, "kubectl get nodes --no-headers | grep -c ' Ready '");
    expect(k.stdout.trim()).toBe("300");
    const m = await sh(env, "talosctl -n 172.29.51.11 get members | tail -n +2 | wc -l");
    expect(m.stdout.trim()).toBe("300");
    const h = await sh(env, "talosctl -n 172.29.51.11 health --wait-timeout 1m");
    expect(h.code).toBe(0);
    return 0;
  });
  expect(code).toBe(0);
  // the repo's /24 cannot hold 300 nodes: the person is told
  expect(lines.join("")).toContain("beyond the node subnet");
}, 120_000);

test("under --simulate the confirmation says it is simulated, and the banner goes to stderr (stdout stays JSON)", async () => {
  const { defineScript } = await import("../../lib/cli/index.ts");
  process.env.HOMEOPS_SIM_CONTROLLERS = "0";
  const script = defineScript(null, {
    name: "probe-confirm",
    area: "dev",
    summary: "probe",
    replaces: [],
    live: true,
    mutates: true,
    simState: "bare",
    async run({ confirm, out }) {
      await confirm("reset the probe", "home-ops");
      out.result({ ok: true });
    },
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const prompts: string[] = [];
  const code = await script.main(["--simulate", "--json"], {
    stdout: { write: (t: string) => stdout.push(t) },
    stderr: { write: (t: string) => stderr.push(t) },
    stdin: { isTTY: true },
    readLine: async (prompt) => {
      prompts.push(prompt);
      return "home-ops";
    },
    env: { ...process.env, NO_COLOR: "1" },
    cwd: root,
  });
  expect(code).toBe(0);
  expect(prompts).toHaveLength(1);
  expect(prompts[0]).toContain("reset the probe");
  expect(prompts[0]).toContain("SIMULATED cluster");
  expect(JSON.parse(stdout.join(""))).toEqual({ ok: true });
  expect(stderr.join("")).toContain("simulated cluster: 3 nodes, state bare, faults: none; nothing real is touched");
}, 60_000);

test("--sim-state, --sim-fault and --sim-nodes without --simulate are usage errors (exit 2)", async () => {
  const { defineScript } = await import("../../lib/cli/index.ts");
  const script = defineScript(null, { name: "probe-flags", area: "dev", summary: "probe", replaces: [], live: true, run: () => 0 });
  const lines: string[] = [];
  const stream = { write: (t: string) => lines.push(t) };
  for (const args of [["--sim-state", "complete"], ["--sim-fault", "op-signed-out"], ["--sim-nodes", "4"]]) {
    expect(await script.main(args, { stdout: stream, stderr: stream, env: { NO_COLOR: "1" }, cwd: root })).toBe(2);
  }
  expect(lines.join("")).toContain("only apply with --simulate");
});
