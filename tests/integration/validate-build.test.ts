import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { validateRepo } from "../../lib/checks/index.ts";
import { applyEdits, cleanup, copyRepo, expectedLine, loadFixtures, REPO_ROOT } from "../fixtures/broken/harness.ts";

/**
 * `validate --build`: the real `kubectl kustomize` on every kustomization, concurrently; its errors are findings at
 * the kustomization they come from. the kubectl of the pinned Kubernetes minor that .ci/run installs (HOMEOPS_KUBECTL), else the one on PATH.
 */
const KUBECTL = [process.env.HOMEOPS_KUBECTL, Bun.which("kubectl")].find((p): p is string => !!p && existsSync(p));
const CI = process.env.CI === "true";
if (!KUBECTL && !CI) console.warn("tests/integration/validate-build: skipped, kubectl is not installed");
const maybe = KUBECTL || CI ? describe : describe.skip;

maybe("validate --build (real kubectl kustomize)", () => {
  test("the repo builds: zero findings with --build", async () => {
    const r = await validateRepo(REPO_ROOT, { build: { kubectl: KUBECTL } });
    expect(r.findings.map((f) => `${f.id} ${f.file}:${f.line} ${f.message}`)).toEqual([]);
  }, 180_000);

  for (const f of loadFixtures().filter((x) => x.build)) {
    test(`${f.name}: ${f.expect.id} at its kustomization`, async () => {
      const dir = copyRepo();
      try {
        applyEdits(dir, f.edits);
        const line = expectedLine(dir, f);
        // validate renders every Flux path with the real kustomize, so it sees the fault with or without --build,
        // once, at the kustomization, with kustomize's own message (not kubectl's log header)
        for (const build of [false, { kubectl: KUBECTL }] as const) {
          const r = await validateRepo(dir, { build });
          expect(r.findings.map((x) => ({ id: x.id, file: x.file, line: x.line }))).toEqual([{ id: f.expect.id, file: f.expect.file, line }]);
          expect(r.findings[0]!.message).not.toMatch(/run\.go|command failed|^error:/);
          expect(r.findings[0]!.message).toContain("resourcez");
        }
      } finally {
        cleanup(dir);
      }
    }, 180_000);
  }
});
