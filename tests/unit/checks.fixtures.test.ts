import { describe, expect, test } from "bun:test";
import { validateRepo } from "../../lib/checks/index.ts";
import { applyEdits, cleanup, copyRepo, expectedLine, loadFixtures, REPO_ROOT } from "../fixtures/broken/harness.ts";

/**
 * Every broken-repo fixture produces exactly its finding (id, file, line, severity) and nothing else; the real repo
 * produces none. Fixtures needing the real kubectl run in tests/integration/validate-build.test.ts.
 */
const fixtures = loadFixtures();

test("there are at least 40 broken-repo fixtures, covering every check family", () => {
  expect(fixtures.length).toBeGreaterThanOrEqual(40);
  const families = new Set(fixtures.map((f) => f.expect.id.split("/")[0]));
  for (const fam of ["yaml", "schema", "kustomize", "flux", "ipam", "bgp", "talos", "versions", "secrets"]) expect(families).toContain(fam);
});

test("the repo itself has zero findings (errors and warnings)", async () => {
  const r = await validateRepo(REPO_ROOT);
  expect(r.findings).toEqual([]);
  expect(r.loadFailed).toBe(false);
}, 30_000);

describe("broken fixtures", () => {
  for (const f of fixtures.filter((x) => !x.build)) {
    test(`${f.name}: ${f.expect.id}`, async () => {
      const dir = copyRepo();
      let line: number;
      let r: Awaited<ReturnType<typeof validateRepo>>;
      try {
        applyEdits(dir, f.edits);
        line = expectedLine(dir, f);
        r = await validateRepo(dir);
      } finally {
        cleanup(dir);
      }
      const mine = r.findings.filter((x) => x.id === f.expect.id);
      const others = r.findings.filter((x) => x.id !== f.expect.id && !(f.also ?? []).includes(x.id));
      const show = (xs: typeof r.findings) => xs.map((x) => `${x.id} ${x.file}:${x.line} ${x.message}`);
      expect(show(others)).toEqual([]);
      expect(mine.length).toBe(f.expect.count ?? 1);
      expect({ id: mine[0]?.id, file: mine[0]?.file, line: mine[0]?.line, severity: mine[0]?.severity }).toEqual({
        id: f.expect.id,
        file: f.expect.file,
        line,
        severity: f.expect.severity ?? "error",
      });
      for (const id of f.also ?? []) expect(r.findings.map((x) => x.id)).toContain(id);
      expect(mine[0]!.message.length).toBeGreaterThan(10);
      expect(mine[0]!.fix.length).toBeGreaterThan(5);
    }, 30_000);
  }
});
