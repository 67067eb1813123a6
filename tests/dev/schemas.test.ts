/**
 * Dev check (not a runtime dependency): the repo's Cilium BGP / LB-IPAM objects against the upstream v1.17 CRDs, and
 * the Talos patches + talconfig against the Talos 1.10.5 and talhelper JSON schemas, all from ../shared/reference.
 * A user's clone has no ../shared: then these tests skip and say why.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { loadRepo } from "../../lib/repo/model.ts";
import { validate } from "./jsonschema.ts";

const ROOT = path.resolve(import.meta.dir, "../..");
const REF = path.resolve(ROOT, "../shared/reference");
const CRD_DIR = path.join(REF, "crds/cilium-v1.17");
const TALOS_SCHEMA = path.join(REF, "schemas/talos-v1.10.5-config.schema.json");
const TALHELPER_SCHEMA = path.join(REF, "schemas/talhelper-talconfig.schema.json");
const haveRef = existsSync(CRD_DIR) && existsSync(TALOS_SCHEMA) && existsSync(TALHELPER_SCHEMA);
if (!haveRef) console.warn(`tests/dev/schemas: skipped, ${REF} is absent (the reference data lives beside the repo in dev only)`);

interface Crd {
  kind: string;
  scope: string;
  versions: { name: string; schema: Record<string, unknown> }[];
}

function loadCrds(): Map<string, Crd> {
  const out = new Map<string, Crd>();
  for (const f of readdirSync(CRD_DIR)) {
    const o = Bun.YAML.parse(readFileSync(path.join(CRD_DIR, f), "utf8")) as {
      spec: { names: { kind: string }; scope: string; versions: { name: string; schema: { openAPIV3Schema: Record<string, unknown> } }[] };
    };
    out.set(o.spec.names.kind, {
      kind: o.spec.names.kind,
      scope: o.spec.scope,
      versions: o.spec.versions.map((v) => ({ name: v.name, schema: v.schema.openAPIV3Schema })),
    });
  }
  return out;
}

function checkCilium(obj: Record<string, unknown>, crds: Map<string, Crd>): string[] {
  const kind = String(obj.kind);
  const crd = crds.get(kind);
  if (!crd) return [`no upstream CRD for ${kind}`];
  const version = String(obj.apiVersion).split("/")[1];
  const v = crd.versions.find((x) => x.name === version);
  if (!v) return [`${kind} is not served as ${obj.apiVersion} by Cilium 1.17 (served: ${crd.versions.map((x) => x.name).join(", ")})`];
  const errs = validate(obj, v.schema).map((e) => `${e.path}: ${e.message}`);
  const md = obj.metadata as Record<string, unknown> | undefined;
  if (crd.scope === "Cluster" && md?.namespace !== undefined) errs.push(`metadata.namespace: ${kind} is cluster-scoped`);
  return errs;
}

describe.skipIf(!haveRef)("dev: Cilium objects vs upstream v1.17 CRDs", () => {
  const model = loadRepo(ROOT);
  const crds = haveRef ? loadCrds() : new Map<string, Crd>();
  const ciliumDocs = model.documents.filter((d) => d.apiVersion?.startsWith("cilium.io/") && crds.has(d.kind ?? ""));

  test("the repo has the BGP and LB-IPAM objects to check", () => {
    const kinds = new Set(ciliumDocs.map((d) => d.kind));
    for (const k of ["CiliumLoadBalancerIPPool", "CiliumBGPClusterConfig", "CiliumBGPPeerConfig", "CiliumBGPAdvertisement"])
      expect(kinds.has(k)).toBe(true);
  });

  test("every BGP / LB-IPAM object validates against its CRD schema, cluster-scoped ones without namespace", () => {
    const problems = ciliumDocs.flatMap((d) => checkCilium(d.object as Record<string, unknown>, crds).map((e) => `${d.file}:${d.line} ${d.kind}/${d.name}: ${e}`));
    expect(problems).toEqual([]);
  });

  test("the check fails on a misspelt field, a wrong type, a v2 apiVersion and a namespace (it can fail)", () => {
    const peer = structuredClone(ciliumDocs.find((d) => d.kind === "CiliumBGPPeerConfig")!.object) as Record<string, any>;
    peer.spec.familes = peer.spec.families;
    expect(checkCilium(peer, crds).some((e) => e.includes("spec.familes: unknown field"))).toBe(true);
    const pool = structuredClone(ciliumDocs.find((d) => d.kind === "CiliumLoadBalancerIPPool")!.object) as Record<string, any>;
    pool.spec.disabled = "no";
    expect(checkCilium(pool, crds).some((e) => e.includes("spec.disabled: expected boolean"))).toBe(true);
    pool.spec.disabled = false;
    pool.metadata.namespace = "kube-system";
    expect(checkCilium(pool, crds)).toContain("metadata.namespace: CiliumLoadBalancerIPPool is cluster-scoped");
    const cc = structuredClone(ciliumDocs.find((d) => d.kind === "CiliumBGPClusterConfig")!.object) as Record<string, any>;
    cc.apiVersion = "cilium.io/v2";
    expect(checkCilium(cc, crds)[0]).toContain("is not served as cilium.io/v2");
  });
});

describe.skipIf(!haveRef)("dev: Talos patches and talconfig vs the Talos 1.10.5 / talhelper schemas", () => {
  const model = loadRepo(ROOT);
  const talosSchema = haveRef ? (JSON.parse(readFileSync(TALOS_SCHEMA, "utf8")) as Record<string, unknown>) : {};
  const talhelperSchema = haveRef ? (JSON.parse(readFileSync(TALHELPER_SCHEMA, "utf8")) as Record<string, unknown>) : {};

  test("every document of every patch validates (machine config patches and multi-doc kinds)", () => {
    expect(model.talos.patches.length).toBeGreaterThan(0);
    const problems: string[] = [];
    for (const p of model.talos.patches)
      for (const d of p.docs) for (const e of validate(d.object, talosSchema)) problems.push(`${d.file}:${d.line} ${e.path}: ${e.message}`);
    expect(problems).toEqual([]);
  });

  test("talconfig.yaml (after talenv substitution) validates against talhelper's schema", () => {
    const errs = validate(model.talos.config, talhelperSchema).map((e) => `${e.path}: ${e.message}`);
    expect(errs).toEqual([]);
  });

  test("the check fails on a bad encryption key, an unknown UserVolumeConfig field and a wrong cni name", () => {
    const bad1 = { machine: { systemDiskEncryption: { state: { provider: "luks2", keys: [{ slot: 0, nodeId: {} }] } } } };
    expect(validate(bad1, talosSchema).length).toBeGreaterThan(0);
    const bad2 = { apiVersion: "v1alpha1", kind: "UserVolumeConfig", name: "longhorn", mountPath: "/var/mnt/longhorn" };
    expect(validate(bad2, talosSchema).length).toBeGreaterThan(0);
    const bad3 = { cluster: { network: { cni: { name: "cilium" } } } };
    expect(validate(bad3, talosSchema).length).toBeGreaterThan(0);
  });
});
