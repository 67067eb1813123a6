import { mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { GitIgnore } from "../repo/gitignore.ts";
import { loadedText } from "../repo/load.ts";
import { inspectEntry, readBounded } from "../repo/safe-read.ts";

export { GitIgnore };

/**
 * The repo's files as the raw-file checks (yaml, secrets) see them: every file git would track, found by walking the
 * tree and applying the root .gitignore (the subset of its syntax home-ops uses: globs, `dir/`, `!negation`,
 * anchored `a/b` patterns). No git needed, so it works on any `--root`, including temporary copies.
 */

const ALWAYS_SKIPPED = new Set([".git", "node_modules"]);

export interface RepoFile {
  /** repo-relative, forward slashes */
  rel: string;
  abs: string;
}

/**
 * Every non-ignored file under `root` (or under `root/sub` for each sub given), sorted. `depth: 0` lists only the
 * files directly inside.
 */
export function listRepoFiles(root: string, subdirs?: string[], ignore = GitIgnore.load(root), opts: { topOnly?: boolean } = {}): RepoFile[] {
  const out: RepoFile[] = [];
  const walk = (relDir: string) => {
    let entries;
    try {
      entries = readdirSync(path.join(root, relDir), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (ALWAYS_SKIPPED.has(e.name)) continue;
      const rel = relDir ? `${relDir}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (!opts.topOnly && !ignore.ignoresEntry(rel, true)) walk(rel);
      } else if (e.isFile() || e.isSymbolicLink()) {
        if (ignore.ignoresEntry(rel, false)) continue;
        const abs = path.join(root, rel);
        // a link is followed only to a regular file inside the repo (the loader reports the others)
        if (e.isSymbolicLink() && inspectEntry(root, rel).kind !== "file") continue;
        out.push({ rel, abs });
      }
    }
  };
  // a subfolder's own parents are checked once, then the walk only looks at each entry
  for (const sub of subdirs ?? [""]) if (sub === "" || !ignore.ignores(sub, true)) walk(sub);
  return out.sort((a, b) => a.rel.localeCompare(b.rel));
}

export const isYamlFile = (rel: string) => /\.ya?ml$/i.test(rel);

/**
 * Reads a file as UTF-8 (lossy: binary bytes are kept for the secrets scan; the yaml family reports NUL bytes
 * itself); undefined when unreadable, special (never opened) or too large (a finding, not a crash, is the caller's job).
 */
export function readText(abs: string): string | undefined {
  const r = readBounded(abs, undefined, { strictText: false });
  return r.ok ? r.text : undefined;
}

/** 1-based line of a character offset. */
export function lineAt(text: string, offset: number): number {
  let line = 1;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** What the checks read of one repo: file texts and per-file results, shared by the models of one load. */
interface FileScope {
  texts: Map<string, string | undefined>;
  memo: Map<string, unknown>;
}
const scopes = new WeakMap<object, FileScope>();
function scopeOf(model: object): FileScope {
  let s = scopes.get(model);
  if (!s) scopes.set(model, (s = { texts: new Map(), memo: new Map() }));
  return s;
}

/**
 * The models of one repo (one per cluster) read the same files: each file is read and each raw-file result
 * computed once for all of them. Call right after loading, while the files are as loaded.
 */
export function shareRepoFiles(models: readonly object[]): void {
  const s: FileScope = { texts: new Map(), memo: new Map() };
  for (const m of models) scopes.set(m, s);
}

/**
 * A repo file's text, read once per model (the yaml and secrets families both need them); a file the loader read is
 * not read again.
 */
export function modelText(model: { root: string }, rel: string): string | undefined {
  const cache = scopeOf(model).texts;
  if (cache.has(rel)) return cache.get(rel);
  const t = loadedText(model, rel) ?? readText(path.join(model.root, rel));
  cache.set(rel, t);
  return t;
}

/** A result that depends only on the repo's files (not on the cluster), computed once per shared scope. */
export function repoOnce<T>(model: object, key: string, compute: () => T): T {
  const memo = scopeOf(model).memo;
  if (!memo.has(key)) memo.set(key, compute());
  return memo.get(key) as T;
}

/**
 * Results of a per-file check kept across runs (validate: .home-ops/cache/), keyed on what changes whenever the
 * file does: size, mtime, ctime and inode (ctime cannot be set back, so a copy or checkout that keeps an old mtime
 * still misses). A file changed less than `racyMs` (2 s) before it was checked may change again within the same timestamp
 * tick (1 ms to 2 s, by file system): its result is not kept. Open the cache before the files are read (a file
 * changed after that is racy, so a result computed from an earlier read is never kept under the new key). `salt`
 * names the rules that made the results (a change to them empties the cache).
 */
export class FileResultCache<T> {
  /** rel -> [stat key, result] */
  private entries = new Map<string, [string, T]>();
  private readonly next = new Map<string, [string, T]>();
  private readonly started = Date.now();
  private dirty = false;
  constructor(
    readonly file: string,
    private readonly salt: string,
    private readonly racyMs = 2000,
  ) {
    try {
      const raw = JSON.parse(readFileSync(file, "utf8")) as { salt?: string; entries?: Record<string, [string, T]> };
      if (raw.salt === salt && raw.entries) this.entries = new Map(Object.entries(raw.entries));
    } catch {
      // no cache yet, or a broken one: start empty
    }
  }

  /** The result for the file at `abs` (repo-relative `rel`): cached while the file is unchanged, else computed. */
  get(rel: string, abs: string, compute: () => T): T {
    let key: string | undefined;
    let racy = true;
    try {
      const st = statSync(abs);
      key = `${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.ino}`;
      racy = Math.max(st.mtimeMs, st.ctimeMs) > this.started - this.racyMs;
    } catch {
      // unreadable: computed every time (compute reports it)
    }
    const hit = key === undefined ? undefined : this.entries.get(rel);
    if (hit && hit[0] === key) {
      this.next.set(rel, hit);
      return hit[1];
    }
    const value = compute();
    if (key !== undefined && !racy) this.next.set(rel, [key, value]);
    this.dirty = true;
    return value;
  }

  /** Writes the results of the files this run saw (the cache never outgrows the repo); a read-only checkout keeps none. */
  save(): void {
    if (!this.dirty && this.next.size === this.entries.size) return;
    try {
      mkdirSync(path.dirname(this.file), { recursive: true });
      const tmp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify({ salt: this.salt, entries: Object.fromEntries(this.next) }));
      renameSync(tmp, this.file);
    } catch {
      // a read-only checkout: run without a cache
    }
  }
}
