import { defineScript, ExitCode } from "../lib/cli/index.ts";
import { bootstrapFlux, gitopsPhase } from "../lib/bootstrap/phases/gitops.ts";
import { bootstrapContext, TIMEOUT_FLAGS } from "../lib/bootstrap/script.ts";

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
  flags: { ...TIMEOUT_FLAGS },
  examples: ["bun scripts/flux-bootstrap.ts", "bun scripts/flux-bootstrap.ts --dry-run"],
  async run(rc) {
    const ctx = bootstrapContext(rc, rc.flags);
    try {
      await bootstrapFlux(ctx);
      if (rc.dryRun) {
        if (rc.json) rc.out.result({ ok: true, dryRun: true });
        else rc.out.line("dry run: nothing was changed");
        return ExitCode.ok;
      }
      const v = await gitopsPhase.verify(ctx);
      if (rc.json) rc.out.result({ ok: v.done, summary: v.summary, missing: v.missing });
      else {
        rc.out.line(`${rc.out.mark(v.done ? "ok" : "fail")} ${v.summary}`);
        for (const m of v.missing) rc.out.line(`  - ${m}`);
      }
      return v.done ? ExitCode.ok : ExitCode.failed;
    } finally {
      ctx.close();
    }
  },
});
