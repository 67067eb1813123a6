import { describe, expect, test } from "bun:test";
import { evalJsonPath, humanDuration, toTable, wantsTable } from "../../lib/sim/kube-api-table.ts";
import { parseResourcePath } from "../../lib/sim/kube-api.ts";
import { BUILTIN_KINDS, crdFor, FLUX_KINDS, kindFromCrd } from "../../lib/sim/kinds.ts";

const segs = (p: string) => p.split("/").filter(Boolean);

describe("parseResourcePath", () => {
  test("core and group paths, namespaced and not, with subresources", () => {
    expect(parseResourcePath(segs("/api/v1/nodes"))).toEqual({ group: "", version: "v1", plural: "nodes" });
    expect(parseResourcePath(segs("/api/v1/nodes/k8s-0/status"))).toEqual({ group: "", version: "v1", plural: "nodes", name: "k8s-0", subresource: "status" });
    expect(parseResourcePath(segs("/api/v1/namespaces/flux-system/pods/p"))).toEqual({ group: "", version: "v1", namespace: "flux-system", plural: "pods", name: "p" });
    expect(parseResourcePath(segs("/apis/cilium.io/v2alpha1/ciliumbgpnodeconfigs"))).toEqual({ group: "cilium.io", version: "v2alpha1", plural: "ciliumbgpnodeconfigs" });
    expect(parseResourcePath(segs("/apis/apps/v1/namespaces/a/deployments/d/status"))).toMatchObject({ namespace: "a", name: "d", subresource: "status" });
  });
  test("the Namespace object itself vs. a namespaced collection", () => {
    expect(parseResourcePath(segs("/api/v1/namespaces"))).toEqual({ group: "", version: "v1", plural: "namespaces" });
    expect(parseResourcePath(segs("/api/v1/namespaces/default"))).toEqual({ group: "", version: "v1", plural: "namespaces", name: "default" });
    expect(parseResourcePath(segs("/api/v1/namespaces/default/status"))).toEqual({ group: "", version: "v1", plural: "namespaces", name: "default", subresource: "status" });
    expect(parseResourcePath(segs("/api/v1/namespaces/default/configmaps"))).toEqual({ group: "", version: "v1", namespace: "default", plural: "configmaps" });
  });
  test("not resource paths", () => {
    expect(parseResourcePath(segs("/api"))).toBeUndefined();
    expect(parseResourcePath(segs("/apis/apps"))).toBeUndefined();
    expect(parseResourcePath(segs("/api/v1/a/b/c/d"))).toBeUndefined();
  });
});

describe("server-side printing", () => {
  test("humanDuration matches kube's", () => {
    expect(humanDuration(5_000)).toBe("5s");
    expect(humanDuration(119_000)).toBe("119s");
    expect(humanDuration(150_000)).toBe("2m30s");
    expect(humanDuration(30 * 60_000)).toBe("30m");
    expect(humanDuration(5 * 3600_000 + 7 * 60_000)).toBe("5h7m");
    expect(humanDuration(30 * 3600_000)).toBe("30h");
    expect(humanDuration(3 * 86400_000 + 3600_000)).toBe("3d1h");
    expect(humanDuration(40 * 86400_000)).toBe("40d");
  });
  test("wantsTable reads kubectl's Accept header", () => {
    expect(wantsTable("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")).toBe(true);
    expect(wantsTable("application/json")).toBe(false);
    expect(wantsTable(null)).toBe(false);
  });
  test("node table columns", () => {
    const nodeKind = BUILTIN_KINDS.find((k) => k.kind === "Node")!;
    const t = toTable(
      nodeKind,
      [
        {
          apiVersion: "v1",
          kind: "Node",
          metadata: { name: "k8s-0", creationTimestamp: "2026-01-01T00:00:00Z", labels: { "node-role.kubernetes.io/control-plane": "" } },
          spec: { unschedulable: true },
          status: { conditions: [{ type: "Ready", status: "True" }], nodeInfo: { kubeletVersion: "v1.31.1" } },
        },
      ],
      "7",
      Date.parse("2026-01-01T00:00:42Z"),
    ) as { columnDefinitions: { name: string }[]; rows: { cells: unknown[] }[] };
    expect(t.columnDefinitions.map((c) => c.name)).toEqual(["Name", "Status", "Roles", "Age", "Version"]);
    expect(t.rows[0]!.cells).toEqual(["k8s-0", "Ready,SchedulingDisabled", "control-plane", "42s", "v1.31.1"]);
  });
});

describe("CRD printer columns", () => {
  test("the JSONPath subset of additionalPrinterColumns", () => {
    const o = { status: { conditions: [{ type: "Ready", status: "True" }, { type: "Stalled", status: "False" }] }, spec: { a: [{ b: 1 }, { b: 2 }] } };
    expect(evalJsonPath(o, '.status.conditions[?(@.type=="Ready")].status')).toEqual(["True"]);
    expect(evalJsonPath(o, ".status.conditions[?(@.type=='Stalled')].status")).toEqual(["False"]);
    expect(evalJsonPath(o, '.status.conditions[?(@.type!="Ready")].type')).toEqual(["Stalled"]);
    expect(evalJsonPath(o, ".spec.a[*].b")).toEqual([1, 2]);
    expect(evalJsonPath(o, ".spec.a[1].b")).toEqual([2]);
    expect(evalJsonPath(o, "{.spec.a[0].b}")).toEqual([1]);
    expect(evalJsonPath(o, ".spec.missing.x")).toEqual([]);
    expect(evalJsonPath(o, ".spec.a[")).toEqual([]);
  });

  test("a HelmRelease prints Age, Ready and Status from its CRD (read back from the CRD object)", () => {
    const hr = kindFromCrd(crdFor(FLUX_KINDS.find((k) => k.kind === "HelmRelease")!))!;
    const t = toTable(
      hr,
      [
        {
          apiVersion: "helm.toolkit.fluxcd.io/v2",
          kind: "HelmRelease",
          metadata: { name: "cilium", namespace: "kube-system", creationTimestamp: "2026-01-01T00:00:00Z" },
          status: { conditions: [{ type: "Ready", status: "False", message: "install retries exhausted" }] },
        },
        { apiVersion: "helm.toolkit.fluxcd.io/v2", kind: "HelmRelease", metadata: { name: "new", creationTimestamp: "2026-01-01T00:00:00Z" } },
      ],
      "9",
      Date.parse("2026-01-01T00:05:00Z"),
    ) as { columnDefinitions: { name: string }[]; rows: { cells: unknown[] }[] };
    expect(t.columnDefinitions.map((c) => c.name)).toEqual(["Name", "Age", "Ready", "Status"]);
    expect(t.rows[0]!.cells).toEqual(["cilium", "5m", "False", "install retries exhausted"]);
    expect(t.rows[1]!.cells).toEqual(["new", "5m", null, null]);
  });
});

describe("per-run PKI", () => {
  const openssl = async (args: string[]) => {
    const p = Bun.spawn(["openssl", ...args], { stdout: "pipe", stderr: "pipe" });
    const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
    return { code, out: out + err };
  };

  test("openssl verifies the chain, the purposes and the server's SANs; files are 0600 in a 0700 dir", async () => {
    const { createPki } = await import("../../lib/sim/pki.ts");
    const { statSync } = await import("node:fs");
    const pki = await createPki();
    try {
      const p = pki.paths;
      expect((await openssl(["verify", "-CAfile", p.caCert, "-purpose", "sslserver", p.serverCert])).out).toContain("server.crt: OK");
      expect((await openssl(["verify", "-CAfile", p.caCert, "-purpose", "sslclient", p.clientCert])).out).toContain("client.crt: OK");
      // a client certificate is not a server certificate
      expect((await openssl(["verify", "-CAfile", p.caCert, "-purpose", "sslserver", p.clientCert])).code).not.toBe(0);
      const san = await openssl(["x509", "-in", p.serverCert, "-noout", "-ext", "subjectAltName"]);
      expect(san.out).toContain("IP Address:127.0.0.1, DNS:localhost, IP Address:0:0:0:0:0:0:0:1");
      const subj = await openssl(["x509", "-in", p.clientCert, "-noout", "-subject"]);
      expect(subj.out.trim()).toBe("subject=O = system:masters, CN = home-ops-sim-admin");
      expect(statSync(pki.dir).mode & 0o777).toBe(0o700);
      for (const f of Object.values(p)) expect(statSync(f).mode & 0o777).toBe(0o600);
      // each run has its own CA
      const other = await createPki();
      expect(other.caCert).not.toBe(pki.caCert);
      expect((await openssl(["verify", "-CAfile", other.paths.caCert, p.serverCert])).code).not.toBe(0);
      other.cleanup();
    } finally {
      pki.cleanup();
    }
  });
});
