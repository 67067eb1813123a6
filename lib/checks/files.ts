import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { inspectEntry, readBounded } from "../repo/safe-read.ts";

/**
 * The repo's files as the raw-file checks (yaml, secrets) see them: every file git would track, found by walking the
 * tree and applying the root .gitignore (the subset of its syntax home-ops uses: globs, `dir/`, `!negation`,
 * anchored `a/b` patterns). No git needed, so it works on any `--root`, including temporary copies.
 */

const ALWAYS_SKIPPED = new Set([".git", "node_modules"]);

interface IgnoreRule {
  negate: boolean;
  dirOnly: boolean;
  anchored: boolean;
  glob: InstanceType<typeof Bun.Glob>;
  pattern: string;
}

export class GitIgnore {
  private readonly rules: IgnoreRule[];
  constructor(text: string) {
    this.rules = [];
    for (const raw of text.split(/\r?\n/)) {
      let line = raw.trim();
      if (line === "" || line.startsWith("#")) continue;
      const negate = line.startsWith("!");
      if (negate) line = line.slice(1);
      const dirOnly = line.endsWith("/");
      if (dirOnly) line = line.slice(0, -1);
      const anchored = line.includes("/");
      if (line.startsWith("/")) line = line.slice(1);
      if (line === "") continue;
      this.rules.push({ negate, dirOnly, anchored, glob: new Bun.Glob(line), pattern: line });
    }
  }

  static load(root: string): GitIgnore {
    try {
      return new GitIgnore(readFileSync(path.join(root, ".gitignore"), "utf8"));
    } catch {
      return new GitIgnore("");
    }
  }

  /** Is this repo-relative path (file or directory) ignored? Parents count: `a/` ignores `a/b/c`. */
  ignores(rel: string, isDir = false): boolean {
    const parts = rel.split("/");
    // git: a path is ignored if it or any parent directory is; a negation cannot re-include below an ignored dir,
    // but home-ops only negates files directly inside an ignored-by-glob dir (`clusterconfig/*` + `!…/README.md`).
    for (let i = 1; i < parts.length; i++) {
      if (this.matchOne(parts.slice(0, i).join("/"), true) === true) return true;
    }
    return this.matchOne(rel, isDir) === true;
  }

  /** ignores() for a path whose parent folders are known not to be ignored (a walk that skips ignored folders). */
  ignoresEntry(rel: string, isDir: boolean): boolean {
    return this.matchOne(rel, isDir) === true;
  }

  private matchOne(rel: string, isDir: boolean): boolean | undefined {
    let result: boolean | undefined;
    const base = rel.slice(rel.lastIndexOf("/") + 1);
    for (const r of this.rules) {
      if (r.dirOnly && !isDir) continue;
      const hit = r.anchored ? r.glob.match(rel) : r.glob.match(base);
      if (hit) result = !r.negate;
    }
    return result;
  }
}

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

/** A repo file's text, read once per model (the yaml and secrets families both need them). */
export function modelText(model: { root: string }, rel: string): string | undefined {
  const cache = scopeOf(model).texts;
  if (cache.has(rel)) return cache.get(rel);
  const t = readText(path.join(model.root, rel));
  cache.set(rel, t);
  return t;
}

/** A result that depends only on the repo's files (not on the cluster), computed once per shared scope. */
export function repoOnce<T>(model: object, key: string, compute: () => T): T {
  const memo = scopeOf(model).memo;
  if (!memo.has(key)) memo.set(key, compute());
  return memo.get(key) as T;
}
