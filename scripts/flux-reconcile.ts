import { defineScript, ExitCode, UsageError, WAIT_FLAGS } from "../lib/cli/index.ts";
import type { Waiting } from "../lib/cli/output.ts";
import type { FluxApi, Target } from "../lib/flux/ops.ts";

export default defineScript(import.meta, {
  name: "flux-reconcile",
  area: "flux",
  summary: "reconcile Flux now (source, then the root Kustomizations), or suspend/resume every Kustomization and HelmRelease",
  description: `
Without flags: asks Flux to reconcile the repo's GitRepository and root Kustomizations (kubernetes/flux/), or the
Kustomizations named as arguments, and watches each until the controller has handled the request and it is Ready.
--suspend / --resume: sets spec.suspend on every Kustomization and HelmRelease on the cluster (or the named
Kustomizations), e.g. around maintenance. --suspend lists every object it would suspend and asks for "suspend"
to be typed back (or --yes); --dry-run lists them and changes nothing.`,
  replaces: ["flux:reconcile", "flux:suspend", "flux:resume"],
  args: "[kustomization...]",
  live: true,
  mutates: true,
  flags: {
    suspend: { type: "boolean", description: "suspend every Kustomization and HelmRelease (or the named Kustomizations)" },
    resume: { type: "boolean", description: "resume every Kustomization and HelmRelease (or the named Kustomizations)" },
    namespace: { type: "string", short: "n", placeholder: "ns", default: "flux-system", description: "namespace of named Kustomizations" },
    timeout: WAIT_FLAGS.timeout,
  },
  examples: [
    "bun scripts/flux-reconcile.ts",
    "bun scripts/flux-reconcile.ts cluster-apps",
    "bun scripts/flux-reconcile.ts --suspend",
    "bun scripts/flux-reconcile.ts --resume",
  ],
  async run(rc) {
    // loaded here, not at the top: --help and flag errors answer without the library
    const [
      { syncDocuments },
      { bootstrapContext },
      { allTargets, readinessOfTargets, reconcile, setSuspended, targetLabel },
    ] = await Promise.all([
      import("../lib/bootstrap/phases/gitops.ts"),
      import("../lib/bootstrap/script.ts"),
      import("../lib/flux/ops.ts"),
    ]);
    const { flags, args, out, json } = rc;
    if (flags.suspend && flags.resume) throw new UsageError("--suspend and --resume cannot be used together");
    const ctx = bootstrapContext(rc, { timeout: flags.timeout });
    try {
      const api = (await ctx.kube()) as unknown as FluxApi;
      const named: Target[] = args.map((name) => ({ kind: "Kustomization", name, namespace: flags.namespace }));
      if (flags.suspend || flags.resume) {
        const targets = named.length ? named : await allTargets(api, ["Kustomization", "HelmRelease"]);
        if (flags.suspend) {
          // a suspended object stops being reconciled until resumed: list them, then ask (or --yes)
          for (const t of targets) out.line(`${rc.dryRun ? "[dry-run] " : ""}suspend ${targetLabel(t)}`);
          if (targets.length === 0) out.line("nothing to suspend: no Kustomization or HelmRelease on the cluster");
          else if (!rc.dryRun) await rc.confirm(`suspend ${targets.length} Flux object${targets.length === 1 ? "" : "s"} (listed above): Flux stops applying them until --resume`, "suspend");
        }
        const changed = await setSuspended(api, targets, flags.suspend);
        const verb = flags.suspend ? "suspended" : "resumed";
        if (json) out.result({ ok: true, dryRun: rc.dryRun, [verb]: changed.map(targetLabel) });
        else if (!rc.dryRun) out.line(`${out.mark("ok")} ${verb} ${changed.length} object(s)${changed.length && changed.length <= 10 ? `: ${changed.map(targetLabel).join(", ")}` : ""}`);
        return ExitCode.ok;
      }
      let targets = named;
      if (targets.length === 0) {
        const { git, roots } = syncDocuments(ctx);
        targets = [git, ...roots].map((d) => ({ kind: d.kind as Target["kind"], name: d.name!, namespace: d.namespace ?? "flux-system" }));
      }
      const started = performance.now();
      for (const t of targets) out.log(`  · reconcile ${targetLabel(t)}`);
      // one progress line per target: what is awaited, for how long, the deadline
      let waiting: { label: string; w: Waiting } | undefined;
      await reconcile(api, targets, {
        timeoutMs: ctx.timeouts.waitMs,
        signal: rc.signal,
        dryRun: rc.dryRun,
        onProgress: (t, d) => {
          const label = targetLabel(t);
          if (waiting?.label !== label) {
            waiting?.w.done();
            waiting = { label, w: out.wait(`${label} to reconcile`, { deadlineMs: ctx.timeouts.waitMs }) };
          }
          waiting.w.update(d);
        },
      }).finally(() => waiting?.w.done());
      if (rc.dryRun) {
        if (json) out.result({ ok: true, dryRun: true, targets: targets.map(targetLabel) });
        else out.line("dry run: nothing was changed");
        return ExitCode.ok;
      }
      const states = await readinessOfTargets(api, targets);
      const ms = Math.round(performance.now() - started);
      if (json) out.result({ ok: states.every((s) => s.ready), totalMs: ms, targets: states });
      else for (const s of states) out.line(`${out.mark(s.ready ? "ok" : "fail")} ${s.kind} ${s.namespace}/${s.name}: ${s.ready ? "Ready" : s.line}`);
      return states.every((s) => s.ready) ? ExitCode.ok : ExitCode.failed;
    } finally {
      ctx.close();
    }
  },
});
