/**
 * bgp-migrate's library: every v1 fixture (tests/fixtures/bgp) converts to v2 objects whose expected announcements
 * are the v1 ones, proved twice: by the plan itself, and by writing the objects as YAML into the fixture's repo in
 * place of the policy, loading that repo and comparing with the fixture's label. A mixed v1+v2 configuration is not
 * equivalent and says why.
 */
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { stringify } from "yaml";
import { expectedAdvertisements, inputsFromModel, migrateV1, podCIDRAnnouncements, v2InputsFromObjects } from "../../lib/bgp/index.ts";
import { loadRepo } from "../../lib/repo/model.ts";
import { cleanup, fixtureRepo, loadBgpFixtures } from "../fixtures/bgp/harness.ts";

const fixtures = loadBgpFixtures();
const v1Only = fixtures.filter((f) => f.version === "v1");

const announced = (inputs: ReturnType<typeof inputsFromModel>) =>
  [...new Set(expectedAdvertisements(inputs).expectations.filter((e) => !e.blocked).map((e) => `${e.node} ${e.slot.peerAddress} ${e.prefix}`))].sort();

test("there are v1 fixtures to migrate", () => {
  expect(v1Only.length).toBeGreaterThanOrEqual(4);
});

describe("every v1 fixture round-trips to a v2 set with the same expected announcements", () => {
  for (const f of v1Only) {
    test(f.name, () => {
      const dir = fixtureRepo(f);
      try {
        const before = inputsFromModel(loadRepo(dir, { mode: "lenient" }));
        const plan = migrateV1(before);
        expect(plan.differences).toEqual([]);
        expect(plan.equivalent).toBe(true);
        expect(plan.objects.filter((o) => o.kind === "CiliumBGPClusterConfig").map((o) => o.metadata.name).sort()).toEqual(before.peeringPolicies.map((p) => p.name).sort());
        // the same, through YAML and the repo loader: policies out, the plan's objects in
        const kept = f.manifests.split(/^---$/m).filter((d) => !/kind: CiliumBGPPeeringPolicy/.test(d));
        writeFileSync(path.join(dir, "kubernetes/apps/kube-system/cilium/config/bgp.yaml"), [...kept, ...plan.objects.map((o) => `\n${stringify(o)}`)].join("---"));
        const after = inputsFromModel(loadRepo(dir, { mode: "lenient" }));
        expect(after.peeringPolicies).toEqual([]);
        expect(after.clusterConfigs.length).toBeGreaterThan(0);
        expect(announced(after)).toEqual(announced(before));
      } finally {
        cleanup(dir);
      }
    }, 30_000);
  }
});

test("v1 next to v2: the migrated ClusterConfig conflicts with the existing one, and the plan lists what is lost and why", () => {
  const f = fixtures.find((x) => x.version === "v1+v2")!;
  const dir = fixtureRepo(f);
  try {
    const plan = migrateV1(inputsFromModel(loadRepo(dir, { mode: "lenient" })));
    expect(plan.equivalent).toBe(false);
    expect(plan.before).toBeGreaterThan(0);
    expect(plan.differences.length).toBe(plan.before);
    expect(plan.differences.every((d) => d.change === "lost" && d.why.includes("cause 8"))).toBe(true);
    expect(plan.notes.join(" ")).toContain("conflict");
  } finally {
    cleanup(dir);
  }
}, 30_000);

test("exportPodCIDR is part of the proof: the node's PodCIDR per peer and family, before and after", () => {
  const inputs = {
    controlPlaneEnabled: true,
    nodes: [{ name: "n1", labels: { "kubernetes.io/hostname": "n1" }, ipv4: "10.0.0.11" }],
    pools: [],
    services: [],
    clusterConfigs: [],
    peerConfigs: [],
    advertisements: [],
    peeringPolicies: [
      { name: "pods", virtualRouters: [{ localASN: 64512, exportPodCIDR: true, neighbors: [{ peerAddress: "10.0.0.1/32", peerASN: 64513, families: [{ afi: "ipv4", safi: "unicast" }] }] }] },
    ],
  };
  const plan = migrateV1(inputs);
  expect(plan.differences).toEqual([]);
  expect(plan.before).toBe(1);
  expect(podCIDRAnnouncements(inputs)).toEqual(new Set(["n1|10.0.0.1|ipv4"]));
  // the v2 side without its PodCIDR entry would lose it
  const v2 = v2InputsFromObjects(plan.objects.map((o) => (o.kind === "CiliumBGPAdvertisement" ? { ...o, spec: { advertisements: [] } } : o)));
  expect(podCIDRAnnouncements({ ...inputs, peeringPolicies: [], ...v2 })).toEqual(new Set());
});
