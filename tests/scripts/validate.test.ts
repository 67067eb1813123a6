import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { runScript } from "../helpers/script.ts";
import { applyEdits, cleanup, copyRepo, loadFixtures } from "../fixtures/broken/harness.ts";

/** scripts/validate.ts as a process: output grouped by file, --json, --only, --strict, --root, exit codes 0/1/2. */
const root = path.resolve(import.meta.dir, "../..");

const validate = (args: string[]) => runScript("validate", args);

function brokenCopy(...names: string[]): string {
  const fixtures = loadFixtures();
  const dir = copyRepo();
  for (const n of names) applyEdits(dir, fixtures.find((f) => f.name === n)!.edits);
  return dir;
}

describe("scripts/validate.ts", () => {
  test("the repo itself: exit 0 and a clean summary", async () => {
    const r = await validate([]);
    expect(r.stderr).not.toContain("error:");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/no errors or warnings \(\d+ documents checked by 9 check families/);
  }, 60_000);

  test("--json on the repo: one document, ok, no findings", async () => {
    const r = await validate(["--json"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.ok).toBe(true);
    expect(doc.findings).toEqual([]);
    expect(doc.families).toHaveLength(9);
    expect(doc.summary.documents).toBeGreaterThan(50);
  }, 60_000);

  test("a second run on an unchanged repo reuses the result and says so; an edit or --no-cache checks again", async () => {
    const dir = copyRepo();
    try {
      // a file changed in the last 2 s is never trusted to the result cache: the copy must age first
      await Bun.sleep(2100);
      const first = await validate(["--root", dir]);
      expect(first.code).toBe(0);
      expect(first.stdout).not.toContain("nothing changed since the last run");
      const second = await validate(["--root", dir]);
      expect(second.code).toBe(0);
      expect(second.stdout).toContain("nothing changed since the last run: its result was reused (--no-cache checks again)");
      // --json is another way to print the same result; --only asks for another one
      expect(JSON.parse((await validate(["--root", dir, "--json"])).stdout).summary.fromCache).toBe(true);
      expect(JSON.parse((await validate(["--root", dir, "--json", "--only", "yaml"])).stdout).summary.fromCache).toBe(false);
      expect((await validate(["--root", dir, "--no-cache"])).stdout).not.toContain("nothing changed");
      applyEdits(dir, loadFixtures().find((f) => f.name === "ipam-pool-in-node-vlan")!.edits);
      const edited = await validate(["--root", dir]);
      expect(edited.code).toBe(1);
      expect(edited.stdout).toContain("ipam/pool-in-node-vlan");
      expect(edited.stdout).not.toContain("nothing changed");
    } finally {
      cleanup(dir);
    }
  }, 90_000);

  test("a broken repo: exit 1, findings grouped by file with line, id, message and fix", async () => {
    const dir = brokenCopy("bgp-cause-3-advertisement-not-selected", "ipam-pool-in-node-vlan");
    try {
      const r = await validate(["--root", dir]);
      expect(r.code).toBe(1);
      const lines = r.stdout.split("\n");
      const at = lines.indexOf("kubernetes/apps/kube-system/cilium/config/bgp.yaml");
      expect(at).toBeGreaterThanOrEqual(0);
      expect(lines[at + 1]).toMatch(/^\s+\d+\s+FAIL bgp\/cause-3-advertisement-not-selected: cause 3: /);
      expect(lines[at + 2]).toMatch(/^\s+fix: /);
      expect(lines).toContain("kubernetes/apps/kube-system/cilium/config/pools.yaml");
      expect(r.stdout).toMatch(/FAIL 2 errors, 0 warnings in 2 files/);
    } finally {
      cleanup(dir);
    }
  }, 60_000);

  test("--json on a broken repo: exit 1, findings with id, severity, file, line, message, fix", async () => {
    const dir = brokenCopy("talos-kube-proxy");
    try {
      const r = await validate(["--root", dir, "--json"]);
      expect(r.code).toBe(1);
      const doc = JSON.parse(r.stdout);
      expect(doc.ok).toBe(false);
      expect(doc.findings).toHaveLength(1);
      expect(Object.keys(doc.findings[0]).sort()).toEqual(["file", "fix", "id", "line", "message", "severity"]);
      expect(doc.findings[0]).toMatchObject({ id: "talos/kube-proxy", severity: "error", file: "talos/patches/global/cluster-network.yaml" });
    } finally {
      cleanup(dir);
    }
  }, 60_000);

  test("--only runs just those families", async () => {
    const dir = brokenCopy("ipam-pool-overlap");
    try {
      expect((await validate(["--root", dir, "--only", "bgp,talos"])).code).toBe(0);
      const r = await validate(["--root", dir, "--only", "ipam", "--json"]);
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout).families).toEqual(["ipam"]);
    } finally {
      cleanup(dir);
    }
  }, 60_000);

  test("--strict makes warnings fail", async () => {
    const dir = brokenCopy("bgp-cluster-scoped-namespace");
    try {
      const lenient = await validate(["--root", dir]);
      expect(lenient.code).toBe(0);
      expect(lenient.stdout).toMatch(/0 errors, 1 warning in 1 file/);
      expect((await validate(["--root", dir, "--strict"])).code).toBe(1);
    } finally {
      cleanup(dir);
    }
  }, 60_000);

  test("usage and unreadable roots exit 2 with one sentence and nothing else", async () => {
    const bad = await validate(["--only", "bgp,nope"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown check family "nope"');
    expect(bad.stdout).toBe("");
    const missing = await validate(["--root", "/nonexistent/home-ops"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("is not a directory");
    const empty = mkdtempSync(path.join(tmpdir(), "home-ops-empty-"));
    try {
      const r = await validate(["--root", empty]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("is not a home-ops repo");
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
    expect((await validate(["stray-argument"])).code).toBe(2);
  }, 60_000);
});
