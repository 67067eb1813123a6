/**
 * The labels a node registers with, as the repo model computes them once from talos/: the kubelet's own, the
 * control-plane role Talos adds, talconfig nodeLabels (group, then node) and machine.nodeLabels of the patches that
 * apply to the node; and the repo's own nodes carry them.
 */
import { expect, test } from "bun:test";
import path from "node:path";
import { talosNodeLabels } from "../../lib/repo/node-labels.ts";
import { loadRepo } from "../../lib/repo/model.ts";
import type { TalosPatch } from "../../lib/repo/model.ts";

const patch = (appliedTo: string[], nodeLabels: Record<string, string>) => ({ file: "p.yaml", scope: "x", appliedTo, docs: [{ object: { machine: { nodeLabels } } }] }) as unknown as TalosPatch;

test("kubelet, Talos, patches, talconfig group and node labels, later ones winning", () => {
  const cfg = { controlPlane: { nodeLabels: { tier: "group", zone: "a" } }, worker: { nodeLabels: { tier: "worker" } } };
  const patches = [patch(["global"], { rack: "r1", zone: "patched" }), patch(["node:w1"], { disk: "ssd" }), patch(["worker"], { pool: "w" })];
  expect(talosNodeLabels(cfg, { hostname: "cp1", controlPlane: true, nodeLabels: { zone: "b" } }, patches)).toEqual({
    "kubernetes.io/hostname": "cp1",
    "kubernetes.io/os": "linux",
    "node-role.kubernetes.io/control-plane": "",
    rack: "r1",
    tier: "group",
    zone: "b",
  });
  expect(talosNodeLabels(cfg, { hostname: "w1" }, patches)).toEqual({
    "kubernetes.io/hostname": "w1",
    "kubernetes.io/os": "linux",
    rack: "r1",
    zone: "patched",
    disk: "ssd",
    pool: "w",
    tier: "worker",
  });
});

test("the repo's nodes carry their hostname and role as labels", () => {
  const model = loadRepo(path.resolve(import.meta.dir, "../.."));
  expect(model.nodes.length).toBeGreaterThan(0);
  for (const n of model.nodes) {
    expect(n.labels["kubernetes.io/hostname"]).toBe(n.hostname);
    expect("node-role.kubernetes.io/control-plane" in n.labels).toBe(n.controlPlane);
  }
});
