import { defineScript, ExitCode, formatDuration, WAIT_FLAGS, LOCK_FLAGS } from "../lib/cli/index.ts";
import type { PhaseResult } from "../lib/bootstrap/index.ts";

export default defineScript(import.meta, {
  name: "bootstrap-phased",
  area: "bootstrap",
  summary: "bootstrap the cluster from bare Talos nodes to every Flux Kustomization Ready, in six resumable phases",
  description: `
Phases: 1 environment (tools, .env, 1Password, repo valid), 2 Talos (configs, apply, etcd, kubeconfig, nodes
registered), 3 networking (Cilium from its HelmRelease, nodes Ready, LB pools and BGP), 4 core services (1Password
Connect secrets, External Secrets, 1Password Connect, ClusterSecretStore, Longhorn), 5 GitOps (Flux), 6 applications
(every Kustomization and HelmRelease Ready).
Each phase reads the live cluster to see whether it is done and is skipped when it is, so after Ctrl-C, a crash or a
reset, running again continues from what the cluster shows. Secrets go from 1Password to the Kubernetes API in
memory only. Holds the cluster's maintenance lock (the Lease once the API answers, before that the lock file in
.home-ops/): while another operation holds it, this one exits 2 naming it.`,
  replaces: [
    "bootstrap:phased",
    "bootstrap:resume",
    "bootstrap:status",
    "bootstrap:validate-phase",
    "bootstrap:phase-N",
    "bootstrap:force-phase",
  ],
  live: true,
  simState: "bare",
  simGeneratesConfigs: true,
  mutates: true,
  flags: {
    status: { type: "boolean", description: "show each phase and what the cluster shows for it; change nothing" },
    from: { type: "integer", min: 1, max: 6, placeholder: "n", description: "start at phase n" },
    only: { type: "integer", min: 1, max: 6, placeholder: "n", description: "run only phase n, even when it looks done (its steps are idempotent)" },
    ...WAIT_FLAGS,
    ...LOCK_FLAGS,
  },
  examples: [
    "bun scripts/bootstrap-phased.ts --simulate",
    "bun scripts/bootstrap-phased.ts --status",
    "bun scripts/bootstrap-phased.ts --dry-run",
    "bun scripts/bootstrap-phased.ts --from 3",
    "bun scripts/bootstrap-phased.ts --only 4",
  ],
  async run(rc) {
    // loaded here, not at the top: --help and flag errors answer without the library
    const [
      { Journal, PHASES, runBootstrap, statusOf },
      { bootstrapContext, printResults },
      { KubeClient },
      { withMaintenanceLock },
    ] = await Promise.all([
      import("../lib/bootstrap/index.ts"),
      import("../lib/bootstrap/script.ts"),
      import("../lib/kube/client.ts"),
      import("../lib/safety/lock.ts"),
    ]);
    const { flags, out, json, root } = rc;
    const { from, only } = flags;
    const ctx = bootstrapContext(rc, flags);
    const journal = new Journal(root, rc.env);
    try {
      if (flags.status) {
        const results = await statusOf(ctx, { from, only });
        const last = journal.last();
        if (json) {
          out.result({
            phases: results.map((r) => ({ ...r, lastRun: last.get(r.n) ?? null })),
            done: results.every((r) => r.result === "done"),
          });
          return ExitCode.ok;
        }
        out.printTable(
          ["phase", "result", "what the cluster shows", "last run (journal)"],
          results.map((r) => {
            const j = last.get(r.n);
            return [`${r.n} ${r.title}`, r.result, r.summary, j ? `${j.event} ${j.at}` : "-"];
          }),
        );
        for (const r of results) for (const m of r.missing.slice(0, 5)) out.line(`  ${r.n}: ${m}`);
        const next = results.find((r) => r.result !== "done");
        out.line(next ? `next: phase ${next.n} (${next.title})` : "every phase is done");
        return ExitCode.ok;
      }
      let run: { results: PhaseResult[]; totalMs: number };
      try {
        const scope = { ...rc, breakLock: flags["break-lock"] };
        const operation = `bootstrap-phased${from ? ` --from ${from}` : ""}${only ? ` --only ${only}` : ""}`;
        run = await withMaintenanceLock(scope, { operation, via: "auto", kube: () => KubeClient.fromEnv(rc.env) }, () =>
          runBootstrap(ctx, { from, only, journal: rc.dryRun ? undefined : journal }),
        );
      } catch (e) {
        const partial = e as { results?: PhaseResult[]; totalMs?: number };
        if (json && partial.results)
          out.result({
            ok: false,
            dryRun: rc.dryRun,
            phases: partial.results,
            totalMs: Math.round(partial.totalMs ?? 0),
          });
        if (partial.totalMs !== undefined) out.log(`stopped after ${formatDuration(partial.totalMs)}`);
        throw e;
      }
      if (json) {
        out.result({ ok: true, dryRun: rc.dryRun, phases: run.results, totalMs: Math.round(run.totalMs) });
        return ExitCode.ok;
      }
      out.line();
      printResults(out, run.results, run.totalMs);
      const ran = run.results.filter((r) => r.result === "ran").length;
      if (rc.dryRun) out.line("dry run: nothing was changed");
      else if (ran === 0) out.line(`every phase was already done: nothing changed (${PHASES.length === run.results.length ? "all phases" : "selected phases"})`);
      return ExitCode.ok;
    } finally {
      ctx.close();
    }
  },
});
