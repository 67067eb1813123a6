import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { z } from "zod";
import { parseOnly } from "../../lib/checks/index.ts";
import { GitIgnore } from "../../lib/checks/files.ts";
import { mapLimit } from "../../lib/checks/kustomize.ts";
import { dotted } from "../../lib/checks/locate.ts";
import { libraryFindings, modelClass, validateWithModel } from "../../lib/checks/schema.ts";
import { CILIUM_SCHEMAS } from "../../lib/checks/schemas/cilium.ts";
import { machineConfigPatch, talconfig, talconfigNode, userVolumeConfig } from "../../lib/checks/schemas/talos.ts";
import { looksLikeSecretValue, scanText } from "../../lib/checks/secrets.ts";
import { json5ErrorLine } from "../../lib/checks/versions.ts";
import { checkYamlText, scanDuplicateKeys } from "../../lib/checks/yaml.ts";

describe("schema library (kubernetes-models)", () => {
  test("resolves built-in, Flux, cert-manager, ESO, prometheus-operator and CiliumNetworkPolicy kinds", () => {
    for (const [v, k] of [
      ["v1", "Service"],
      ["apps/v1", "Deployment"],
      ["networking.k8s.io/v1", "Ingress"],
      ["rbac.authorization.k8s.io/v1", "ClusterRole"],
      ["source.toolkit.fluxcd.io/v1", "GitRepository"],
      ["source.toolkit.fluxcd.io/v1beta2", "OCIRepository"],
      ["kustomize.toolkit.fluxcd.io/v1", "Kustomization"],
      ["helm.toolkit.fluxcd.io/v2", "HelmRelease"],
      ["notification.toolkit.fluxcd.io/v1", "Receiver"],
      ["notification.toolkit.fluxcd.io/v1beta3", "Alert"],
      ["cert-manager.io/v1", "ClusterIssuer"],
      ["external-secrets.io/v1", "ExternalSecret"],
      ["external-secrets.io/v1", "ClusterSecretStore"],
      ["monitoring.coreos.com/v1", "ServiceMonitor"],
      ["cilium.io/v2", "CiliumNetworkPolicy"],
    ] as const)
      expect(modelClass(v, k), `${v} ${k}`).toBeDefined();
  });

  test("kinds without a library schema, and malformed apiVersions, have none", () => {
    expect(modelClass("postgresql.cnpg.io/v1", "Cluster")).toBeUndefined();
    expect(modelClass("cilium.io/v2alpha1", "CiliumBGPPeerConfig")).toBeUndefined(); // zod's, for Cilium 1.17
    expect(modelClass("../../etc", "passwd")).toBeUndefined();
    expect(modelClass("apps/v1", "Deploy ment")).toBeUndefined();
  });

  test("unknown fields are found by what the validator reads; maps and free-form values are not flagged", () => {
    const hr = modelClass("helm.toolkit.fluxcd.io/v2", "HelmRelease")!;
    const r = validateWithModel(hr, {
      apiVersion: "helm.toolkit.fluxcd.io/v2",
      kind: "HelmRelease",
      metadata: { name: "x", labels: { "app.kubernetes.io/name": "x" }, annotations: { a: "b" } },
      spec: {
        interval: "1h",
        chart: { spec: { chart: "c", sourceRef: { kind: "HelmRepository", name: "r" }, bogus: 1 } },
        values: { anything: { goes: [1, { here: true }] } },
        install: { remediation: { retries: 3, retires: 3 } },
      },
    });
    expect(r.errors).toEqual([]);
    expect(r.unknown).toEqual([
      ["spec", "chart", "spec", "bogus"],
      ["spec", "install", "remediation", "retires"],
    ]);
  });

  test("type errors are reported with their path", () => {
    const d = modelClass("apps/v1", "Deployment")!;
    const r = validateWithModel(d, { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "x" }, spec: { replicas: "two", selector: {}, template: {} } });
    expect(r.errors.map((e) => `${e.instancePath} ${e.keyword}`)).toContain("/spec/replicas type");
  });

  test("the unknown fields of one document shape are computed once and reused", () => {
    const cm = modelClass("v1", "ConfigMap")!;
    const a = validateWithModel(cm, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a" }, dataa: { k: "v" } });
    const b = validateWithModel(cm, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "b" }, dataa: { k: "w" } });
    expect(a.unknown).toEqual([["dataa"]]);
    expect(b.unknown).toBe(a.unknown);
  });

  test("a CRD's openAPIV3Schema is judged as JSONSchemaProps at every depth: documented fields pass, others are unknown", () => {
    const s = (extra: Record<string, unknown> = {}) => ({ description: "d", type: "string", ...extra });
    const crd = {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: "widgets.example.com" },
      spec: {
        group: "example.com",
        names: { kind: "Widget", plural: "widgets" },
        scope: "Namespaced",
        versions: [
          {
            name: "v1",
            served: true,
            storage: true,
            additionalPrinterColumns: [{ name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp", description: "age" }],
            schema: {
              openAPIV3Schema: {
                description: "Widget",
                type: "object",
                properties: {
                  spec: {
                    description: "spec",
                    type: "object",
                    "x-kubernetes-validations": [{ rule: "self.a != ''", message: "a", mesage: "typo" }],
                    externalDocs: { description: "docs", url: "https://example.com" },
                    properties: {
                      list: {
                        type: "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        items: { type: "object", description: "item", properties: { name: s() }, required: ["name"], requird: ["x"] },
                      },
                      map: { type: "object", additionalProperties: s({ "x-kubernetes-int-or-string": true, defualt: 1 }) },
                      anyOf: { anyOf: [s({ discription: "typo" })], default: { free: { json: true } } },
                    },
                  },
                },
              },
            },
          },
        ],
      },
    };
    const unknown = (libraryFindings("apiextensions.k8s.io/v1", "CustomResourceDefinition", crd, "CRD") ?? []).filter((f) => f.id === "schema/unknown-field").map((f) => dotted(f.path));
    const root = "spec.versions[0].schema.openAPIV3Schema.properties.spec";
    expect(unknown.sort()).toEqual(
      [
        `${root}.properties.anyOf.anyOf[0].discription`,
        `${root}.properties.list.items.requird`,
        `${root}.properties.map.additionalProperties.defualt`,
        `${root}.x-kubernetes-validations[0].mesage`,
      ].sort(),
    );
  });

  test("a `description` no validator reads is not called unknown (PriorityClass, CiliumNetworkPolicy rules)", () => {
    const pc = { apiVersion: "scheduling.k8s.io/v1", kind: "PriorityClass", metadata: { name: "p" }, value: 1, description: "d", descripton: "typo" };
    expect(libraryFindings("scheduling.k8s.io/v1", "PriorityClass", pc, "PC")!.map((f) => dotted(f.path))).toEqual(["descripton"]);
    const cnp = { apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicy", metadata: { name: "n" }, spec: { description: "allow dns", endpointSelector: {}, ingress: [{}] } };
    expect(libraryFindings("cilium.io/v2", "CiliumNetworkPolicy", cnp, "CNP")!.filter((f) => f.id === "schema/unknown-field")).toEqual([]);
  });
});

describe("yaml", () => {
  test("duplicate keys, tabs and run-together objects by line scan", () => {
    const ids = (t: string) => scanDuplicateKeys("f.yaml", t).map((f) => `${f.id}@${f.line}`);
    expect(ids("a: 1\nb:\n  c: 1\n  c: 2\n")).toEqual(["yaml/duplicate-key@4"]);
    expect(ids("- name: a\n  v: 1\n- name: b\n  v: 2\n")).toEqual([]);
    expect(ids("x: |\n  a: 1\n  a: 1\ny: 1\n")).toEqual([]); // block scalar content
    expect(ids("a: 1\n---\na: 2\n")).toEqual([]);
    expect(ids("a:\n\tb: 1\n")).toEqual(["yaml/tab@2"]);
    expect(ids("apiVersion: v1\nkind: A\nmetadata: {}\napiVersion: v1\nkind: B\nmetadata: {}\n")).toEqual(["yaml/missing-separator@4"]);
    expect(ids("k: 'a: b' # c: d\nk2: \"x: y\"\n")).toEqual([]);
  });

  test("parse errors: one finding per broken document, at the first error line", () => {
    const f = checkYamlText("f.yaml", "a: 1\nb: [1, 2\nc: 3\nd: 4\n");
    expect(f).toHaveLength(1);
    expect(f[0]!.id).toBe("yaml/parse");
    expect(checkYamlText("f.yaml", "a: 1\n----\nb: 2\n").map((x) => `${x.id}@${x.line}`)).toEqual(["yaml/separator@2"]);
    expect(checkYamlText("f.yaml", "a: *nope\n").map((x) => x.id)).toEqual(["yaml/parse"]);
    expect(checkYamlText("f.yaml", "a: 1\n")).toEqual([]);
  });
});

describe("secrets", () => {
  const ids = (file: string, t: string) => scanText(file, t).map((f) => `${f.id}@${f.line}`);
  const header = ["-----BEGIN", "RSA PRIVATE KEY-----"].join(" ");
  test("private keys need key material after the header (a template is not a key)", () => {
    expect(ids("k.pem", `x\n${header}\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\n`)).toEqual(["secrets/private-key@2"]);
    expect(ids("gen.ts", "const k = `" + header + "\\n${random()}`;\n")).toEqual([]);
  });
  test("tokens by shape", () => {
    expect(ids("a.yaml", `t: ${"ghp_"}${"a".repeat(36)}\n`)).toEqual(["secrets/token@1"]);
    expect(ids("a.yaml", `id: ${"AKIA"}ABCDEFGHIJKLMNOP\n`)).toEqual(["secrets/token@1"]);
    expect(ids("a.md", "see github.com/org/repo\n")).toEqual([]);
  });
  test("literal passwords in YAML, not references or names", () => {
    expect(ids("v.yaml", `adminPassword: ${"Zx8vK2mN9pL4wR7tQ"}\n`)).toEqual(["secrets/literal@1"]);
    expect(ids("v.yaml", "password: ${DB_PASSWORD}\nsecretKey: admin-password\nexistingSecret: authentik-secret\ntoken: op://vault/item/field\n")).toEqual([]);
    expect(looksLikeSecretValue("cloudflare-api-token")).toBe(false);
    expect(looksLikeSecretValue("q8Zr2LmX9vT4kP1w")).toBe(true);
  });
  test("a value naming an environment variable ($NAME, env:NAME, ${env:NAME}) is a reference; a secret after the prefix is not", () => {
    const refs = 'comicVineApiKey: "env:KOMF_COMICVINE_API_KEY"\ntoken: $INFLUXDB3_TELEMETRY_TOKEN\napiToken: ${env:GRAFANA_API_TOKEN_VALUE}\n';
    expect(ids("helmrelease.yaml", refs)).toEqual([]);
    for (const v of ["env:KOMF_COMICVINE_API_KEY", "$INFLUXDB3_TELEMETRY_TOKEN", "${env:GRAFANA_API_TOKEN_VALUE}"]) expect(looksLikeSecretValue(v), v).toBe(false);
    // the prefix alone does not make a value a reference: what follows must be a variable's name
    const secrets = `apiKey: "env:${"q8Zr2LmX9vT4kP1w"}"\ntoken: $${"q8Zr2LmX9vT4kP1w"}\n`;
    expect(ids("helmrelease.yaml", secrets)).toEqual(["secrets/literal@1", "secrets/literal@2"]);
  });
  test("a Secret manifest's fix names the repo's own secret store, or none when the repo has none", async () => {
    const { mkdtempSync, mkdirSync, rmSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { loadRepo } = await import("../../lib/repo/load.ts");
    const { secretsCheck } = await import("../../lib/checks/secrets.ts");
    const dir = mkdtempSync(path.join(tmpdir(), "home-ops-secret-store-"));
    try {
      const app = path.join(dir, "kubernetes/apps/media/app");
      mkdirSync(app, { recursive: true });
      writeFileSync(path.join(app, "secret.yaml"), "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\n  namespace: media\nstringData:\n  KEY: value\n");
      const fix = () => secretsCheck(loadRepo(dir, { mode: "lenient" })).filter((f) => f.id === "secrets/secret-manifest").map((f) => f.fix);
      expect(fix()).toHaveLength(1);
      expect(fix()[0]).not.toContain("1Password");
      expect(fix()[0]).toContain("secret store");
      const store = "apiVersion: external-secrets.io/v1\nkind: ClusterSecretStore\nmetadata:\n  name: infisical\nspec:\n  provider:\n    infisical:\n      hostAPI: https://app.infisical.com\n";
      writeFileSync(path.join(dir, "kubernetes/apps/store.yaml"), store);
      expect(fix()).toEqual(["replace it with an ExternalSecret that reads the values from the ClusterSecretStore `infisical` (infisical)"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("files and options", () => {
  test(".gitignore matching: globs, anchored paths, directories, negation", () => {
    const ig = new GitIgnore("clusterconfig/*\n!clusterconfig/README.md\nkubeconfig\n.env\n.env.*\n!.env.example\nnode_modules/\n/talos/talsecret.yaml\n");
    expect(ig.ignores("clusterconfig/home-ops-mini01.yaml")).toBe(true);
    expect(ig.ignores("clusterconfig/README.md")).toBe(false);
    expect(ig.ignores("sub/kubeconfig")).toBe(true);
    expect(ig.ignores(".env")).toBe(true);
    expect(ig.ignores(".env.local")).toBe(true);
    expect(ig.ignores(".env.example")).toBe(false);
    expect(ig.ignores("a/node_modules/x.js")).toBe(true);
    expect(ig.ignores("talos/talsecret.yaml")).toBe(true);
    expect(ig.ignores("talos/talconfig.yaml")).toBe(false);
  });

  test("--only accepts the families and names the bad ones", () => {
    expect(parseOnly("bgp, ipam")).toEqual(["bgp", "ipam"]);
    expect(parseOnly(undefined)).toBeUndefined();
    expect(() => parseOnly("bgp,nope")).toThrow(/unknown check family "nope"/);
  });

  test("JSON5 syntax errors are located by line", () => {
    expect(json5ErrorLine("{\n  a: 1,\n  b: [[\n    1,\n  ],\n  c: 2,\n}\n")).toBe(6);
  });

  test("mapLimit keeps order and never runs more than the limit at once", async () => {
    let running = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await Bun.sleep(n);
      running--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(peak).toBe(2);
  });
});

// ---- dev check: the zod schemas against the upstream schemas in ../shared/reference (not needed at run time)
const REF = path.resolve(import.meta.dir, "../../../shared/reference");
const haveRef = existsSync(REF);
const devCheck = haveRef ? describe : describe.skip;

/** Keys of a zod object schema, through optional/nullable wrappers. */
function objectKeys(s: z.ZodType): string[] | undefined {
  let cur: unknown = s;
  for (let i = 0; i < 5; i++) {
    const c = cur as { shape?: Record<string, z.ZodType>; unwrap?: () => unknown };
    if (c.shape) return Object.keys(c.shape);
    if (typeof c.unwrap === "function") cur = c.unwrap();
    else return undefined;
  }
  return undefined;
}
function child(s: z.ZodType, key: string): z.ZodType | undefined {
  let cur: unknown = s;
  for (let i = 0; i < 5; i++) {
    const c = cur as { shape?: Record<string, z.ZodType>; unwrap?: () => unknown };
    if (c.shape) return c.shape[key];
    if (typeof c.unwrap === "function") cur = c.unwrap();
    else return undefined;
  }
  return undefined;
}
function element(s: z.ZodType): z.ZodType | undefined {
  let cur: unknown = s;
  for (let i = 0; i < 5; i++) {
    const c = cur as { element?: z.ZodType; unwrap?: () => unknown };
    if (c.element) return c.element;
    if (typeof c.unwrap === "function") cur = c.unwrap();
    else return undefined;
  }
  return undefined;
}

/** Every key the zod schema accepts exists in the OpenAPI schema, at every level both describe as objects. */
function compare(zs: z.ZodType, api: Record<string, unknown>, where: string, out: string[]): void {
  const props = (api.properties ?? {}) as Record<string, Record<string, unknown>>;
  const keys = objectKeys(zs);
  if (!keys) return;
  for (const k of keys) {
    if (!(k in props)) {
      out.push(`${where}.${k}`);
      continue;
    }
    const sub = child(zs, k)!;
    const p = props[k]!;
    if (p.type === "object") compare(sub, p, `${where}.${k}`, out);
    if (p.type === "array" && (p.items as Record<string, unknown>)?.type === "object") {
      const el = element(sub);
      if (el) compare(el, p.items as Record<string, unknown>, `${where}.${k}[]`, out);
    }
  }
}

devCheck("dev check: zod schemas vs ../shared/reference", () => {
  test("Cilium kinds accept only fields of the v1.17 CRDs (v2alpha1)", () => {
    const files: Record<string, string> = {
      CiliumBGPClusterConfig: "ciliumbgpclusterconfigs.yaml",
      CiliumBGPPeerConfig: "ciliumbgppeerconfigs.yaml",
      CiliumBGPAdvertisement: "ciliumbgpadvertisements.yaml",
      CiliumBGPNodeConfigOverride: "ciliumbgpnodeconfigoverrides.yaml",
      CiliumLoadBalancerIPPool: "ciliumloadbalancerippools.yaml",
    };
    const extra: string[] = [];
    for (const [kind, file] of Object.entries(files)) {
      const crd = parse(readFileSync(path.join(REF, "crds/cilium-v1.17", file), "utf8"));
      const v = crd.spec.versions.find((x: { name: string }) => x.name === "v2alpha1");
      const spec = v.schema.openAPIV3Schema.properties.spec;
      compare(child(CILIUM_SCHEMAS[kind]!, "spec")!, spec, kind, extra);
      // and every field the CRD documents at the spec's top level is known to zod
      expect(Object.keys(spec.properties).sort(), kind).toEqual(objectKeys(child(CILIUM_SCHEMAS[kind]!, "spec")!)!.sort());
    }
    expect(extra).toEqual([]);
  });

  test("Talos patch, UserVolumeConfig and talconfig schemas accept only documented fields", () => {
    const talos = JSON.parse(readFileSync(path.join(REF, "schemas/talos-v1.10.5-config.schema.json"), "utf8"));
    const defs = talos.$defs as Record<string, Record<string, unknown>>;
    // resolve $ref so nested objects can be compared
    const resolve = (s: Record<string, unknown>): Record<string, unknown> => {
      if (typeof s.$ref === "string") return resolve(defs[s.$ref.replace("#/$defs/", "")]!);
      const props = s.properties as Record<string, Record<string, unknown>> | undefined;
      if (!props) return s;
      const out: Record<string, unknown> = { ...s, type: "object", properties: {} };
      for (const [k, v] of Object.entries(props)) {
        const r = typeof v.$ref === "string" ? resolve(v) : v;
        const items = r.items as Record<string, unknown> | undefined;
        (out.properties as Record<string, unknown>)[k] =
          r.type === "array" && items && typeof items.$ref === "string" ? { ...r, items: resolve(items) } : r.properties ? resolve(r) : r;
      }
      return out;
    };
    const extra: string[] = [];
    compare(machineConfigPatch, resolve(defs["v1alpha1.Config"]!), "machineconfig", extra);
    compare(userVolumeConfig, resolve(defs["block.UserVolumeConfigV1Alpha1"]!), "UserVolumeConfig", extra);
    const tal = JSON.parse(readFileSync(path.join(REF, "schemas/talhelper-talconfig.schema.json"), "utf8"));
    const tdefs = tal.$defs as Record<string, Record<string, unknown>>;
    compare(talconfig, { ...tdefs.TalhelperConfig!, type: "object" }, "talconfig", extra);
    compare(talconfigNode, { ...tdefs.Node!, type: "object" }, "talconfig.nodes[]", extra);
    // `persist` (and machine.disks, install.extensions) are deprecated but still accepted by Talos 1.10
    expect(extra.filter((e) => !/\.(persist|disks|extensions)$/.test(e))).toEqual([]);
  });
});

describe("secrets scan cache (scripts/validate.ts keeps it in .home-ops/cache/)", () => {
  const token = () => `${"ghp_"}${"Q".repeat(36)}`;

  test("a file unchanged since the last run is not read again; a changed one is, even with its old size and mtime", async () => {
    const { FileResultCache } = await import("../../lib/checks/files.ts");
    const { mkdtempSync, rmSync, statSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(path.join(tmpdir(), "home-ops-scan-cache-"));
    try {
      const file = path.join(dir, "a.yaml");
      const cacheFile = path.join(dir, "cache.json");
      writeFileSync(file, "key: aaaa\n");
      let computed = 0;
      const scan = (cache: InstanceType<typeof FileResultCache<string>>) =>
        cache.get("a.yaml", file, () => (computed++, readFileSync(file, "utf8")));
      // racyMs 0: the file was just written; the default keeps nothing changed within 2 s
      const first = new FileResultCache<string>(cacheFile, "rules-1", 0);
      expect(scan(first)).toBe("key: aaaa\n");
      first.save();
      const mtime = statSync(file).mtimeMs;
      const second = new FileResultCache<string>(cacheFile, "rules-1", 0);
      expect(scan(second)).toBe("key: aaaa\n");
      expect(computed).toBe(1);
      // same size, mtime set back to the nanosecond (touch -r): the ctime still moved
      const ref = path.join(dir, "ref");
      writeFileSync(ref, "");
      const touch = (from: string, to: string) => expect(Bun.spawnSync(["touch", "-r", from, to]).exitCode).toBe(0);
      touch(file, ref);
      writeFileSync(file, "key: bbbb\n");
      touch(ref, file);
      expect(statSync(file).mtimeMs).toBe(mtime);
      expect(scan(new FileResultCache<string>(cacheFile, "rules-1", 0))).toBe("key: bbbb\n");
      expect(computed).toBe(2);
      // other rules: nothing reused
      expect(scan(new FileResultCache<string>(cacheFile, "rules-2", 0))).toBe("key: bbbb\n");
      expect(computed).toBe(3);
      // a file changed just now is computed but not kept
      const racy = new FileResultCache<string>(cacheFile, "rules-3");
      scan(racy);
      racy.save();
      expect(JSON.parse(readFileSync(cacheFile, "utf8")).entries).toEqual({});
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("validate finds a token written after a warm run", async () => {
    const { validateRepo } = await import("../../lib/checks/index.ts");
    const { cleanup, copyRepo } = await import("../fixtures/broken/harness.ts");
    const { appendFileSync } = await import("node:fs");
    const dir = copyRepo();
    try {
      const secretsCacheFile = path.join(dir, ".home-ops/cache/validate-secrets.json");
      const opts = { only: ["secrets" as const], render: false, secretsCacheFile };
      expect((await validateRepo(dir, opts)).findings).toEqual([]);
      expect((await validateRepo(dir, opts)).findings).toEqual([]);
      expect(existsSync(secretsCacheFile)).toBe(true);
      appendFileSync(path.join(dir, ".mise.toml"), `\n# ${token()}\n`);
      const after = await validateRepo(dir, opts);
      expect(after.findings.map((f) => `${f.id} ${f.file}`)).toEqual(["secrets/token .mise.toml"]);
    } finally {
      cleanup(dir);
    }
  }, 60_000);

  test("flux/substitute-from-missing's fix names where the repo keeps the ConfigMaps it substitutes from", async () => {
    const { validateRepo } = await import("../../lib/checks/index.ts");
    const { loadRepo } = await import("../../lib/repo/load.ts");
    const { applyEdits, cleanup, copyRepo, loadFixtures } = await import("../fixtures/broken/harness.ts");
    const dir = copyRepo();
    try {
      const settings = loadRepo(dir).documents.find((d) => d.kind === "ConfigMap" && d.name === "cluster-settings")!;
      applyEdits(dir, loadFixtures().find((f) => f.name === "flux-substitute-from-missing")!.edits);
      const f = (await validateRepo(dir, { only: ["flux"] })).findings.find((x) => x.id === "flux/substitute-from-missing")!;
      expect(f.fix).toBe(`add the ConfigMap (next to cluster-settings in ${path.dirname(settings.file)}) or mark the reference optional`);
    } finally {
      cleanup(dir);
    }
  }, 60_000);

  test("a scan finding's fix names the repo's own secret store (the scan alone, generically)", async () => {
    const { validateRepo } = await import("../../lib/checks/index.ts");
    const { scanText } = await import("../../lib/checks/secrets.ts");
    const { loadRepo } = await import("../../lib/repo/load.ts");
    const { cleanup, copyRepo } = await import("../fixtures/broken/harness.ts");
    const { appendFileSync } = await import("node:fs");
    expect(scanText("a.md", `${token()}\n`)[0]!.fix).toContain("the repo's secret store");
    const dir = copyRepo();
    try {
      const store = loadRepo(dir).secretStores.find((s) => s.kind === "ClusterSecretStore")!;
      appendFileSync(path.join(dir, ".mise.toml"), `\n# ${token()}\n`);
      const [f] = (await validateRepo(dir, { only: ["secrets"], render: false })).findings;
      expect(f!.fix).toContain(`the ClusterSecretStore \`${store.name}\``);
      expect(f!.fix).not.toContain("the repo's secret store");
    } finally {
      cleanup(dir);
    }
  }, 60_000);

  test("validate finds a duplicate key written after a warm run (yaml cache)", async () => {
    const { validateRepo } = await import("../../lib/checks/index.ts");
    const { listRepoFiles } = await import("../../lib/checks/files.ts");
    const { cleanup, copyRepo } = await import("../fixtures/broken/harness.ts");
    const { appendFileSync } = await import("node:fs");
    const dir = copyRepo();
    try {
      const yamlCacheFile = path.join(dir, ".home-ops/cache/validate-yaml.json");
      const opts = { only: ["yaml" as const], render: false, yamlCacheFile };
      expect((await validateRepo(dir, opts)).findings).toEqual([]);
      expect((await validateRepo(dir, opts)).findings).toEqual([]);
      expect(existsSync(yamlCacheFile)).toBe(true);
      // a one-document manifest: a second `kind:` at its top level runs two objects together
      const oneDocument = (t: string) => /^kind: /m.test(t) && !/^---/m.test(t.replace(/^---[^\n]*\n/, ""));
      const file = listRepoFiles(dir, ["kubernetes"]).find((f) => /\.ya?ml$/.test(f.rel) && oneDocument(readFileSync(f.abs, "utf8")))!;
      appendFileSync(file.abs, "kind: Again\n");
      const after = await validateRepo(dir, opts);
      expect(after.findings.map((f) => `${f.id} ${f.file}`)).toContain(`yaml/missing-separator ${file.rel}`);
    } finally {
      cleanup(dir);
    }
  }, 60_000);
});

describe("schema result cache (scripts/validate.ts keeps it in .home-ops/cache/)", () => {
  test("reuses results of unchanged documents, recomputes changed ones, survives a corrupt file", async () => {
    const { validateRepo } = await import("../../lib/checks/index.ts");
    const { applyEdits, cleanup, copyRepo, loadFixtures } = await import("../fixtures/broken/harness.ts");
    const { writeFileSync } = await import("node:fs");
    const dir = copyRepo();
    try {
      const cacheFile = path.join(dir, ".home-ops/cache/validate-schema.json");
      expect((await validateRepo(dir, { cacheFile })).findings).toEqual([]);
      const saved = JSON.parse(readFileSync(cacheFile, "utf8"));
      expect(Object.keys(saved.entries).length).toBeGreaterThan(20);
      applyEdits(dir, loadFixtures().find((f) => f.name === "schema-unknown-field-deployment")!.edits);
      const again = await validateRepo(dir, { cacheFile });
      expect(again.findings.map((f) => f.id)).toEqual(["schema/unknown-field"]);
      writeFileSync(cacheFile, "{ not json");
      expect((await validateRepo(dir, { cacheFile })).findings.map((f) => f.id)).toEqual(["schema/unknown-field"]);
    } finally {
      cleanup(dir);
    }
  }, 60_000);
});
