/**
 * Talos input the talos checks read and the input they do not: talhelper's inline `schematic:` gives the installer
 * image its Image Factory ID (no TALOS_SCHEMATIC_ID needed), and a talconfig.yaml outside talos/, or machine-config
 * templates in a subfolder, get one note naming them instead of a silent pass.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import path from "node:path";
import { MINIMAL_FIXTURE, minimalVariants } from "../helpers/repo-variant.ts";
import { parse } from "yaml";
import { talosCheck } from "../../lib/checks/talos.ts";
import { loadRepo, schematicId } from "../../lib/repo/model.ts";
import { TALHELPER_CONFIG } from "../../lib/repo/talos-inputs.ts";

const ROOT = path.resolve(import.meta.dir, "../..");
const FIXTURE = MINIMAL_FIXTURE;
/** A copy of the minimal fixture with some files replaced (path -> content; null deletes a file or folder). */
const variant = minimalVariants("talos-inputs");

const fixtureTalconfig = readFileSync(path.join(FIXTURE, TALHELPER_CONFIG), "utf8");
const fixtureEnv = parse(readFileSync(path.join(FIXTURE, "talos/talenv.yaml"), "utf8")) as Record<string, string>;

/** The fixture's talconfig with text added under its one node and at the top level. */
function talconfigWith(node: string, top = ""): string {
  const nodeLine = fixtureTalconfig.split("\n").find((l) => /^\s+- hostname:/.test(l))!;
  const indent = " ".repeat(nodeLine.indexOf("-") + 2);
  const nodeText = node.split("\n").map((l) => (l ? indent + l : l)).join("\n");
  return fixtureTalconfig.replace(nodeLine, `${nodeLine}\n${nodeText}`) + top;
}

const schematicYaml = (extensions: string[], args: string[]) =>
  `schematic:\n  customization:\n    extraKernelArgs:\n${args.map((a) => `      - ${a}\n`).join("")}    systemExtensions:\n      officialExtensions:\n${extensions.map((e) => `        - ${e}\n`).join("")}`;

const talosFindings = (root: string) => talosCheck(loadRepo(root, { mode: "lenient" }));

describe("an inline talhelper schematic builds the installer image", () => {
  const extensions = ["siderolabs/iscsi-tools", "siderolabs/util-linux-tools"];
  const args = ["net.ifnames=0"];

  test("a node's own schematic, no TALOS_SCHEMATIC_ID: the installer carries the schematic's ID, no installer-image finding", () => {
    const root = variant({ [TALHELPER_CONFIG]: talconfigWith(schematicYaml(extensions, args)) });
    const model = loadRepo(root, { mode: "lenient" });
    expect(model.talos.env.TALOS_SCHEMATIC_ID).toBeUndefined();
    const id = schematicId({ extensions, extraKernelArgs: args });
    expect(model.nodes[0]!.schematic.id).toBe(id);
    expect(model.nodes[0]!.installerImage).toBe(`factory.talos.dev/installer/${id}:${fixtureEnv.TALOS_VERSION}`);
    expect(talosCheck(model).filter((f) => f.id === "talos/installer-image" || f.id === "talos/schematic-id")).toEqual([]);
  });

  test("without any schematic the installer is the plain one, and that is still an error", () => {
    const findings = talosFindings(variant({}));
    expect(findings.filter((f) => f.id === "talos/installer-image").map((f) => f.message)).toEqual([
      expect.stringContaining("carries no Image Factory schematic"),
    ]);
  });

  test("a worker takes worker.schematic, not controlPlane.schematic (talhelper's per-role schematic)", () => {
    const workerExt = ["siderolabs/i915"];
    const cpExt = ["siderolabs/intel-ucode"];
    const nested = (yaml: string) => `  ${yaml.replace(/\n(?=.)/g, "\n  ")}`;
    const talconfig = talconfigWith("", `controlPlane:\n${nested(schematicYaml(cpExt, args))}worker:\n${nested(schematicYaml(workerExt, args))}`)
      .replace("controlPlane: true", "controlPlane: false");
    const model = loadRepo(variant({ [TALHELPER_CONFIG]: talconfig }), { mode: "lenient" });
    const worker = model.nodes[0]!;
    expect(worker.controlPlane).toBe(false);
    expect(worker.schematic.extensions).toEqual(workerExt);
    expect(worker.installerImage).toContain(schematicId({ extensions: workerExt, extraKernelArgs: args }));
    // the model's schematic is still the control planes'; the installer check judges the node's own
    expect(model.schematic.extensions).toEqual(cpExt);
    expect(talosCheck(model).filter((f) => f.id === "talos/installer-image")).toEqual([]);
  });

  test("a pinned TALOS_SCHEMATIC_ID still wins, and a pin that is not the schematic's ID is still reported", () => {
    const env = readFileSync(path.join(FIXTURE, "talos/talenv.yaml"), "utf8");
    const wrong = schematicId({ extensions: ["siderolabs/other"] });
    const root = variant({
      [TALHELPER_CONFIG]: `${fixtureTalconfig}controlPlane:\n  ${schematicYaml(extensions, args).replace(/\n(?=.)/g, "\n  ")}`,
      "talos/talenv.yaml": `${env}TALOS_SCHEMATIC_ID: ${wrong}\n`,
    });
    const model = loadRepo(root, { mode: "lenient" });
    expect(model.nodes[0]!.schematic.id).toBe(wrong);
    const ids = talosCheck(model).filter((f) => f.id === "talos/schematic-id");
    expect(ids).toHaveLength(1);
    expect(ids[0]!.file).toBe("talos/talenv.yaml");
  });
});

describe("Talos input the checks do not read: one note naming it, never a silent pass", () => {
  const moved = (to: string) => ({ talos: null, [`${to}/talconfig.yaml`]: fixtureTalconfig, [`${to}/talenv.yaml`]: readFileSync(path.join(FIXTURE, "talos/talenv.yaml"), "utf8") });

  test("kubernetes/bootstrap/talos/talconfig.yaml (cluster-template layout): one info naming it, no error", () => {
    const findings = talosFindings(variant(moved("kubernetes/bootstrap/talos")));
    expect(findings.map((f) => [f.id, f.severity, f.file])).toEqual([["talos/talconfig-not-read", "info", "kubernetes/bootstrap/talos/talconfig.yaml"]]);
    expect(findings[0]!.message).toContain("did not run");
  });

  test("one talconfig per cluster (kubernetes/talos/cluster-0, cluster-1): one info naming both", () => {
    const root = variant({ ...moved("kubernetes/talos/cluster-0"), ...moved("kubernetes/talos/cluster-1") });
    const findings = talosFindings(root);
    expect(findings.map((f) => f.id)).toEqual(["talos/talconfig-not-read"]);
    for (const c of ["cluster-0", "cluster-1"]) expect(findings[0]!.message).toContain(`kubernetes/talos/${c}/talconfig.yaml`);
  });

  test("talos/talconfig.yaml is checked, and a second talconfig elsewhere is named as not read", () => {
    const findings = talosFindings(variant({ "kubernetes/talos/lab/talconfig.yaml": fixtureTalconfig }));
    const notes = findings.filter((f) => f.severity === "info" && f.id.startsWith("talos/talconfig"));
    expect(notes.map((f) => f.file)).toEqual(["kubernetes/talos/lab/talconfig.yaml"]);
    expect(notes[0]!.message).toContain(`only ${TALHELPER_CONFIG} was checked`);
    // the talhelper checks ran on talos/talconfig.yaml
    expect(findings.some((f) => f.id === "talos/encryption")).toBe(true);
  });

  test("machine-config templates one folder down (talos/<cluster>/*.yaml.j2): the not-talhelper note names them", () => {
    const findings = talosFindings(variant({ talos: null, "talos/main/machineconfig.yaml.j2": "machine:\n  type: {{ machinetype }}\n" }));
    expect(findings.map((f) => [f.id, f.severity, f.file])).toEqual([["talos/not-talhelper", "info", "talos/main/machineconfig.yaml.j2"]]);
  });

  test("talhelper output and no Talos input at all: nothing to say", () => {
    expect(talosFindings(variant({ talos: null }))).toEqual([]);
    expect(talosFindings(variant({ talos: null, "kubernetes/bootstrap/talos/clusterconfig/tiny-n1.yaml": "machine: {}\n" }))).toEqual([]);
  });
});
