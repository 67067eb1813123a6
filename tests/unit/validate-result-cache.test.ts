// validate's result cache (lib/checks/result-cache.ts): an unchanged repo answers from the stored result; any change
// to a file or folder a check reads, to the options or to the kubectl that renders makes it run again.
import { afterAll, describe, expect, test } from "bun:test";
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { validateRepo, type Finding, type ValidateOptions } from "../../lib/checks/index.ts";
import { ValidateResultCache } from "../../lib/checks/result-cache.ts";
import { cleanup, copyRepo } from "../fixtures/broken/harness.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));
const repo = () => {
  const d = copyRepo();
  dirs.push(d);
  mkdirSync(path.join(d, ".home-ops/cache"), { recursive: true });
  settle();
  return d;
};
/**
 * resultCacheRacyMs 0 keeps results of changes made before the run started; the file system's clock and Date.now()
 * differ by up to a millisecond or a timer tick, so each change is followed by a short wait.
 */
const settle = () => Bun.sleepSync(25);
// built at run time: no file of the repo holds a token's shape
const token = () => `${"ghp_"}${"Q".repeat(36)}`;
const MARKER: Finding = { id: "test/from-cache", severity: "info", file: ".", line: 0, message: "answered from the stored result", fix: "-" };

/** Puts a marker finding into every stored result: a run that answers from the cache returns it, a run that checks does not. */
function mark(cacheFile: string): void {
  const stored = JSON.parse(readFileSync(cacheFile, "utf8"));
  const keys = Object.keys(stored.results);
  expect(keys.length).toBeGreaterThan(0);
  for (const k of keys) stored.results[k].result.findings.push(MARKER);
  writeFileSync(cacheFile, JSON.stringify(stored));
}
const ids = (fs: Finding[]) => fs.map((f) => `${f.id} ${f.file}`);
const fromCache = (fs: Finding[]) => fs.some((f) => f.id === MARKER.id);

describe("validate result cache", () => {
  test("an unchanged repo answers from the stored result; a changed file makes it check again", async () => {
    const dir = repo();
    const opts: ValidateOptions = { only: ["secrets", "yaml"], render: false, resultCacheFile: path.join(dir, ".home-ops/cache/validate-result.json"), resultCacheRacyMs: 0 };
    expect((await validateRepo(dir, opts)).findings).toEqual([]);
    mark(opts.resultCacheFile!);
    expect(fromCache((await validateRepo(dir, opts)).findings)).toBe(true);
    appendFileSync(path.join(dir, ".mise.toml"), `\n# ${token()}\n`);
    settle();
    expect(ids((await validateRepo(dir, opts)).findings)).toEqual(["secrets/token .mise.toml"]);
  }, 60_000);

  test("a new folder, an ignore rule, a same-size edit with its old mtime and a deletion are each seen", async () => {
    const dir = repo();
    const opts: ValidateOptions = { only: ["secrets"], render: false, resultCacheFile: path.join(dir, ".home-ops/cache/validate-result.json"), resultCacheRacyMs: 0 };
    const run = async () => {
      settle();
      const r = (await validateRepo(dir, opts)).findings;
      // the next run returns the marker unless it checks again (and ids() below would then not match)
      mark(opts.resultCacheFile!);
      return r;
    };
    expect(await run()).toEqual([]);
    // a file in a folder that did not exist: only the parent folder's stat changed
    mkdirSync(path.join(dir, "notes/deep"), { recursive: true });
    writeFileSync(path.join(dir, "notes/deep/todo.txt"), `${token()}\n`);
    expect(ids(await run())).toEqual(["secrets/token notes/deep/todo.txt"]);
    // the root .gitignore now ignores the folder: the scan no longer covers it
    appendFileSync(path.join(dir, ".gitignore"), "\nnotes/\n");
    expect(ids(await run())).toEqual([]);
    // the same size, the mtime set back to the nanosecond (touch -r): only the ctime moved
    const file = path.join(dir, "talos/secret-notes.txt");
    writeFileSync(file, `${"a".repeat(token().length)}\n`);
    const old = new Date(Date.now() - 60_000);
    utimesSync(file, old, old);
    expect(ids(await run())).toEqual([]);
    const before = statSync(file);
    writeFileSync(file, `${token()}\n`);
    utimesSync(file, before.atime, before.mtime);
    expect(statSync(file).size).toBe(before.size);
    expect(statSync(file).mtimeMs).toBe(before.mtimeMs);
    expect(ids(await run())).toEqual(["secrets/token talos/secret-notes.txt"]);
    rmSync(file);
    expect(ids(await run())).toEqual([]);
  }, 60_000);

  test("other options are other results; a repo changed in the last 2 s keeps none", async () => {
    const dir = repo();
    const resultCacheFile = path.join(dir, ".home-ops/cache/validate-result.json");
    // just copied: every file is racy under the default 2 s
    await validateRepo(dir, { only: ["secrets"], render: false, resultCacheFile });
    const racy = JSON.parse(readFileSync(resultCacheFile, "utf8"));
    expect(Object.keys(racy.results)).toEqual([]);
    // nor the listing of a folder changed that recently (an entry added in the same tick would not move its mtime)
    expect(Object.keys(racy.dirs)).not.toContain("kubernetes");
    const base: ValidateOptions = { render: false, resultCacheFile, resultCacheRacyMs: 0 };
    settle();
    await validateRepo(dir, { ...base, only: ["secrets"] });
    mark(resultCacheFile);
    expect(fromCache((await validateRepo(dir, { ...base, only: ["yaml"] })).findings)).toBe(false);
    expect(fromCache((await validateRepo(dir, { ...base, only: ["secrets"] })).findings)).toBe(true);
    expect(Object.keys(JSON.parse(readFileSync(resultCacheFile, "utf8")).results).sort()).toEqual(["secrets|render=false", "yaml|render=false"]);
  }, 60_000);

  test("a cold render hard-links the repo's files (their ctime moves): the next run still answers from the cache", async () => {
    const dir = repo();
    const opts: ValidateOptions = { renderCacheFile: path.join(dir, ".home-ops/cache/render.json"), resultCacheFile: path.join(dir, ".home-ops/cache/validate-result.json"), resultCacheRacyMs: 0 };
    const first = await validateRepo(dir, opts);
    expect(first.findings).toEqual([]);
    expect(first.documents).toBeGreaterThan(50);
    mark(opts.resultCacheFile!);
    const second = await validateRepo(dir, opts);
    expect(fromCache(second.findings)).toBe(true);
    expect(second.documents).toBe(first.documents);
  }, 120_000);

  test("carry: a fingerprint taken after the run stands in only when nothing but ctimes moved", () => {
    const cache = new ValidateResultCache<unknown>(path.join(repo(), "cache.json"), 0);
    const fp = (nums: number[], racy = false) => ({ hash: nums.join(","), racy, files: nums.length / 4 - 1, dirs: 1, nums });
    const before = fp([4096, 10, 10, 7, 12, 20, 20, 8], true);
    // the file's ctime moved (a hard link made and removed): carried, as racy as before
    expect(cache.carry(before, fp([4096, 10, 10, 7, 12, 20, 31, 8]))).toEqual({ ...fp([4096, 10, 10, 7, 12, 20, 31, 8]), racy: true });
    // its mtime, size or inode moved too: someone changed it during the run, nothing is carried
    expect(cache.carry(before, fp([4096, 10, 10, 7, 12, 25, 31, 8]))).toBeUndefined();
    expect(cache.carry(before, fp([4096, 10, 10, 7, 13, 20, 31, 8]))).toBeUndefined();
    expect(cache.carry(before, fp([4096, 10, 10, 7, 12, 20, 31, 9]))).toBeUndefined();
    // a file more or less
    expect(cache.carry(before, fp([4096, 10, 10, 7]))).toBeUndefined();
  });

  test("another kubectl on PATH, or the toolkit when --root is another repo, is part of the fingerprint", () => {
    const dir = repo();
    const cache = new ValidateResultCache(path.join(dir, "cache.json"), 0);
    const before = cache.fingerprint(dir, "k");
    expect(cache.fingerprint(dir, "k").hash).toBe(before.hash);
    expect(cache.fingerprint(dir, "other options").hash).not.toBe(before.hash);
    const bin = mkdtempSync(path.join(tmpdir(), "home-ops-kubectl-"));
    dirs.push(bin);
    writeFileSync(path.join(bin, "kubectl"), "#!/bin/sh\nexit 0\n");
    chmodSync(path.join(bin, "kubectl"), 0o755);
    const saved = process.env.PATH;
    try {
      process.env.PATH = `${bin}:${saved}`;
      expect(cache.fingerprint(dir, "k").hash).not.toBe(before.hash);
    } finally {
      process.env.PATH = saved;
    }
    expect(cache.fingerprint(dir, "k").hash).toBe(before.hash);
    // the copy is outside the toolkit: lib/ and scripts/ of the toolkit are walked too
    const toolkitDirs = cache.fingerprint(path.resolve(import.meta.dir, "../.."), "k").dirs;
    expect(before.dirs).toBeGreaterThan(countDirs(dir));
    expect(toolkitDirs).toBeGreaterThan(before.dirs);
  });
});

function countDirs(root: string): number {
  let n = 0;
  const walk = (d: string) => {
    n++;
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory() && e.name !== ".home-ops") walk(path.join(d, e.name));
  };
  walk(root);
  return n;
}
