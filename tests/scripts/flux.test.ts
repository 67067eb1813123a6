/**
 * flux-bootstrap and flux-reconcile as processes against lib/sim, on a cluster bootstrapped up to Flux.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { syncDocuments } from "../../lib/bootstrap/phases/gitops.ts";
import { loadRepo } from "../../lib/repo/model.ts";
import { run, setup, type Env } from "./bootstrap-harness.ts";

const envs: Env[] = [];
afterAll(async () => {
  await Promise.all(envs.map((e) => e.stop()));
});

describe("flux-bootstrap and flux-reconcile", () => {
  test("--suspend with --resume is a usage error, nothing changed", async () => {
    const e = await setup({ timing: { scale: 0.005 } });
    envs.push(e);
    const calls = e.sim.cluster.tools.calls.length;
    const rv = e.sim.cluster.store.resourceVersion;
    const r = await run(e, "flux-reconcile", ["--suspend", "--resume"]);
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toBe("error: --suspend and --resume cannot be used together");
    // nothing called and nothing written while it ran (the simulation's own controllers may use the stand-ins)
    expect(e.sim.cluster.tools.calls.slice(calls).filter((c) => c.tool === "flux")).toEqual([]);
    expect(e.sim.cluster.store.resourceVersion).toBe(rv);
  }, 60_000);

  test(
    "after a bootstrap: flux-bootstrap is a no-op, reconcile waits for each object, suspend/resume flip every object",
    async () => {
      const e = await setup({ state: "bootstrapped", timing: { scale: 0.005 } });
      envs.push(e);
      const b = await run(e, "bootstrap-phased", ["--from", "3", "--timeout", "120s"], { timeoutMs: 400_000 });
      expect(b.stderr).not.toContain("error:");
      expect(b.code).toBe(0);
      const store = e.sim.cluster.store;

      const before = e.sim.cluster.tools.calls.length;
      const again = await run(e, "flux-bootstrap", []);
      expect(again.code).toBe(0);
      expect(again.stderr).toContain(`Flux ${loadRepo(e.root).versions.flux.value.replace(/^v/, "")} controllers already running`);
      expect(e.sim.cluster.tools.calls.slice(before).filter((c) => c.tool === "flux" && c.argv[0] === "install")).toEqual([]);

      const rec = await run(e, "flux-reconcile", ["--json"]);
      expect(rec.stderr).not.toContain("error:");
      expect(rec.code).toBe(0);
      const doc = JSON.parse(rec.stdout) as { ok: boolean; targets: Array<{ kind: string; name: string; ready: boolean }> };
      const { git, roots } = syncDocuments({ model: loadRepo(e.root) });
      expect(doc.targets.map((t) => `${t.kind}/${t.name}`)).toEqual([git, ...roots].map((d) => `${d.kind}/${d.name}`));
      expect(doc.targets.every((t) => t.ready)).toBe(true);
      const apps = store.get("kustomizations.kustomize.toolkit.fluxcd.io", "cluster-apps", "flux-system");
      expect(apps.status?.lastHandledReconcileAt).toBe(apps.metadata.annotations?.["reconcile.fluxcd.io/requestedAt"]);

      const suspended = () =>
        [
          ...store.list("kustomizations.kustomize.toolkit.fluxcd.io").items,
          ...store.list("helmreleases.helm.toolkit.fluxcd.io").items,
        ].map((o) => o.spec?.suspend === true);
      const total = suspended().length;
      expect(total).toBeGreaterThan(0);
      // the dry run lists exactly what would be suspended and changes nothing; without --yes (no terminal) it refuses
      const dry = await run(e, "flux-reconcile", ["--suspend", "--dry-run"]);
      expect(dry.code).toBe(0);
      expect(dry.stdout.split("\n").filter((l) => l.startsWith("[dry-run] suspend ")).length).toBe(total);
      expect(suspended().some(Boolean)).toBe(false);
      const ask = await run(e, "flux-reconcile", ["--suspend"]);
      expect(ask.code).toBe(2);
      expect(ask.stderr).toContain(`refusing to suspend ${total} Flux objects`);
      expect(suspended().some(Boolean)).toBe(false);
      const s = await run(e, "flux-reconcile", ["--suspend", "--yes"]);
      expect(s.code).toBe(0);
      expect(suspended().every(Boolean)).toBe(true);
      const refused = await run(e, "flux-reconcile", ["cluster-apps"]);
      // a precondition found before anything changed: exit 2
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain("is suspended");
      const res = await run(e, "flux-reconcile", ["--resume"]);
      expect(res.code).toBe(0);
      expect(suspended().some(Boolean)).toBe(false);

      const missing = await run(e, "flux-reconcile", ["no-such-ks"]);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain("Kustomization flux-system/no-such-ks is not on the cluster");
    },
    600_000,
  );
});
