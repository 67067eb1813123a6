import { afterAll } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

/** tests/fixtures/repo-minimal: the smallest repo the loader reads whole. */
export const MINIMAL_FIXTURE = path.resolve(import.meta.dir, "../fixtures/repo-minimal");

/**
 * Copies of the minimal fixture with some files replaced (path -> content; null deletes a file or folder), removed
 * after the test file. `prefix` names the temp folders.
 */
export function minimalVariants(prefix: string): (files: Record<string, string | null>) => string {
  const temps: string[] = [];
  afterAll(() => {
    for (const t of temps) rmSync(t, { recursive: true, force: true });
  });
  return (files) => {
    const dir = mkdtempSync(path.join(tmpdir(), `${prefix}-`));
    temps.push(dir);
    cpSync(MINIMAL_FIXTURE, dir, { recursive: true });
    for (const [rel, content] of Object.entries(files)) {
      const p = path.join(dir, rel);
      if (content === null) rmSync(p, { recursive: true, force: true });
      else {
        mkdirSync(path.dirname(p), { recursive: true });
        writeFileSync(p, content);
      }
    }
    return dir;
  };
}
