// A mapping key written `*app:` (an alias of `&app`, then a colon), as app-template HelmReleases of public home-ops
// repos write it: kustomize and Flux (go-yaml, like libyaml and PyYAML) read the alias `app`; the loader must too.
import { describe, expect, test } from "bun:test";
import { validateRepo } from "../../lib/checks/index.ts";
import { aliasKeysAsGoYaml, fastParse, slowParse } from "../../lib/repo/yaml.ts";
import { minimalVariants } from "../helpers/repo-variant.ts";

const variant = minimalVariants("yaml-alias-keys");
const TEXT = `name: &app ipmi-exporter
controllers:
  *app:
    strategy: RollingUpdate
containers:
  - *app: first
note: "*app: inside a string stays"
`;
const GO_YAML = { name: "ipmi-exporter", controllers: { "ipmi-exporter": { strategy: "RollingUpdate" } }, containers: [{ "ipmi-exporter": "first" }], note: "*app: inside a string stays" };

describe("alias keys read as go-yaml reads them", () => {
  test("both parsers give kustomize's reading, on the same lines", () => {
    expect(fastParse(TEXT)).toEqual(GO_YAML);
    const { docs } = slowParse(TEXT);
    expect(docs[0]!.errors).toEqual([]);
    expect(docs[0]!.toJS()).toEqual(GO_YAML);
    expect(aliasKeysAsGoYaml(TEXT).split("\n").length).toBe(TEXT.split("\n").length);
  });

  test("only a key whose anchor the text defines; an anchor named with a colon keeps YAML 1.2's reading", () => {
    expect(aliasKeysAsGoYaml("a:\n  *other: 1\n")).toBe("a:\n  *other: 1\n");
    expect(aliasKeysAsGoYaml("x: &b: 1\ny:\n  *b: 2\n")).toBe("x: &b: 1\ny:\n  *b: 2\n");
  });

  test("validate reads such a HelmRelease without a yaml finding", async () => {
    const dir = variant({ "kubernetes/apps/default/ipmi/helmrelease.yaml": `apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: &app ipmi\nspec:\n  values:\n    controllers:\n      *app:\n        strategy: RollingUpdate\n` });
    const r = await validateRepo(dir, { only: ["yaml"], render: false });
    expect(r.findings.filter((f) => f.file.endsWith("ipmi/helmrelease.yaml"))).toEqual([]);
  });
});
