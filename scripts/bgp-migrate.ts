import { defineScript, ExitCode, UsageError } from "../lib/cli/index.ts";
import type { BgpInputs } from "../lib/bgp/index.ts";

export default defineScript(import.meta, {
  name: "bgp-migrate",
  area: "bgp",
  summary: "turn the legacy CiliumBGPPeeringPolicy (BGP v1) into equivalent BGP v2 objects, proved announcement by announcement",
  description: `
Reads the CiliumBGPPeeringPolicy objects (from the repo, or with --live from the cluster) and writes the BGP v2
objects that do the same: per policy a CiliumBGPClusterConfig (same nodeSelector, one instance per virtual router
that runs), per neighbor a CiliumBGPPeerConfig (session settings, families), per virtual router a
CiliumBGPAdvertisement (its serviceSelector, serviceAdvertisements, exportPodCIDR). Before writing, both
configurations go through the Cilium rulebook (lib/bgp): the expected announcements per node, peer and prefix must
be the same; otherwise it lists each difference and why, writes nothing and exits 1 (--accept-differences writes
anyway). Then add the file to its kustomization, let Flux apply it (inert while the policy exists: v1 wins per
node), and delete the policy: each switch resets the BGP sessions.`,
  replaces: [],
  mutates: true,
  live: true,
  flags: {
    live: { type: "boolean", description: "read the policies and Services from the cluster instead of the repo" },
    out: { type: "string", placeholder: "file", description: "write the v2 objects here (default: bgp-v2.yaml next to the first policy's file)" },
    "accept-differences": { type: "boolean", description: "write the v2 objects even when their announcements differ" },
  },
  examples: [
    "bun scripts/bgp-migrate.ts --dry-run",
    "bun scripts/bgp-migrate.ts",
    "bun scripts/bgp-migrate.ts --live --out kubernetes/apps/kube-system/cilium/config/bgp-v2.yaml",
    "bun scripts/bgp-migrate.ts --json | jq '.differences'",
  ],
  async run({ flags, out, root, json, dryRun, env }) {
    // loaded here, not at the top: --help and flag errors answer without the library
    const path = await import("node:path");
    const [
      { existsSync, readFileSync, writeFileSync },
      { stringify },
      { KubeClient },
      { loadRepo },
      { inputsFromModel, migrateV1, printMigrationPlan, readLiveInputs, renderMigration },
    ] = await Promise.all([
      import("node:fs"),
      import("yaml"),
      import("../lib/kube/index.ts"),
      import("../lib/repo/model.ts"),
      import("../lib/bgp/index.ts"),
    ]);
    let inputs: BgpInputs;
    let policyFile: string | undefined;
    if (flags.live) {
      const client = KubeClient.fromEnv(env);
      try {
        out.progress("reading the cluster's BGP objects");
        const live = await readLiveInputs(client);
        if (live.missingKinds.includes("CiliumBGPPeeringPolicy")) out.warn("the cluster serves no CiliumBGPPeeringPolicy (its CRD is not installed)");
        inputs = live.inputs;
      } finally {
        client.close();
      }
    } else {
      const model = loadRepo(root);
      inputs = inputsFromModel(model);
      policyFile = model.bgp.peeringPolicies[0]?.source.file;
    }
    if (inputs.peeringPolicies.length === 0) {
      if (json) out.result({ policies: [], objects: [], differences: [], equivalent: false, wrote: undefined, nothingToMigrate: true });
      else out.line(`${out.mark("info")} nothing to migrate: ${flags.live ? "the cluster has" : "the repo declares"} no CiliumBGPPeeringPolicy`);
      return ExitCode.ok;
    }
    const file = flags.out !== undefined ? path.resolve(flags.out) : policyFile ? path.join(root, path.dirname(policyFile), "bgp-v2.yaml") : undefined;
    if (flags.out !== undefined && flags.out.trim() === "") throw new UsageError("--out needs a file name");
    if (!file && !dryRun) throw new UsageError("with --live, say where to write the v2 objects: --out <file> (or look first with --dry-run)");
    const plan = migrateV1(inputs);
    const text = renderMigration(plan, stringify);
    const write = plan.equivalent || flags["accept-differences"] === true;
    if (dryRun && !json) {
      const old = file && existsSync(file) ? readFileSync(file, "utf8") : "";
      out.line(`would write ${file ?? "(no file given)"}${old ? " (replacing it)" : ""}:`);
      for (const l of text.split("\n").slice(0, -1)) out.line(`+ ${l}`);
      for (const l of old.split("\n").filter(Boolean)) if (!text.includes(l)) out.line(`- ${l}`);
    }
    if (json) out.result({ ...plan, file, wrote: !dryRun && write ? file : undefined });
    else printMigrationPlan(out, plan, file);
    if (!write) {
      if (!json) out.line(`${out.mark("fail")} nothing written: the v2 objects would announce something else (pass --accept-differences to write them anyway)`);
      return ExitCode.failed;
    }
    if (dryRun) return ExitCode.ok;
    try {
      writeFileSync(file!, text);
    } catch (e) {
      throw new UsageError(`cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (!json) out.line(`wrote ${file}: add it to its kustomization.yaml, let Flux apply it, then delete CiliumBGPPeeringPolicy ${plan.policies.join(", ")}`);
    return plan.equivalent ? ExitCode.ok : ExitCode.failed;
  },
});
