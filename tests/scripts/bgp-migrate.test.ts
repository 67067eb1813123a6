/**
 * bgp-migrate as a process on repos built from the real v1 fixtures (tests/fixtures/bgp): --dry-run shows the file
 * and writes nothing, a run writes it next to the policy, --json carries the proof, and a configuration whose v2
 * translation would announce something else is refused with exit 1 and the reasons.
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { cleanup, fixtureRepo, loadBgpFixtures } from "../fixtures/bgp/harness.ts";

const SCRIPT = path.resolve(import.meta.dir, "../../scripts/bgp-migrate.ts");
const fixtures = loadBgpFixtures();
const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

function repoOf(name: string): string {
  const dir = fixtureRepo(fixtures.find((f) => f.name === name)!);
  dirs.push(dir);
  // the toolkit finds the repo root by package.json + scripts/
  writeFileSync(path.join(dir, "package.json"), "{}\n");
  mkdirSync(path.join(dir, "scripts"), { recursive: true });
  return dir;
}

async function run(dir: string, args: string[]) {
  const p = Bun.spawn(["bun", SCRIPT, ...args], { cwd: dir, env: { ...process.env, NO_COLOR: "1" }, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { stdout, stderr, code };
}

const target = (dir: string) => path.join(dir, "kubernetes/apps/kube-system/cilium/config/bgp-v2.yaml");

test("--dry-run prints the v2 file and the proof, writes nothing; a run writes it; --json has the plan", async () => {
  const dir = repoOf("blackjid-v1-l3-policy");
  const dry = await run(dir, ["--dry-run"]);
  expect(dry.code, dry.stderr).toBe(0);
  expect(dry.stdout).toContain("+ kind: CiliumBGPClusterConfig");
  expect(dry.stdout).toMatch(/equivalent: the same 3 announcement/);
  expect(existsSync(target(dir))).toBe(false);
  const real = await run(dir, []);
  expect(real.code, real.stderr).toBe(0);
  const kinds = parseAllDocuments(readFileSync(target(dir), "utf8")).map((d) => (d.toJS() as { kind: string }).kind);
  expect(kinds.sort()).toEqual(["CiliumBGPAdvertisement", "CiliumBGPClusterConfig", "CiliumBGPPeerConfig"]);
  const j = await run(dir, ["--json", "--dry-run"]);
  const plan = JSON.parse(j.stdout);
  expect(plan).toMatchObject({ equivalent: true, before: 3, after: 3, differences: [], policies: ["l3-policy"] });
}, 60_000);

test("a duplicate localASN: the router that never ran is left out, said so, and the rest is equivalent", async () => {
  const dir = repoOf("blackjid-v1-duplicate-asn");
  const r = await run(dir, ["--dry-run"]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr + r.stdout).toContain("never ran");
}, 60_000);

test("v1 next to v2: not equivalent, the lost announcements and their cause listed, nothing written, exit 1", async () => {
  const dir = repoOf("blackjid-v1v2-migration-midway");
  const r = await run(dir, []);
  expect(r.code).toBe(1);
  expect(r.stdout).toContain("Not equivalent");
  expect(r.stdout).toContain("cause 8");
  expect(existsSync(target(dir))).toBe(false);
}, 60_000);
