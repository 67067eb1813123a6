/**
 * Phase 6: every Flux Kustomization and HelmRelease the repo defines Ready on the cluster. Flux does the work; this
 * phase watches and, when the deadline passes, lists what is not Ready with its message.
 */
import { OperationError } from "../../cli/errors.ts";
import { describeNotReady, expectedFluxObjects, fluxReport, HELMRELEASE, KUSTOMIZATION, type FluxReport } from "../../flux/index.ts";
import type { KubeApi } from "../kube.ts";
import type { BootstrapContext, Detection, Phase } from "../types.ts";

export async function fluxState(ctx: BootstrapContext, kube: KubeApi): Promise<FluxReport> {
  const [ks, hr] = await Promise.all([kube.list({ ...KUSTOMIZATION }), kube.list({ ...HELMRELEASE })]);
  return fluxReport(expectedFluxObjects(ctx.model), [...ks, ...hr]);
}

async function detect(ctx: BootstrapContext): Promise<Detection> {
  if (!(await ctx.kubeReachable())) return { done: false, summary: "the Kubernetes API does not answer yet", missing: ["Kubernetes API"] };
  const kube = await ctx.kube();
  const r = await fluxState(ctx, kube);
  const ks = r.items.filter((i) => i.kind === "Kustomization");
  const hr = r.items.filter((i) => i.kind === "HelmRelease");
  return {
    done: r.ready,
    summary: `${ks.filter((i) => i.ready).length}/${ks.length} Kustomizations and ${hr.filter((i) => i.ready).length}/${hr.length} HelmReleases Ready`,
    missing: r.notReady.map(describeNotReady),
  };
}

/** Watches until everything the repo defines is Ready; on the deadline, lists what is not. */
export async function waitApplications(ctx: BootstrapContext): Promise<void> {
  const kube = await ctx.kube();
  const expected = expectedFluxObjects(ctx.model);
  for (const [ref, kind] of [
    [KUSTOMIZATION, "Kustomization"],
    [HELMRELEASE, "HelmRelease"],
  ] as const) {
    const want = expected.filter((e) => e.kind === kind);
    if (want.length === 0) continue;
    try {
      await ctx.wait(`${want.length} ${kind}s to be Ready`, (onProgress) =>
        kube.waitFor(
          { ...ref },
          (items) => {
            const r = fluxReport(want, items);
            const first = r.notReady[0];
            return {
              done: r.ready,
              detail: `${want.length - r.notReady.length}/${want.length} Ready${first ? `; waiting for ${describeNotReady(first)}` : ""}`,
            };
          },
          { what: `all ${kind}s Ready`, timeoutMs: ctx.timeouts.waitMs, signal: ctx.signal, onProgress },
        ),
      );
    } catch (e) {
      if (ctx.signal.aborted || !(e instanceof OperationError)) throw e;
      const r = await fluxState(ctx, kube);
      for (const n of r.notReady) ctx.out.log(`  ${ctx.out.mark("fail")} ${describeNotReady(n)}`);
      throw new OperationError(
        `${r.notReady.length} Flux object(s) are not Ready (listed above)`,
        "fix what their messages say and run again, or `bun scripts/flux-reconcile.ts` once fixed",
      );
    }
  }
}

export const applicationsPhase: Phase = {
  n: 6,
  id: "applications",
  title: "applications",
  detect,
  run: waitApplications,
  verify: detect,
};
