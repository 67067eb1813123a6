import { defineScript, ExitCode, UsageError, WAIT_FLAGS } from "../lib/cli/index.ts";

const COMPONENTS = ["secrets", "external-secrets", "connect", "store", "longhorn"] as const;
type Component = (typeof COMPONENTS)[number];

export default defineScript(import.meta, {
  name: "apps-deploy-core",
  area: "apps",
  summary: "install the core services before Flux: Connect secrets, External Secrets, 1Password Connect, the store, Longhorn",
  description: `
Phase 4 of bootstrap-phased alone. Each chart, version and values come from its HelmRelease in kubernetes/ (values
on helm's stdin). Order: the 1Password Connect credentials and token Secrets (from op, in memory), External Secrets
Operator, 1Password Connect, the ClusterSecretStore until Ready, Longhorn. --component limits it to some of them
(secrets, external-secrets, connect, store, longhorn); releases already deployed at their version are left alone.`,
  replaces: ["apps:deploy-core", "apps:deploy-external-secrets", "apps:deploy-onepassword-connect", "apps:deploy-longhorn"],
  live: true,
  mutates: true,
  flags: {
    component: {
      type: "string",
      multiple: true,
      placeholder: "name",
      description: `only these: ${COMPONENTS.join(", ")}`,
    },
    ...WAIT_FLAGS,
  },
  examples: [
    "bun scripts/apps-deploy-core.ts",
    "bun scripts/apps-deploy-core.ts --component longhorn",
    "bun scripts/apps-deploy-core.ts --component external-secrets --component connect --dry-run",
  ],
  async run(rc) {
    // loaded here, not at the top: --help and flag errors answer without the library
    const [
      { corePhase, deployCore },
      { bootstrapContext, reportPhase },
    ] = await Promise.all([
      import("../lib/bootstrap/phases/core.ts"),
      import("../lib/bootstrap/script.ts"),
    ]);
    const picked = rc.flags.component.flatMap((c) => c.split(",")).map((c) => c.trim()).filter(Boolean);
    for (const c of picked)
      if (!(COMPONENTS as readonly string[]).includes(c))
        throw new UsageError(`--component must be one of ${COMPONENTS.join(", ")}, not "${c}"`);
    const only = picked.length ? new Set(picked as Component[]) : undefined;
    const ctx = bootstrapContext(rc, rc.flags);
    try {
      await deployCore(ctx, only);
      if (rc.dryRun) {
        if (rc.json) rc.out.result({ ok: true, dryRun: true });
        else rc.out.line("dry run: nothing was changed");
        return ExitCode.ok;
      }
      if (only) {
        if (rc.json) rc.out.result({ ok: true, components: [...only] });
        else rc.out.line(`${rc.out.mark("ok")} ${[...only].join(", ")} in place`);
        return ExitCode.ok;
      }
      return await reportPhase(rc, corePhase, ctx);
    } finally {
      ctx.close();
    }
  },
});
