/**
 * validate's result cache (scripts/validate.ts: .home-ops/cache/validate-result.json): a run whose inputs have not
 * changed since a stored run answers with that run's result, without loading, rendering or checking anything.
 *
 * The inputs, each by what changes whenever it does (size, mtime, ctime, inode; ctime cannot be set back, so a copy
 * that keeps an old mtime still counts as a change):
 *   - every file and folder of the repo a check may read: the whole tree except .git, node_modules, .home-ops and
 *     folders the root .gitignore ignores outside kubernetes/ and talos/ (the loader reads those two whole);
 *   - the toolkit's own code (lib/, scripts/, package.json, bun.lock) when the repo is not the toolkit itself;
 *   - Bun's version and the kubectl the render runs (its kustomize decides what Flux would apply);
 *   - the options that change what is checked (families, render on or off).
 * A folder's listing is kept with its own stat key: an unchanged folder is not read again, only stat'ed.
 *
 * A file changed less than `racyMs` (2 s) before the run may change again within the same timestamp tick: no result
 * is kept from such a run (the same rule as FileResultCache); such a folder is listed again next run. The fingerprint
 * is taken before anything is read, so a file edited while validate runs never lends its new stat to a result
 * computed from its old text.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { GitIgnore } from "../repo/gitignore.ts";

/** A folder's stat key, its entries (file names, folder names) and their checksum. */
type DirRecord = [key: string, files: string[], dirs: string[], names: number];

interface Stored<R> {
  version: number;
  dirs: Record<string, DirRecord>;
  results: Record<string, { fingerprint: string; result: R; at: number }>;
}

/** Bump when the stored shape or the fingerprint's rules change. */
const VERSION = 2;
/** Option sets remembered at once (families x render): the oldest is dropped beyond this. */
const MAX_RESULTS = 8;
/** Never part of any check's input (VCS data, dependencies, this toolkit's caches). */
const SKIP_NAMES = new Set([".git", "node_modules", ".home-ops"]);
/** Read whole by the loader, ignored or not. */
const READ_WHOLE = new Set(["kubernetes", "talos"]);
const TOOLKIT = path.resolve(import.meta.dir, "../..");
const TOOLKIT_PARTS = { dirs: ["lib", "scripts"], files: ["package.json", "bun.lock"] };

export interface Fingerprint {
  hash: string;
  /** something changed within racyMs of the start: a result computed now is not kept */
  racy: boolean;
  files: number;
  dirs: number;
  /** size, mtime, ctime, inode of every folder and file, in walk order (in memory only: carry() compares them) */
  nums: number[];
}

export class ValidateResultCache<R> {
  private stored: Stored<R> = { version: VERSION, dirs: {}, results: {} };
  private readonly nextDirs = new Map<string, DirRecord>();
  private readonly started: number;

  constructor(
    readonly file: string,
    private readonly racyMs = 2000,
  ) {
    try {
      // made before the walk: creating it changes its parent folder, which would make the fingerprint stale
      mkdirSync(path.dirname(file), { recursive: true });
    } catch {
      // a read-only checkout: nothing will be kept
    }
    this.started = Date.now();
    try {
      const raw = JSON.parse(readFileSync(file, "utf8")) as Stored<R>;
      if (raw.version === VERSION && raw.dirs && raw.results) this.stored = raw;
    } catch {
      // no cache yet, or a broken one: start empty
    }
  }

  /**
   * The fingerprint of everything a validate of `root` reads, plus `salt` (options, versions). Take it before the
   * run reads anything.
   */
  fingerprint(root: string, salt: string): Fingerprint {
    const state: WalkState = { racy: false, files: 0, dirs: 0, nums: [] };
    const ignore = GitIgnore.load(root);
    const skipDir = (rel: string) => {
      if (READ_WHOLE.has(rel.split("/", 1)[0]!)) return false;
      return ignore.ignoresEntry(rel, true);
    };
    this.walk(root, "", "", state, skipDir);
    const inToolkit = path.relative(root, TOOLKIT);
    if (inToolkit !== "" && (inToolkit.startsWith("..") || path.isAbsolute(inToolkit))) {
      // --root another repo: the toolkit's code decides the findings too
      for (const d of TOOLKIT_PARTS.dirs) this.walk(TOOLKIT, d, "@toolkit/", state, () => false);
      for (const f of TOOLKIT_PARTS.files) if (this.stat(`${TOOLKIT}/${f}`, state).racy) state.racy = true;
    }
    const tree = Bun.hash(new Float64Array(state.nums)).toString(36);
    const hash = Bun.hash(`${salt}\0bun ${Bun.version}\0${kubectlIdentity()}\0${tree}`).toString(36);
    return { hash, racy: state.racy, files: state.files, dirs: state.dirs, nums: state.nums };
  }

  /**
   * The fingerprint to keep a result under when the run itself moved ctimes: the render hard-links the repo's files
   * into its scratch copy, which changes their ctime and nothing else. `after` (taken after the run) replaces
   * `before` when every difference is a ctime; sizes, mtimes, inodes and the tree's shape are as before, so a
   * change made by anyone else during the run (which moves an mtime) still leaves the result unkept. Racy as
   * `before` was: the mtimes are the same.
   */
  carry(before: Fingerprint, after: Fingerprint): Fingerprint | undefined {
    if (after.hash === before.hash) return before;
    if (after.nums.length !== before.nums.length || after.files !== before.files || after.dirs !== before.dirs) return undefined;
    for (let i = 0; i < before.nums.length; i++) {
      if (i % 4 === 2) continue; // ctime
      const a = before.nums[i]!;
      const b = after.nums[i]!;
      if (a !== b && !(Number.isNaN(a) && Number.isNaN(b))) return undefined;
    }
    return { ...after, racy: before.racy };
  }

  /** The result stored for these options with this fingerprint, if any. */
  get(key: string, fp: Fingerprint): R | undefined {
    const hit = this.stored.results[key];
    return hit && hit.fingerprint === fp.hash ? hit.result : undefined;
  }

  /** Keeps `result` for these options (not when the run was racy, or `fp` is undefined) and the folder listings; a read-only checkout keeps none. */
  save(key: string, fp: Fingerprint | undefined, result: R): void {
    const results = { ...this.stored.results };
    if (fp && !fp.racy) results[key] = { fingerprint: fp.hash, result, at: Date.now() };
    else delete results[key];
    const keep = Object.entries(results).sort((a, b) => b[1].at - a[1].at).slice(0, MAX_RESULTS);
    const next: Stored<R> = { version: VERSION, dirs: Object.fromEntries(this.nextDirs), results: Object.fromEntries(keep) };
    try {
      mkdirSync(path.dirname(this.file), { recursive: true });
      const tmp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(next));
      renameSync(tmp, this.file);
    } catch {
      // a read-only checkout: run without a result cache
    }
  }

  /**
   * Appends what changes whenever the file (or folder) does: size, mtime, ctime, inode (NaN when it cannot be
   * stat'ed). Returns its stat key, and whether it changed within racyMs of the start.
   */
  private stat(abs: string, state: WalkState): { key: string; racy: boolean } {
    try {
      const st = statSync(abs);
      state.nums.push(st.size, st.mtimeMs, st.ctimeMs, st.ino);
      return { key: `${st.mtimeMs}:${st.ctimeMs}:${st.ino}`, racy: st.mtimeMs > this.started - this.racyMs || st.ctimeMs > this.started - this.racyMs };
    } catch {
      state.nums.push(NaN, NaN, NaN, NaN);
      return { key: "-", racy: false };
    }
  }

  /**
   * One folder: its stat, its listing (reused while the folder's stat is unchanged), each file's stat, then its
   * folders. A racy file makes the result unkeepable; a racy folder (an entry added in the same tick after it was
   * listed would not move its mtime) only keeps its listing from being reused: the next run lists it again, and
   * the listing's names are part of the fingerprint.
   */
  private walk(base: string, rel: string, label: string, state: WalkState, skipDir: (rel: string) => boolean): void {
    const abs = rel ? `${base}/${rel}` : base;
    const at = state.nums.length;
    const dir = this.stat(abs, state);
    const id = `${label}${rel}`;
    state.dirs++;
    let rec = this.stored.dirs[id];
    if (!rec || rec[0] !== dir.key) {
      const files: string[] = [];
      const dirs: string[] = [];
      try {
        for (const e of readdirSync(abs, { withFileTypes: true })) {
          if (SKIP_NAMES.has(e.name)) continue;
          if (e.isDirectory()) dirs.push(e.name);
          // a link is stat'ed through: a change to what it points at counts
          else if (e.isFile() || e.isSymbolicLink()) files.push(e.name);
        }
      } catch {
        // unreadable: its stat (NaN, or its mode change) stands for it
      }
      files.sort();
      dirs.sort();
      rec = [dir.key, files, dirs, Bun.hash.crc32(`${files.join("/")}//${dirs.join("/")}`)];
    }
    // a folder's size says nothing the names do not: its slot holds the names' checksum
    state.nums[at] = rec[3];
    if (!dir.racy) this.nextDirs.set(id, rec);
    state.files += rec[1].length;
    for (const f of rec[1]) if (this.stat(`${abs}/${f}`, state).racy) state.racy = true;
    for (const d of rec[2]) {
      const r = rel ? `${rel}/${d}` : d;
      if (!skipDir(r)) this.walk(base, r, label, state, skipDir);
    }
  }
}

interface WalkState {
  racy: boolean;
  files: number;
  dirs: number;
  /** size, mtime, ctime, inode of every folder and file, in walk order */
  nums: number[];
}

let kubectlId: string | undefined;
/** The kubectl the render would run (PATH), by its path and stat key: another kustomize may render differently. */
function kubectlIdentity(): string {
  if (kubectlId !== undefined && process.env.PATH === kubectlPath) return kubectlId;
  kubectlPath = process.env.PATH;
  const bin = Bun.which("kubectl", { PATH: process.env.PATH ?? "" });
  let key = "none";
  if (bin) {
    try {
      const st = statSync(bin);
      key = `${bin}:${st.size}:${st.mtimeMs}:${st.ino}`;
    } catch {
      key = bin;
    }
  }
  return (kubectlId = `kubectl ${key}`);
}
let kubectlPath: string | undefined;
