import { defineScript, WAIT_FLAGS } from "../lib/cli/index.ts";

export default defineScript(import.meta, {
  name: "apps-deploy-cilium",
  area: "apps",
  summary: "install Cilium from its HelmRelease before Flux, wait for every node Ready, apply the LB pools and BGP objects",
  description: `
Phase 3 of bootstrap-phased alone. The chart, version and values come from kubernetes/apps/kube-system/cilium's
HelmRelease (piped to helm on stdin), so Flux later adopts the same release unchanged. Waits (watching the API)
for the Cilium workloads, every node Ready and the Cilium CRDs Established, then applies the repo's
CiliumLoadBalancerIPPools and BGP objects server-side. Safe to rerun: an installed release at the same version
is not reinstalled.`,
  replaces: ["apps:deploy-cilium"],
  live: true,
  mutates: true,
  flags: { ...WAIT_FLAGS },
  examples: ["bun scripts/apps-deploy-cilium.ts", "bun scripts/apps-deploy-cilium.ts --dry-run", "bun scripts/apps-deploy-cilium.ts --simulate"],
  async run(rc) {
    // loaded here, not at the top: --help and flag errors answer without the library
    const [
      { networkingPhase, deployCilium },
      { bootstrapContext, reportPhase },
    ] = await Promise.all([
      import("../lib/bootstrap/phases/networking.ts"),
      import("../lib/bootstrap/script.ts"),
    ]);
    const ctx = bootstrapContext(rc, rc.flags);
    try {
      const started = performance.now();
      await deployCilium(ctx);
      return await reportPhase(rc, networkingPhase, ctx, started);
    } finally {
      ctx.close();
    }
  },
});
