/**
 * scripts/simulate.ts as a person uses it: start it, source the export lines in another shell, use kubectl and
 * talosctl, Ctrl-C — and everything it created is gone. Bad input exits 2 without starting anything.
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { SIM_STATES } from "../../lib/sim/cluster.ts";

const root = path.resolve(import.meta.dir, "../..");
// the emulated controllers are tested on their own; this test is about the script's own job
const baseEnv = { ...process.env, NO_COLOR: "1", HOMEOPS_SIM_CONTROLLERS: "0" };

async function run(args: string[]) {
  const p = Bun.spawn(["bun", "scripts/simulate.ts", ...args], { cwd: root, env: baseEnv, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { stdout, stderr, code };
}

/** What `simulate` exports: where the tools find the cluster, and the simulated 1Password account. */
const EXPORTED = ["HOMEOPS_BACKUP_ROOT", "HOMEOPS_CLUSTERCONFIG_DIR", "HOMEOPS_SIMULATED", "HOMEOPS_SIM_TOKEN", "HOMEOPS_SIM_URL", "HOMEOPS_STATE_DIR", "HOMEOPS_TALSECRET_FILE", "KUBECONFIG", "OP_ACCOUNT", "OP_VAULT", "PATH", "TALOSCONFIG"];

/** Reads the child's stdout until every export line is there. */
async function readExports(stream: ReadableStream<Uint8Array>): Promise<Record<string, string>> {
  const reader = stream.getReader();
  const dec = new TextDecoder();
  let text = "";
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += dec.decode(value);
    if (EXPORTED.every((k) => new RegExp(`^export ${k}=.*\n`, "m").test(text))) break;
  }
  reader.releaseLock();
  const env: Record<string, string> = {};
  for (const m of text.matchAll(/^export (\w+)='(.*)'$/gm)) env[m[1]!] = m[2]!.replaceAll(`'\\''`, "'");
  return env;
}

const temps: string[] = [];
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

test("simulate: prints the environment, kubectl and talosctl work with it, Ctrl-C removes everything", async () => {
  const envDir = mkdtempSync(path.join(tmpdir(), "simulate-test-"));
  temps.push(envDir);
  const envFile = path.join(envDir, "sim.env");
  const p = Bun.spawn(["bun", "scripts/simulate.ts", "--state", "bootstrapped", "--nodes", "4", "--fault", "unreachable=mini02", "--env-file", envFile], {
    cwd: root,
    env: baseEnv,
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
  });
  const env = await readExports(p.stdout);
  expect(Object.keys(env).sort()).toEqual(EXPORTED);
  expect(env.PATH!.split(":")[0]).toBe(path.join(root, "lib/sim/bin"));
  const dir = path.dirname(env.KUBECONFIG!);
  expect(existsSync(env.TALOSCONFIG!)).toBe(true);

  expect(readFileSync(envFile, "utf8")).toContain(`export KUBECONFIG='${env.KUBECONFIG}'`);
  expect(statSync(envFile).mode & 0o777).toBe(0o600);
  const sourced = Bun.spawnSync(["bash", "-c", `source ${envFile} && kubectl get nodes -o name | wc -l`], { env: { ...process.env, PATH: process.env.PATH! } });
  expect(sourced.stdout.toString().trim()).toBe("4");

  const sh = async (cmd: string) => {
    const c = Bun.spawn(["bash", "-c", cmd], { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
    const [stdout, stderr, code] = await Promise.all([new Response(c.stdout).text(), new Response(c.stderr).text(), c.exited]);
    return { stdout, stderr, code };
  };
  const nodes = await sh("kubectl get nodes -o name");
  expect(nodes.stdout.trim().split("\n")).toEqual(["node/mini01", "node/mini02", "node/mini03", "node/mini04"]);
  const ms = await sh("talosctl -n 172.29.51.11 get machinestatus");
  expect(ms.code).toBe(0);
  expect(ms.stdout).toMatch(/172\.29\.51\.11 +runtime +MachineStatus +machine +\d+ +running +true/);
  const down = await sh("talosctl -n 172.29.51.12 version");
  expect(down.code).toBe(1);
  expect(down.stderr).toContain("no route to host");
  expect(await sh("command -v kubectl")).toMatchObject({ stdout: `${Bun.which("kubectl")}\n` }); // the real kubectl, not a stand-in

  p.kill("SIGINT");
  const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  expect(code).toBe(0);
  expect(stderr).toContain('simulated cluster "home-ops": 4 nodes');
  expect(stderr).toContain("faults: unreachable=mini02");
  expect(stderr).toContain("simulated cluster stopped, files removed");
  expect(existsSync(dir)).toBe(false);
  expect(existsSync(envFile)).toBe(false);
  // the stand-ins now say there is no simulation
  const gone = await sh("talosctl version");
  expect(gone.code).not.toBe(0);
}, 60_000);

test("simulate --json prints one document with the environment", async () => {
  const p = Bun.spawn(["bun", "scripts/simulate.ts", "--json", "--time-scale", "0"], { cwd: root, env: baseEnv, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const reader = p.stdout.getReader();
  let text = "";
  while (!text.trimEnd().endsWith("}")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  const doc = JSON.parse(text);
  expect(doc.nodes).toEqual(["mini01", "mini02", "mini03"]);
  expect(doc.env.KUBECONFIG).toStartWith(doc.dir);
  p.kill("SIGTERM");
  expect(await p.exited).toBe(0);
  expect(existsSync(doc.dir)).toBe(false);
}, 60_000);

test("bad input exits 2 with one clear line and starts nothing", async () => {
  for (const [args, msg] of [
    [["--nodes", "0"], "--nodes must be a whole number from 1 to 1000"],
    [["--state", "half"], `--state must be one of ${SIM_STATES.join(", ")}`],
    [["--fault", "bogus"], 'unknown fault "bogus"'],
    [["--fault", "unreachable"], 'fault "unreachable" needs a node'],
    [["--time-scale=-1"], "--time-scale must be a number of at least 0"],
  ] as const) {
    const r = await run([...args]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(msg);
    expect(r.stderr).not.toContain("    at ");
  }
}, 60_000);
