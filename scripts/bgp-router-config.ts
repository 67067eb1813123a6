import { defineScript, UsageError } from "../lib/cli/index.ts";
import type { NeighborMode } from "../lib/bgp/router-config.ts";

export default defineScript(import.meta, {
  name: "bgp-router-config",
  area: "bgp",
  summary: "render the UniFi/FRR BGP config for the router from the repo (ASNs, listen ranges, LB-pool route-maps)",
  description: `
Reads the CiliumBGPClusterConfig peers, the node subnets and the LoadBalancer pools from talos/ and kubernetes/ and
renders the FRR configuration to upload in UniFi Network (Settings > Routing > BGP): one peer group per address
family fed by \`bgp listen range\` over the node subnet (Cilium only dials out) or one neighbor per node, inbound
route-maps whose prefix-lists permit exactly the pools' host routes (this satisfies FRR's ebgp-requires-policy,
without which the router accepts nothing), nothing advertised back, maximum-paths = node count, and
soft-reconfiguration inbound so \`show bgp ipv4 unicast neighbors <ip> received-routes\` shows rejected routes.`,
  replaces: ["bgp:generate-config", "bgp:show-config"],
  flags: {
    out: { type: "string", placeholder: "file", description: "write the configuration to this file instead of stdout" },
    mode: {
      type: "string",
      placeholder: "mode",
      description: "how the router finds the nodes",
      choices: ["listen-range", "per-node"],
      default: "listen-range",
    },
  },
  examples: [
    "bun scripts/bgp-router-config.ts",
    "bun scripts/bgp-router-config.ts --out udm-bgp.conf",
    "bun scripts/bgp-router-config.ts --mode per-node --json | jq .plan.families",
  ],
  async run({ flags, out, root, json }) {
    // loaded here, not at the top: --help and flag errors answer without the library
    const path = await import("node:path");
    const [
      { writeFileSync },
      { planRouterConfig, renderPlan },
      { loadRepo },
    ] = await Promise.all([
      import("node:fs"),
      import("../lib/bgp/router-config.ts"),
      import("../lib/repo/model.ts"),
    ]);
    const model = loadRepo(root);
    const plan = planRouterConfig(model, { mode: flags.mode as NeighborMode });
    const text = renderPlan(plan);
    for (const w of plan.warnings) out.warn(w);
    if (flags.out !== undefined) {
      if (flags.out.trim() === "") throw new UsageError("--out needs a file name");
      const file = path.resolve(flags.out);
      try {
        writeFileSync(file, text);
      } catch (e) {
        throw new UsageError(`cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      if (json) out.result({ file, plan });
      else out.log(`wrote ${file} (${text.split("\n").length - 1} lines): upload it in UniFi Network > Settings > Routing > BGP`);
      return;
    }
    if (json) out.result({ plan, config: text });
    else out.stdout.write(text);
  },
});
