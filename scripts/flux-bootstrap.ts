import { defineScript, WAIT_FLAGS } from "../lib/cli/index.ts";

export default defineScript(import.meta, {
  name: "flux-bootstrap",
  area: "flux",
  summary: "install Flux at the pinned version and point it at this repository (Git credentials from 1Password)",
  description: `
Phase 5 of bootstrap-phased alone: \`flux install\` at the version pinned in .mise.toml, the Git credentials the
repo's GitRepository names (GitHub token, or deploy key for ssh:// URLs) read from 1Password and written as a
Secret through the Kubernetes API (never a command line or a file), then the GitRepository and root
Kustomizations of kubernetes/flux/ applied and watched until Ready.`,
  replaces: ["flux:bootstrap", "gitops:bootstrap"],
  live: true,
  mutates: true,
  flags: { ...WAIT_FLAGS },
  examples: ["bun scripts/flux-bootstrap.ts", "bun scripts/flux-bootstrap.ts --dry-run"],
  async run(rc) {
    // loaded here, not at the top: --help and flag errors answer without the library
    const [
      { bootstrapFlux, gitopsPhase },
      { bootstrapContext, reportPhase },
    ] = await Promise.all([
      import("../lib/bootstrap/phases/gitops.ts"),
      import("../lib/bootstrap/script.ts"),
    ]);
    const ctx = bootstrapContext(rc, rc.flags);
    try {
      await bootstrapFlux(ctx);
      return await reportPhase(rc, gitopsPhase, ctx);
    } finally {
      ctx.close();
    }
  },
});
