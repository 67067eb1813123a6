import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { validateRepo } from "../../lib/checks/index.ts";
import { loadRenderedRepo } from "../../lib/repo/load.ts";
import { cleanup, copyRepo } from "../fixtures/broken/harness.ts";

/**
 * A YAML file under kubernetes/ that no Flux Kustomization applies is not part of the cluster: it is reported as
 * `repo/unreferenced` and decides no verdict. (The literal reading once let an unreferenced CiliumBGPPeeringPolicy
 * produce a "cause 8" finding and missing routes.) Needs kubectl (kustomize).
 */

const POLICY = `---
apiVersion: cilium.io/v2alpha1
kind: CiliumBGPPeeringPolicy
metadata:
  name: leftover-legacy
spec:
  nodeSelector:
    matchLabels:
      kubernetes.io/os: linux
  virtualRouters:
    - localASN: 64512
      exportPodCIDR: true
      neighbors:
        - peerAddress: 172.29.51.1/32
          peerASN: 64513
`;

const POOL = `---
apiVersion: cilium.io/v2alpha1
kind: CiliumLoadBalancerIPPool
metadata:
  name: leftover-pool
spec:
  blocks:
    - cidr: 172.29.52.0/24
`;

// next to the real BGP objects and pools, but listed by no kustomization.yaml
const POLICY_FILE = "kubernetes/apps/kube-system/cilium/config/bgp-legacy.yaml";
const POOL_FILE = "kubernetes/apps/kube-system/cilium/config/pool-leftover.yaml";

let clean: string;
let dirty: string;

beforeAll(() => {
  clean = copyRepo();
  dirty = copyRepo();
  writeFileSync(path.join(dirty, POLICY_FILE), POLICY);
  writeFileSync(path.join(dirty, POOL_FILE), POOL);
});
afterAll(() => {
  cleanup(clean);
  cleanup(dirty);
});

const verdicts = (fs: { id: string; file: string; line: number; message: string }[]) =>
  fs.filter((f) => /^(bgp|ipam)\//.test(f.id)).map((f) => `${f.id} ${f.file}:${f.line} ${f.message}`);

describe("a file no Flux Kustomization applies", () => {
  test(
    "changes no BGP or IPAM verdict and is reported as unreferenced",
    async () => {
      const before = await validateRepo(clean, { only: ["flux", "ipam", "bgp"] });
      const after = await validateRepo(dirty, { only: ["flux", "ipam", "bgp"] });
      expect(verdicts(after.findings)).toEqual(verdicts(before.findings));
      const unref = after.findings.filter((f) => f.id === "repo/unreferenced").map((f) => f.file);
      expect(unref.sort()).toEqual([POLICY_FILE, POOL_FILE].sort());
      expect(before.findings.filter((f) => f.id === "repo/unreferenced")).toEqual([]);
    },
    { timeout: 300_000 },
  );

  test(
    "is not in the model the checks read",
    async () => {
      const { models, render } = await loadRenderedRepo(dirty, { mode: "lenient" });
      expect(render.complete).toBe(true);
      for (const m of models) {
        expect(m.bgp.peeringPolicies.map((p) => p.name)).not.toContain("leftover-legacy");
        expect(m.pools.map((p) => p.name)).not.toContain("leftover-pool");
        // the real pools are still there: the check above is not vacuous
        expect(m.pools.length).toBeGreaterThan(0);
      }
    },
    { timeout: 300_000 },
  );
});
