/**
 * The simulated cluster, started in-process: the Kubernetes API (mTLS HTTPS over SimStore), the Talos machines and
 * the stand-in tools (talosctl, talhelper, op, helm, flux, vtysh on PATH), with a kubeconfig and a talosconfig in
 * a private temp dir. `--simulate` on any live script goes through runSimulated(); tests use startSimulation().
 *
 * Everything a rehearsal reads or writes as the cluster's files lives in that folder (removed on every exit):
 * kubeconfig, talosconfig, clusterconfig/ (the machine configs, generated at start as talos-generate-config
 * would), talsecret.yaml, backups/ (etcd snapshots; one is taken at start once etcd runs), state/ (the journal).
 *
 * `--sim-state` and `--sim-fault` (lib/cli) choose the state and faults; the environment knobs are aliases:
 *   HOMEOPS_SIM_STATE       bare | configured | talos | bootstrapped | complete (default: what the script needs)
 *   HOMEOPS_SIM_POPULATE    1: the repo's GitOps state on top of bootstrapped (= complete); 0: complete without it
 *   HOMEOPS_SIM_FAULTS      faults, separated by `;` or `,` (see lib/sim/faults.ts), e.g. `unreachable=mini02`
 *   HOMEOPS_SIM_TIME_SCALE  delay factor (default 0.02: a bootstrap takes seconds; 0: instant)
 *   HOMEOPS_SIM_CONTROLLERS 0 to leave out lib/sim/controllers (helm/flux/vtysh and the emulated controllers)
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Output } from "../cli/output.ts";
import { ConfigError, InterruptedError } from "../cli/errors.ts";
import { SIM_STATES, SimCluster, type SimState } from "./cluster.ts";
import { Faults, FaultError } from "./faults.ts";
import { startKubeApi, type KubeApi } from "./kube-api.ts";
import { SimStore } from "./store.ts";
import { Timing, type TimingOptions } from "./timing.ts";
import { type SimTopology, topologyFromRepo, topologyFromTalconfig, scaleTopology } from "./topology.ts";
import { BIN_DIR } from "./tools.ts";
import { seedRepoVault } from "./vault-seed.ts";
import { snapshotName } from "../talos/snapshot.ts";
import { stringify as yamlStringify } from "yaml";

export { SIM_STATES, SimCluster, type SimState, type SimController, maxConcurrentDown } from "./cluster.ts";
export { Faults, FAULT_HELP, parseFault, registerFaultName } from "./faults.ts";
export { Timing, REAL_DELAYS, DEFAULT_SCALE } from "./timing.ts";
export { topologyFromRepo, topologyFromModel, scaleTopology, type SimTopology, type SimNodeSpec } from "./topology.ts";
export { BIN_DIR, STAND_IN_TOOLS, type ToolCall, type ToolResult, type ToolHandler } from "./tools.ts";
export { SimVault } from "./vault.ts";
export type { HistoryEvent, TalosMachine, MachineStage, EtcdMember, SnapshotPayload } from "./talos.ts";
export type { CallRecord } from "./tools.ts";

/** Contract used by lib/cli for `--simulate`. */
export interface SimulateOptions {
  root: string;
  nodes?: number;
  out: Output;
  signal: AbortSignal;
  /** what --sim-state / --sim-fault and the environment chose (simSettings) */
  settings: SimSettings;
  /** have the machine configs ready in the simulation's clusterconfig/ (default true; false for the scripts that generate them) */
  seedConfigs?: boolean;
}

export interface StartOptions {
  /** the repo whose topology is simulated (default: this checkout) */
  root?: string;
  /** an explicit topology instead of the repo's */
  topology?: SimTopology;
  /** scale the topology to this many nodes */
  nodes?: number;
  state?: SimState;
  faults?: readonly string[];
  timing?: TimingOptions;
  /** added to every Kubernetes API response (benchmarks) */
  latencyMs?: number;
  /** load lib/sim/controllers (helm, flux, vtysh, Cilium, Longhorn, Flux emulation) when present; default true */
  controllers?: boolean;
  /** fill the simulated 1Password vault with every item the repo reads (default true) */
  seedVault?: boolean;
  /** the talosctl version the stand-in claims (version-skew tests) */
  talosctlVersion?: string;
  /** user volumes of the machine config (default: the repo's UserVolumeConfig names) */
  userVolumes?: string[];
  /**
   * have clusterconfig/ generated in the simulation's folder as talos-generate-config would (default: unless the
   * state is bare). A state that starts configured always has them: its machines run these configs.
   */
  seedConfigs?: boolean;
}

export interface Simulation {
  /** KUBECONFIG, TALOSCONFIG, PATH (stand-ins first), HOMEOPS_SIM_URL, HOMEOPS_SIM_TOKEN, HOMEOPS_SIMULATED */
  env: Record<string, string>;
  cluster: SimCluster;
  kubeApi: KubeApi;
  /** the private temp dir holding kubeconfig and talosconfig */
  dir: string;
  stop(): Promise<void>;
}

const REPO_ROOT = path.resolve(import.meta.dir, "../..");

export interface SimSettings {
  state: SimState;
  faults: string[];
}

/**
 * The state and faults of a rehearsal: the --sim-state / --sim-fault flags, else HOMEOPS_SIM_STATE /
 * HOMEOPS_SIM_FAULTS, else `defaultState` (what the script needs). HOMEOPS_SIM_POPULATE=1 turns bootstrapped into
 * complete, =0 complete into bootstrapped; any other value, or one that contradicts the state, is an error.
 */
export function simSettings(
  o: { state?: string; faults?: readonly string[]; defaultState: SimState },
  env: Record<string, string | undefined> = process.env,
): SimSettings {
  const given = o.state ?? (env.HOMEOPS_SIM_STATE || undefined);
  const source = o.state !== undefined ? "--sim-state" : "HOMEOPS_SIM_STATE";
  if (given !== undefined && !(SIM_STATES as readonly string[]).includes(given))
    throw new ConfigError(`${source} must be one of ${SIM_STATES.join(", ")}, not "${given}"`);
  let state = (given ?? o.defaultState) as SimState;
  const populate = (env.HOMEOPS_SIM_POPULATE ?? "").trim();
  if (populate !== "") {
    const on = ["1", "true", "yes"].includes(populate.toLowerCase());
    const off = ["0", "false", "no"].includes(populate.toLowerCase());
    if (!on && !off) throw new ConfigError(`HOMEOPS_SIM_POPULATE must be 1 or 0, not "${populate}"`);
    if (on && state === "bootstrapped") state = "complete";
    else if (on && given === undefined) state = "complete";
    else if (off && state === "complete") state = "bootstrapped";
    else if (on && state !== "complete")
      throw new ConfigError(
        `HOMEOPS_SIM_POPULATE=1 fills a bootstrapped cluster with the repo's GitOps state, but the state is ${state}`,
        "use --sim-state complete (HOMEOPS_SIM_POPULATE=1 is its old spelling), or unset HOMEOPS_SIM_POPULATE",
      );
  }
  const faults = [
    ...(env.HOMEOPS_SIM_FAULTS ?? "").split(/[;,]/).map((f) => f.trim()).filter(Boolean),
    ...(o.faults ?? []),
  ];
  return { state, faults };
}

/** The one line every simulated run prints first (stderr), so a rehearsal is never mistaken for the real thing. */
export function simBanner(nodes: number, s: SimSettings): string {
  return `simulated cluster: ${nodes} node${nodes === 1 ? "" : "s"}, state ${s.state}, faults: ${s.faults.length ? s.faults.join(", ") : "none"}; nothing real is touched`;
}

function envTiming(): TimingOptions | undefined {
  const s = process.env.HOMEOPS_SIM_TIME_SCALE;
  if (s === undefined || s === "") return undefined;
  const scale = Number(s);
  if (!Number.isFinite(scale) || scale < 0) throw new ConfigError(`HOMEOPS_SIM_TIME_SCALE must be a number >= 0, not "${s}"`);
  return { scale };
}

/** UserVolumeConfig names in talos/patches (shown by `talosctl get volumestatus` as u-<name>). */
function repoUserVolumes(root: string): string[] {
  const dir = path.join(root, "talos", "patches");
  const names: string[] = [];
  if (!existsSync(dir)) return names;
  const glob = new Bun.Glob("**/*.yaml");
  for (const f of glob.scanSync({ cwd: dir })) {
    const text = readFileSync(path.join(dir, f), "utf8");
    for (const m of text.matchAll(/kind:\s*UserVolumeConfig[\s\S]*?\n\s*name:\s*([A-Za-z0-9-]+)/g)) names.push(m[1]!);
  }
  return names;
}

/** Starts a simulated cluster; stop() removes everything it created. */
export async function startSimulation(opts: StartOptions = {}): Promise<Simulation> {
  const root = opts.root ?? REPO_ROOT;
  // the repo model and the API server's PKI (openssl) take the longest: do both at once
  const topologyP = opts.topology ? Promise.resolve(opts.topology) : topologyFromRepo(root);
  topologyP.catch(() => {});
  let k8sVersion = opts.topology?.kubernetesVersion;
  if (!k8sVersion) {
    try {
      k8sVersion = topologyFromTalconfig(root).kubernetesVersion;
    } catch {
      k8sVersion = (await topologyP).kubernetesVersion;
    }
  }
  // the state is built healthy and the faults strike afterwards (a node cut off from a running cluster, not a
  // cluster that could never form): checked now, added once the state stands
  const faults = new Faults();
  try {
    new Faults(opts.faults ?? []);
  } catch (e) {
    if (e instanceof FaultError) throw new ConfigError(e.message, "see lib/sim/faults.ts for the fault syntax");
    throw e;
  }
  const dir = mkdtempSync(path.join(tmpdir(), "home-ops-sim-"));
  chmodSync(dir, 0o700);
  // the folder holds a Talos secrets bundle and admin credentials: whatever ends the process (an error, a second
  // Ctrl-C, process.exit from a signal handler) removes it
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  process.on("exit", removeDir);
  const store = new SimStore();
  let kubeApi: KubeApi | undefined;
  let apiP: Promise<KubeApi> | undefined;
  let cluster: SimCluster | undefined;
  try {
    apiP = startKubeApi({
      store,
      dir: path.join(dir, "kube"),
      kubernetesVersion: k8sVersion,
      ...(opts.latencyMs !== undefined ? { latencyMs: opts.latencyMs } : {}),
    });
    apiP.then((a) => (kubeApi = a)).catch(() => {});
    let topology = await topologyP;
    if (opts.nodes !== undefined) topology = scaleTopology(topology, opts.nodes);
    kubeApi = await apiP;
    cluster = new SimCluster({
      topology,
      store,
      timing: new Timing(opts.timing),
      faults,
      state: opts.state ?? "bare",
      root,
      userVolumes: opts.userVolumes ?? (opts.topology ? [] : repoUserVolumes(root)),
      ...(opts.talosctlVersion ? { talosctlVersion: opts.talosctlVersion } : {}),
    });
    cluster.kubeconfigText = readFileSync(kubeApi.kubeconfigPath, "utf8");
    if (opts.controllers ?? process.env.HOMEOPS_SIM_CONTROLLERS !== "0") await loadControllers(cluster);
    const control = await cluster.start();
    const kubeconfig = path.join(dir, "kubeconfig");
    writeFileSync(kubeconfig, cluster.kubeconfigText, { mode: 0o600 });
    const talosconfig = path.join(dir, "talosconfig");
    writeFileSync(talosconfig, cluster.talosconfig(), { mode: 0o600 });
    const opVault = process.env.OP_VAULT || cluster.vault.vaults()[0] || "home-ops";
    if (opts.seedVault !== false) seedRepoVault(cluster, root, opVault);
    const env: Record<string, string> = {
      KUBECONFIG: kubeconfig,
      TALOSCONFIG: talosconfig,
      PATH: `${BIN_DIR}${path.delimiter}${process.env.PATH ?? ""}`,
      HOMEOPS_SIM_URL: control.url,
      HOMEOPS_SIM_TOKEN: control.token,
      HOMEOPS_SIMULATED: "1",
      // the simulated 1Password account and vault, so a fresh clone without .env can rehearse everything
      OP_ACCOUNT: process.env.OP_ACCOUNT || cluster.vault.account,
      OP_VAULT: opVault,
      // what scripts write about a cluster (talhelper output, the restored Talos bundle, the bootstrap journal)
      // goes to the simulation's folder: a rehearsal never touches the real cluster's files in the repo
      HOMEOPS_CLUSTERCONFIG_DIR: path.join(dir, "clusterconfig"),
      HOMEOPS_TALSECRET_FILE: path.join(dir, "talsecret.yaml"),
      HOMEOPS_STATE_DIR: path.join(dir, "state"),
      // relative backup folders (etcd snapshots: backups/etcd) resolve here instead of in the repo
      HOMEOPS_BACKUP_ROOT: dir,
    };
    await seedClusterFiles(cluster, root, env, opts.seedConfigs ?? cluster.state !== "bare");
    for (const f of opts.faults ?? []) faults.add(f);
    const c = cluster;
    const k = kubeApi;
    let stopping: Promise<void> | undefined;
    return {
      env,
      cluster: c,
      kubeApi: k,
      dir,
      // every caller waits for the one stop under way (an abort and the finally of runSimulated both call it)
      stop() {
        stopping ??= (async () => {
          try {
            await c.stop().catch(() => {});
            await k.stop().catch(() => {});
          } finally {
            removeDir();
            process.off("exit", removeDir);
          }
        })();
        return stopping;
      },
    };
  } catch (e) {
    await cluster?.stop().catch(() => {});
    const api = kubeApi ?? (await apiP?.catch(() => undefined));
    await api?.stop().catch(() => {});
    removeDir();
    process.off("exit", removeDir);
    throw e;
  }
}

/**
 * The files a real cluster of this state has beside it, in the simulation's folder: the secrets bundle (the
 * cluster's own, as restored from 1Password), the machine configs talhelper generates from it, and, once etcd
 * runs, one etcd snapshot (what etcd-snapshot keeps and cluster-emergency-recovery restores from).
 */
async function seedClusterFiles(cluster: SimCluster, root: string, env: Record<string, string>, configs: boolean): Promise<void> {
  const secretFile = env.HOMEOPS_TALSECRET_FILE!;
  const talosDir = path.join(root, "talos");
  // a configured state always has them (its machines run them); bare ones unless the script makes them itself
  if ((configs || cluster.state !== "bare") && existsSync(path.join(talosDir, "talconfig.yaml"))) {
    writeFileSync(secretFile, yamlStringify(cluster.secrets, { indent: 4 }), { mode: 0o600 });
    const r = await cluster.tools.call("talhelper", {
      argv: ["genconfig", "--secret-file", secretFile, "--out-dir", env.HOMEOPS_CLUSTERCONFIG_DIR!],
      cwd: talosDir,
      env,
    }, { record: false });
    if (r.exitCode !== 0) throw new ConfigError(`the simulation could not generate the machine configs: ${r.stderr.trim().split("\n")[0]}`, "run bun scripts/validate.ts to check talos/");
    // a state that starts configured runs these configs (sysctls, udev rules... as talosctl shows them)
    for (const m of cluster.talos.machines) {
      const file = path.join(env.HOMEOPS_CLUSTERCONFIG_DIR!, `${cluster.topology.clusterName}-${m.hostname}.yaml`);
      if (m.config && !m.config.text && existsSync(file)) m.config.text = readFileSync(file, "utf8");
    }
  }
  const cp = cluster.talos.machines.find((m) => m.controlPlane && m.etcdService === "Running");
  if (!cp) return;
  const backups = path.join(env.HOMEOPS_BACKUP_ROOT!, "backups", "etcd");
  mkdirSync(backups, { recursive: true, mode: 0o700 });
  const file = path.join(backups, snapshotName(cluster.topology.clusterName, new Date(Date.now() - 3_600_000)));
  const r = await cluster.tools.call("talosctl", { argv: ["-n", cp.ip, "etcd", "snapshot", file], env }, { record: false });
  if (r.exitCode !== 0) throw new ConfigError(`the simulation could not take its first etcd snapshot: ${r.stderr.trim().split("\n")[0]}`);
  chmodSync(file, 0o600);
}

/** Hooks in lib/sim/controllers (the helm/flux/vtysh stand-ins and the emulated controllers) when that part exists. */
async function loadControllers(cluster: SimCluster): Promise<void> {
  const file = path.join(import.meta.dir, "controllers", "index.ts");
  if (!existsSync(file)) return;
  let mod: { registerControllers?: (c: SimCluster) => void | Promise<void> };
  try {
    mod = (await import(file)) as typeof mod;
  } catch (e) {
    throw new ConfigError(
      `the simulated controllers (lib/sim/controllers) could not be loaded: ${(e as Error).message.split("\n")[0]}`,
      "set HOMEOPS_SIM_CONTROLLERS=0 to run the simulation without them",
      e,
    );
  }
  if (typeof mod.registerControllers === "function") await mod.registerControllers(cluster);
}

/**
 * Starts the simulated cluster of the repo at `root`, runs `fn` with the environment (KUBECONFIG, TALOSCONFIG,
 * PATH with the stand-in tools first) that points every tool and client at it, then tears it down (also when
 * interrupted).
 */
export async function runSimulated(
  opts: SimulateOptions,
  fn: (env: Record<string, string>) => Promise<number>,
): Promise<number> {
  const timing = envTiming();
  const sim = await startSimulation({
    root: opts.root,
    ...(opts.nodes !== undefined ? { nodes: opts.nodes } : {}),
    seedConfigs: opts.seedConfigs ?? true,
    state: opts.settings.state,
    faults: opts.settings.faults,
    ...(timing ? { timing } : {}),
  });
  const onAbort = () => {
    void sim.stop();
  };
  // interrupted while the simulation was starting: nothing of the script has run
  if (opts.signal.aborted) {
    await sim.stop();
    throw new InterruptedError();
  }
  opts.signal.addEventListener("abort", onAbort, { once: true });
  try {
    opts.out.log(simBanner(sim.cluster.topology.nodes.length, { state: sim.cluster.state, faults: sim.cluster.faults.list() }));
    for (const w of sim.cluster.topology.warnings ?? []) opts.out.warn(`simulation: ${w}`);
    opts.out.debug(`simulated Kubernetes API ${sim.kubeApi.url}; files in ${sim.dir}`);
    return await fn(sim.env);
  } finally {
    opts.signal.removeEventListener("abort", onAbort);
    await sim.stop();
  }
}
