import { readFileSync } from "node:fs";
import path from "node:path";

/**
 * gitignore syntax, the subset home-ops repos and Flux source-ignore files use: globs, `dir/`, `!negation`,
 * anchored `a/b` patterns. One matcher for what git leaves out (lib/checks' raw-file checks) and what Flux leaves
 * out of a source artifact (lib/repo/render).
 */

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

/** What Flux leaves out of every source artifact (fluxcd/pkg sourceignore: VCS, extensions, CI, extra). */
export const FLUX_SOURCE_IGNORE_DEFAULTS = [
  ".git/", ".gitignore", ".gitmodules", ".gitattributes",
  "*.jpg", "*.jpeg", "*.gif", "*.png", "*.wmv", "*.flv", "*.tar.gz", "*.zip",
  ".github/", ".circleci/", ".travis.yml", ".gitlab-ci.yml", "appveyor.yml", ".drone.yml", "cloudbuild.yaml", "codeship-services.yml", "codeship-steps.yml",
  "**/.goreleaser.yml", "**/.sops.yaml", "**/.flux.yaml",
];

/** A pattern of a `.sourceignore` in `dir` (repo-relative, "" for the root), rewritten to apply from the root. */
function inDomain(line: string, dir: string): string {
  const t = line.trim();
  if (dir === "" || t === "" || t.startsWith("#")) return t;
  const negate = t.startsWith("!");
  let body = negate ? t.slice(1) : t;
  const dirOnly = body.endsWith("/");
  if (dirOnly) body = body.slice(0, -1);
  const anchored = body.includes("/");
  if (body.startsWith("/")) body = body.slice(1);
  return `${negate ? "!" : ""}${dir}/${anchored ? "" : "**/"}${body}${dirOnly ? "/" : ""}`;
}

/**
 * Flux's source-ignore rules for a source (source-controller): the defaults, then every `.sourceignore` (each for
 * its folder and below), then the source's `spec.ignore`; a later pattern wins, so `!x` there can bring x back.
 */
export function fluxSourceIgnore(sourceignores: readonly { dir: string; text: string }[], specIgnore?: string): { ignore: GitIgnore; text: string } {
  const lines = [...FLUX_SOURCE_IGNORE_DEFAULTS];
  for (const f of sourceignores) for (const l of f.text.split(/\r?\n/)) lines.push(inDomain(l, f.dir));
  if (specIgnore) lines.push(...specIgnore.split(/\r?\n/));
  const text = lines.filter((l) => l.trim() !== "").join("\n");
  return { ignore: new GitIgnore(text), text };
}
