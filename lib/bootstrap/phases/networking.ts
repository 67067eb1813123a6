/**
 * Phase 3: Cilium from its HelmRelease (chart, version and values written once, in kubernetes/), its agent on every
 * node and every node Ready, the Cilium CRDs Established, then the LB-IPAM pools and BGP objects of kubernetes/.
 */
import type { RepoDocument } from "../../repo/model.ts";
import { nodesState } from "../checks.ts";
import { applyDocuments, helmReleases, installRelease, missingDocuments, releaseState, waitForKinds } from "../install.ts";
import type { BootstrapContext, Detection, Phase } from "../types.ts";

export const CILIUM_CHART = "cilium";

/** The LB pools and BGP objects of the repo, as documents to apply (their sources come from the model). */
export function networkDocuments(ctx: Pick<BootstrapContext, "model">): RepoDocument[] {
  const m = ctx.model;
  const sources = [
    ...m.pools.map((p) => p.source),
    ...m.bgp.clusterConfigs.map((x) => x.source),
    ...m.bgp.peerConfigs.map((x) => x.source),
    ...m.bgp.advertisements.map((x) => x.source),
    ...m.bgp.nodeConfigOverrides.map((x) => x.source),
  ];
  const docs: RepoDocument[] = [];
  for (const s of sources) {
    const d = m.documents.find((x) => x.file === s.file && x.line === s.line);
    if (d && !docs.includes(d)) docs.push(d);
  }
  return docs;
}

async function detect(ctx: BootstrapContext): Promise<Detection> {
  const missing: string[] = [];
  if (!(await ctx.kubeReachable())) return { done: false, summary: "the Kubernetes API does not answer yet", missing: ["Kubernetes API"] };
  const kube = await ctx.kube();
  const cilium = await releaseState(ctx, CILIUM_CHART, await helmReleases(ctx));
  if (!cilium.deployed || !cilium.rolledOut) missing.push(`Cilium: ${cilium.detail}`);
  const st = nodesState(await kube.list({ apiVersion: "v1", kind: "Node" }), ctx.model.nodes.map((n) => n.hostname));
  for (const h of [...st.missing, ...st.notReady]) missing.push(`node ${h} is not Ready`);
  const docs = networkDocuments(ctx);
  for (const d of await missingDocuments(kube, docs)) missing.push(`${d.kind} ${d.name} is not applied (${d.file})`);
  return {
    done: missing.length === 0,
    summary:
      missing.length === 0
        ? `Cilium ${cilium.install.version} on every node, ${ctx.model.nodes.length} nodes Ready, ${docs.length} pool/BGP objects applied`
        : `${missing.length} thing(s) to do`,
    missing,
  };
}

export const networkingPhase: Phase = {
  n: 3,
  id: "networking",
  title: "networking (Cilium)",
  detect,
  async run(ctx) {
    await deployCilium(ctx);
  },
  verify: detect,
};

/** The work of phase 3, also what `apps-deploy-cilium` runs. */
export async function deployCilium(ctx: BootstrapContext): Promise<void> {
  await installRelease(ctx, CILIUM_CHART);
  const kube = await ctx.kube();
  const want = ctx.model.nodes.map((n) => n.hostname);
  await ctx.wait(`all ${want.length} nodes Ready`, (onProgress) =>
    kube.waitFor(
      { apiVersion: "v1", kind: "Node" },
      (items) => {
        const st = nodesState(items, want);
        const waiting = [...st.missing, ...st.notReady];
        return { done: waiting.length === 0, detail: waiting.length ? `not Ready: ${waiting.join(", ")}` : "" };
      },
      { what: "all nodes Ready", timeoutMs: ctx.timeouts.waitMs, signal: ctx.signal, onProgress },
    ),
  );
  const docs = networkDocuments(ctx);
  await waitForKinds(ctx, kube, docs, "Cilium LB-IPAM and BGP");
  await applyDocuments(ctx, kube, docs);
}
