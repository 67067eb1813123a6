/**
 * apps-deploy-cilium, apps-deploy-core and bootstrap-1password-secrets as processes against lib/sim.
 */
import { afterAll, describe, expect, test } from "bun:test";
import path from "node:path";
import { loadRepo } from "../../lib/repo/model.ts";
import type { SimCluster } from "../../lib/sim/index.ts";
import { run, setup, VAULT, type Env } from "./bootstrap-harness.ts";

const model = loadRepo(path.resolve(import.meta.dir, "../.."));
const envs: Env[] = [];
afterAll(async () => {
  await Promise.all(envs.map((e) => e.stop()));
});
async function sim(opts: Parameters<typeof setup>[0] = {}) {
  const e = await setup({ timing: { scale: 0.005 }, ...opts });
  envs.push(e);
  return e;
}
const helmWrites = (c: SimCluster, from = 0) =>
  c.tools.calls.slice(from).filter((x) => x.tool === "helm" && ["upgrade", "install"].includes(x.argv[0] ?? "")).map((x) => x.argv.slice(0, 3).join(" "));

describe("apps-deploy-cilium", () => {
  test(
    "installs Cilium from its HelmRelease, nodes turn Ready, pools and BGP applied; a rerun installs nothing",
    async () => {
      const e = await sim({ state: "talos" });
      const r = await run(e, "apps-deploy-cilium", ["--timeout", "60s"]);
      expect(r.stderr).not.toContain("error:");
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Cilium \S+ on every node, 3 nodes Ready/);
      const install = e.sim.cluster.tools.calls.find((c) => c.tool === "helm" && c.argv[0] === "upgrade")!;
      const hr = model.helmReleases.find((h) => h.chart === "cilium")!;
      expect(install.argv).toEqual(expect.arrayContaining(["--version", hr.version!, "--values", "-"]));
      expect(e.sim.cluster.store.list("ciliumloadbalancerippools.cilium.io").items.length).toBe(model.pools.length);
      const before = e.sim.cluster.tools.calls.length;
      const again = await run(e, "apps-deploy-cilium", ["--json"]);
      expect(again.code).toBe(0);
      expect(JSON.parse(again.stdout).ok).toBe(true);
      expect(helmWrites(e.sim.cluster, before)).toEqual([]);
    },
    200_000,
  );

  test(
    "--dry-run prints the helm command and the writes, changes nothing",
    async () => {
      const e = await sim({ state: "talos" });
      const r = await run(e, "apps-deploy-cilium", ["--dry-run"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("[dry-run] helm upgrade --install cilium cilium");
      expect(r.stdout).toContain("[dry-run] wait for all 3 nodes Ready");
      expect(r.stdout).toMatch(/\[dry-run\] apply \S+ CiliumBGPClusterConfig/);
      expect(helmWrites(e.sim.cluster)).toEqual([]);
      expect(e.sim.cluster.store.list("daemonsets", { namespace: "kube-system" }).items).toEqual([]);
    },
    120_000,
  );
});

describe("bootstrap-1password-secrets", () => {
  test(
    "writes both Secrets from op, --check passes, a changed token is reported, a signed-out op says `op signin`",
    async () => {
      const e = await sim({ state: "bootstrapped" });
      const w = await run(e, "bootstrap-1password-secrets", []);
      expect(w.stderr).not.toContain("error:");
      expect(w.code).toBe(0);
      const creds = e.sim.cluster.store.get("secrets", "onepassword-connect-credentials", "external-secrets");
      const data = (creds as { data?: Record<string, string> }).data ?? {};
      const json = Buffer.from(Buffer.from(data["1password-credentials.json"]!, "base64").toString(), "base64").toString();
      expect(json).toBe(e.secrets["1password-connect/credentials"]!);
      const ok = await run(e, "bootstrap-1password-secrets", ["--check", "--json"]);
      expect(ok.code).toBe(0);
      expect(JSON.parse(ok.stdout).checks.every((c: { ok: boolean }) => c.ok)).toBe(true);
      for (const v of Object.values(e.secrets)) expect(ok.stdout + ok.stderr + w.stdout + w.stderr).not.toContain(v);

      const token = e.sim.cluster.store.get("secrets", "onepassword-connect-token", "external-secrets");
      e.sim.cluster.store.update({ ...token, data: { token: Buffer.from("stale").toString("base64") } });
      const stale = await run(e, "bootstrap-1password-secrets", ["--check"]);
      expect(stale.code).toBe(1);
      expect(stale.stdout).toMatch(/onepassword-connect-token matches 1Password .*differs/);

      e.sim.cluster.faults.add("op-signed-out");
      const out = await run(e, "bootstrap-1password-secrets", []);
      expect(out.code).toBe(2);
      expect(out.stderr).toContain("run `op signin`");
      e.sim.cluster.faults.clear("op-signed-out");
    },
    200_000,
  );

  test(
    "a double-encoded credentials item is refused before anything reaches the cluster",
    async () => {
      const e = await sim({ state: "bootstrapped" });
      const twice = Buffer.from(Buffer.from(e.secrets["1password-connect/credentials"]!).toString("base64")).toString("base64");
      e.sim.cluster.vault.setItem(VAULT, "1password-connect", { credentials: twice, token: e.secrets["1password-connect/token"]! });
      const r = await run(e, "bootstrap-1password-secrets", []);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("base64-encoded twice");
      expect(e.sim.cluster.store.list("secrets", { namespace: "external-secrets" }).items).toEqual([]);
    },
    120_000,
  );
});

describe("apps-deploy-core", () => {
  test("an unknown --component is a usage error and nothing runs", async () => {
    const e = await sim({ state: "bootstrapped" });
    const r = await run(e, "apps-deploy-core", ["--component", "bogus"]);
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toBe('error: --component must be one of secrets, external-secrets, connect, store, longhorn, not "bogus"');
    expect(e.sim.cluster.tools.calls).toEqual([]);
  }, 60_000);

  test(
    "installs secrets, External Secrets, Connect, the store (Ready) and Longhorn; --component longhorn alone is a no-op after",
    async () => {
      const e = await sim({ state: "bootstrapped" });
      const r = await run(e, "apps-deploy-core", ["--timeout", "60s"]);
      expect(r.stderr).not.toContain("error:");
      expect(r.code).toBe(0);
      expect(helmWrites(e.sim.cluster)).toEqual([
        "upgrade --install external-secrets",
        "upgrade --install onepassword-connect",
        "upgrade --install longhorn",
      ]);
      const store = e.sim.cluster.store.get("clustersecretstores.external-secrets.io", "onepassword");
      expect((store.status?.conditions as Array<{ type: string; status: string }>).find((c) => c.type === "Ready")?.status).toBe("True");
      const before = e.sim.cluster.tools.calls.length;
      const again = await run(e, "apps-deploy-core", ["--component", "longhorn"]);
      expect(again.code).toBe(0);
      expect(helmWrites(e.sim.cluster, before)).toEqual([]);
    },
    200_000,
  );
});
