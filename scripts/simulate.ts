import { defineScript, UsageError } from "../lib/cli/index.ts";
import { FAULT_HELP } from "../lib/sim/fault-help.ts";
import { SIM_STATES, type SimState } from "../lib/sim/states.ts";

export default defineScript(import.meta, {
  name: "simulate",
  area: "dev",
  summary: "run the simulated cluster in the foreground and print the environment to point kubectl, talosctl and scripts at it",
  description: `
Starts this repo's cluster as a simulation (a Kubernetes API with mutual TLS, Talos machines, and stand-in talosctl,
talhelper, op, helm, flux and vtysh executables), prints the export lines (KUBECONFIG, TALOSCONFIG, PATH, ...)
and keeps running. In another shell, paste them, or start it with --env-file and \`source\` that file; then kubectl,
talosctl and every script work against it. Ctrl-C stops it and removes everything it created.
Faults (--fault, repeatable): ${Object.keys(FAULT_HELP).join(", ")}.`,
  replaces: [],
  untilStopped: true,
  flags: {
    nodes: { type: "integer", min: 1, max: 1000, placeholder: "n", description: "number of nodes (scale out the repo's topology)" },
    state: {
      type: "string",
      placeholder: "state",
      description:
        "bare: nodes in maintenance; configured: configs applied, etcd waits for the bootstrap; talos: etcd and API, no CNI; bootstrapped: Ready nodes; complete: the repo's GitOps state reconciled",
      choices: SIM_STATES,
      default: "bare",
    },
    fault: { type: "string", multiple: true, placeholder: "fault", description: "inject a fault, e.g. unreachable=mini02" },
    "env-file": {
      type: "string",
      placeholder: "path",
      description: "also write the export lines to this file (0600; removed on exit), to `source` in another shell",
    },
    "time-scale": {
      type: "string",
      placeholder: "x",
      description: "delay factor against real durations (0 = instant)",
      default: "0.02",
    },
  },
  examples: [
    "bun scripts/simulate.ts",
    "bun scripts/simulate.ts --nodes 5 --state bootstrapped",
    "bun scripts/simulate.ts --fault unreachable=mini02 --fault op-signed-out",
    "bun scripts/simulate.ts --env-file .home-ops/sim.env   # then, elsewhere: source .home-ops/sim.env",
  ],
  async run({ flags, out, root, signal, json }) {
    // loaded here, not at the top: --help and flag errors answer without the library
    const path = await import("node:path");
    const [
      { mkdirSync, rmSync, writeFileSync },
      { startSimulation },
    ] = await Promise.all([
      import("node:fs"),
      import("../lib/sim/index.ts"),
    ]);
    const nodes = flags.nodes;
    const envFile = flags["env-file"] === undefined ? undefined : path.resolve(flags["env-file"]);
    const scale = Number(flags["time-scale"]);
    if (!Number.isFinite(scale) || scale < 0)
      throw new UsageError(`--time-scale must be a number of at least 0, not "${flags["time-scale"]}"`);
    // Ctrl-C (the signal) or SIGTERM ends the simulation; listen before anything is printed
    let onTerm = () => {};
    const stopRequested = new Promise<void>((resolve) => {
      onTerm = () => resolve();
      process.once("SIGTERM", onTerm);
      if (signal.aborted) resolve();
      else signal.addEventListener("abort", () => resolve(), { once: true });
    });
    const sim = await startSimulation({
      root,
      ...(nodes !== undefined ? { nodes } : {}),
      state: flags.state as SimState,
      faults: flags.fault,
      timing: { scale },
    });
    try {
      const quote = (v: string) => `'${v.replaceAll("'", `'\\''`)}'`;
      const exports = Object.entries(sim.env).map(([k, v]) => `export ${k}=${quote(v)}\n`).join("");
      if (envFile) {
        mkdirSync(path.dirname(envFile), { recursive: true });
        writeFileSync(envFile, exports, { mode: 0o600 });
      }
      if (json) out.result({ ok: true, env: sim.env, dir: sim.dir, nodes: sim.cluster.topology.nodes.map((n) => n.hostname), ...(envFile ? { envFile } : {}) }, { now: true });
      else out.stdout.write(exports);
      for (const w of sim.cluster.topology.warnings ?? []) out.warn(w);
      const t = sim.cluster.topology;
      out.log(
        `simulated cluster "${t.clusterName}": ${t.nodes.length} nodes (${t.nodes.map((n) => `${n.hostname} ${n.ipv4}`).join(", ")}), state ${sim.cluster.state}`,
      );
      if (sim.cluster.faults.list().length) out.log(`faults: ${sim.cluster.faults.list().join(", ")}`);
      out.log(`Kubernetes API ${sim.kubeApi.url}; files in ${sim.dir}. Ctrl-C stops it and removes them.`);
      await stopRequested;
    } finally {
      process.off("SIGTERM", onTerm);
      if (envFile) rmSync(envFile, { force: true });
      await sim.stop();
    }
    out.log("simulated cluster stopped, files removed");
    return 0;
  },
});
