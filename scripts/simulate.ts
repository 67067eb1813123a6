import { defineScript, UsageError } from "../lib/cli/index.ts";
import { FAULT_HELP, startSimulation } from "../lib/sim/index.ts";

export default defineScript(import.meta, {
  name: "simulate",
  area: "dev",
  summary: "run the simulated cluster in the foreground and print the environment to point kubectl, talosctl and scripts at it",
  description: `
Starts this repo's cluster as a simulation (a Kubernetes API with mutual TLS, Talos machines, and stand-in talosctl,
talhelper, op, helm, flux and vtysh executables) and prints the lines to source in another shell:
  eval "$(bun scripts/simulate.ts)"   # in the background shell, or copy the export lines
Then kubectl, talosctl and every script work against it. Ctrl-C stops it and removes everything it created.
Faults (--fault, repeatable): ${Object.keys(FAULT_HELP).join(", ")}.`,
  replaces: [],
  flags: {
    nodes: { type: "string", placeholder: "n", description: "number of nodes (scale out the repo's topology)" },
    state: {
      type: "string",
      placeholder: "state",
      description: "bare: nodes in maintenance; talos: configured with etcd, no CNI; bootstrapped: Ready nodes",
      choices: ["bare", "talos", "bootstrapped"],
      default: "bare",
    },
    fault: { type: "string", multiple: true, placeholder: "fault", description: "inject a fault, e.g. unreachable=mini02" },
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
  ],
  async run({ flags, out, root, signal, json }) {
    const nodes = flags.nodes === undefined ? undefined : Number(flags.nodes);
    if (nodes !== undefined && (!Number.isInteger(nodes) || nodes < 1))
      throw new UsageError(`--nodes must be a whole number of at least 1, not "${flags.nodes}"`);
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
      state: flags.state as "bare" | "talos" | "bootstrapped",
      faults: flags.fault,
      timing: { scale },
    });
    try {
      const quote = (v: string) => `'${v.replaceAll("'", `'\\''`)}'`;
      if (json) out.result({ env: sim.env, dir: sim.dir, nodes: sim.cluster.topology.nodes.map((n) => n.hostname) });
      else for (const [k, v] of Object.entries(sim.env)) out.stdout.write(`export ${k}=${quote(v)}\n`);
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
      await sim.stop();
    }
    out.log("simulated cluster stopped, files removed");
    return 0;
  },
});
