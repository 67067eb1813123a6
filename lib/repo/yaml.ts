/**
 * Fast YAML reading for the repo loader. Bun's native parser (Bun.YAML) is ~50x faster than the `yaml` package but
 * gives no positions, so:
 *  - files are split into documents at `---` lines here (so every document's first line is known, and a one-document
 *    file whose root is a list is not mistaken for a stream);
 *  - `locate(lines, path)` finds the line of a key path by indentation in block-style YAML (what this repo writes);
 *  - anything unusual (directives, `--- value`, flow collections on the path, parse errors) falls back to the
 *    `yaml` package, loaded only then, which also gives exact error positions.
 */
import type { Document, LineCounter } from "yaml";

export type PathSeg = string | number;

export interface Chunk {
  /** 0-based index of the document in the stream (counting empty ones, like the `yaml` package). */
  index: number;
  /** 0-based line index of the chunk's first line in the file (the line after `---`). */
  start: number;
  /** 0-based exclusive end line. */
  end: number;
}

const SEP = /^---[ \t]*(#.*)?$/;
const UNUSUAL = /^(---[ \t]+[^#\s]|\.\.\.(\s|$)|%)/;

/**
 * Splits a file into document chunks, or returns null when the file uses stream syntax this splitter does not
 * model (directives, `...`, content after `---` on the same line): the caller then uses the `yaml` package.
 */
export function splitDocuments(lines: readonly string[]): Chunk[] | null {
  const chunks: Chunk[] = [];
  let start = 0;
  let sawContent = false;
  let sawSeparator = false;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i] ?? "";
    if (UNUSUAL.test(l)) return null;
    if (SEP.test(l)) {
      // The first `---` with only comments/blank lines before it opens document 0 instead of ending it.
      if (sawContent || sawSeparator) chunks.push({ index: chunks.length, start, end: i });
      start = i + 1;
      sawContent = false;
      sawSeparator = true;
      continue;
    }
    if (!sawContent && isContent(l)) sawContent = true;
  }
  if (sawContent || sawSeparator || chunks.length === 0) chunks.push({ index: chunks.length, start, end: lines.length });
  return chunks;
}

export function isContent(l: string): boolean {
  for (let i = 0; i < l.length; i++) {
    const c = l.charCodeAt(i);
    if (c === 32 || c === 9) continue;
    return c !== 35; // '#'
  }
  return false;
}

/** First content line (0-based) of a chunk, or its start when it is empty. */
export function firstContentLine(lines: readonly string[], c: Chunk): number {
  for (let i = c.start; i < c.end; i++) if (isContent(lines[i] ?? "")) return i;
  return c.start;
}

/** Parses one document's text with Bun's native parser. Throws on invalid YAML. */
export function fastParse(text: string): unknown {
  return Bun.YAML.parse(aliasKeysAsGoYaml(text));
}

/**
 * libyaml and go-yaml (kustomize, Flux, PyYAML) end an alias name at `:`, so a mapping key written `*app:` is the
 * alias `app` and a colon; YAML 1.2 parsers (Bun.YAML, the `yaml` package) read one alias named `app:`, which no
 * anchor defines. Such a key, when the text anchors `&app`, gets a space before its colon: the same lines, read as
 * Flux reads them.
 */
export function aliasKeysAsGoYaml(text: string): string {
  if (!text.includes("*")) return text;
  return text.replace(/^([ \t]*(?:- +)?)\*([A-Za-z0-9_-]+):(?=[ \t]|$)/gm, (whole, lead: string, name: string) =>
    text.includes(`&${name}`) && !text.includes(`&${name}:`) ? `${lead}*${name} :` : whole,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Indentation-based locator
// ---------------------------------------------------------------------------------------------------------------

interface Block {
  start: number; // first line index (inclusive)
  end: number; // exclusive
  /** Column where this block's entries begin (keys of a map, `-` of a sequence). -1 = take from first content line. */
  col: number;
  /** For a sequence item or the value of a `- key: v` line: the first line's entry starts at this column. */
  firstLineCol?: number;
}

/** Column of the entry on a line: indentation, and after each leading "- " the item content column. */
function lineShape(l: string): { indent: number; dashCols: number[]; contentCol: number } {
  let i = 0;
  while (i < l.length && l[i] === " ") i++;
  const indent = i;
  const dashCols: number[] = [];
  while (l[i] === "-" && (l[i + 1] === " " || i + 1 === l.length)) {
    dashCols.push(i);
    i += 1;
    while (l[i] === " ") i++;
  }
  return { indent, dashCols, contentCol: i };
}

const KEY_RE = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"{[][^:#]*?)\s*:(\s|$)/;

function keyAt(l: string, col: number): string | undefined {
  const m = KEY_RE.exec(l.slice(col));
  if (!m?.[1]) return undefined;
  const k = m[1];
  if (k.startsWith('"')) {
    try {
      return JSON.parse(k) as string;
    } catch {
      return k.slice(1, -1);
    }
  }
  if (k.startsWith("'")) return k.slice(1, -1).replace(/''/g, "'");
  return k.trimEnd();
}

/** The column of the first entry of a block (its first content line, seen through any "- " prefix of its first line). */
function blockCol(lines: readonly string[], b: Block): number {
  for (let i = b.start; i < b.end; i++) {
    const l = lines[i] ?? "";
    if (!isContent(l)) continue;
    if (i === b.start && b.firstLineCol !== undefined) return b.firstLineCol;
    return lineShape(l).indent;
  }
  return -1;
}

/** Column where entry content starts on line i when the entry is at column col (skipping a "- " at col). */
function entryAt(lines: readonly string[], i: number, col: number, b: Block): { kind: "key" | "dash"; contentCol: number } | undefined {
  const l = lines[i] ?? "";
  if (!isContent(l)) return undefined;
  if (i === b.start && b.firstLineCol !== undefined) {
    if (b.firstLineCol !== col) return undefined;
    if (l[col] === "-" && (l[col + 1] === " " || col + 1 === l.length)) {
      let c = col + 1;
      while (l[c] === " ") c++;
      return { kind: "dash", contentCol: c };
    }
    return { kind: "key", contentCol: col };
  }
  const s = lineShape(l);
  if (s.indent !== col) return undefined;
  if (s.dashCols[0] === col) {
    let c = col + 1;
    while (l[c] === " ") c++;
    return { kind: "dash", contentCol: c };
  }
  return { kind: "key", contentCol: col };
}

/** End (exclusive) of the entry starting on line i at column col: the next content line at column <= col. */
function entryEnd(lines: readonly string[], i: number, col: number, end: number, allowSameColDash: boolean): number {
  for (let j = i + 1; j < end; j++) {
    const l = lines[j] ?? "";
    if (!isContent(l)) continue;
    const s = lineShape(l);
    if (s.indent < col) return j;
    if (s.indent === col) {
      // `key:\n- a\n- b`: a sequence may sit at its parent key's column.
      if (allowSameColDash && s.dashCols[0] === col) continue;
      return j;
    }
  }
  return end;
}

/**
 * Line index (0-based) of `path` inside the block [start, end), found by indentation. `found` is false when the
 * path could not be followed to its end (missing in the file, or written in a style this does not follow); `line`
 * is then the deepest line reached.
 */
export function locate(lines: readonly string[], start: number, end: number, path: readonly PathSeg[]): { line: number; found: boolean } {
  let b: Block = { start, end, col: -1 };
  let line = start;
  for (let k = 0; k < path.length; k++) {
    const seg = path[k]!;
    const col = blockCol(lines, b);
    if (col < 0) return { line, found: false };
    let hit: { i: number; contentCol: number; kind: "key" | "dash" } | undefined;
    if (typeof seg === "number") {
      let n = 0;
      for (let i = b.start; i < b.end; i++) {
        const e = entryAt(lines, i, col, b);
        if (!e) continue;
        if (e.kind !== "dash") return { line, found: false };
        if (n === seg) {
          hit = { i, contentCol: e.contentCol, kind: "dash" };
          break;
        }
        n++;
        i = entryEnd(lines, i, col, b.end, false) - 1;
      }
    } else {
      for (let i = b.start; i < b.end; i++) {
        const e = entryAt(lines, i, col, b);
        if (!e) continue;
        if (e.kind === "dash") return { line, found: false };
        const key = keyAt(lines[i] ?? "", e.contentCol);
        if (key === seg) {
          hit = { i, contentCol: e.contentCol, kind: "key" };
          break;
        }
        i = entryEnd(lines, i, col, b.end, true) - 1;
      }
    }
    if (!hit) return { line, found: false };
    line = hit.i;
    if (k === path.length - 1) return { line, found: true };
    if (hit.kind === "dash") {
      // The item's content: same line from contentCol (if any), then more-indented lines.
      const l = lines[hit.i] ?? "";
      const itemEnd = entryEnd(lines, hit.i, col, b.end, false);
      if (hit.contentCol < l.length && isContent(l.slice(hit.contentCol)))
        b = { start: hit.i, end: itemEnd, col: -1, firstLineCol: hit.contentCol };
      else b = { start: hit.i + 1, end: itemEnd, col: -1 };
    } else {
      const l = lines[hit.i] ?? "";
      const rest = l.slice(hit.contentCol).replace(KEY_RE, "").trim();
      if (rest !== "" && !rest.startsWith("#") && !rest.startsWith("&")) return { line, found: false }; // inline value
      const valueEnd = entryEnd(lines, hit.i, col, b.end, true);
      b = { start: hit.i + 1, end: valueEnd, col: -1 };
    }
  }
  return { line, found: true };
}

// ---------------------------------------------------------------------------------------------------------------
// The `yaml` package, loaded lazily (its import and parse cost is what the fast path avoids)
// ---------------------------------------------------------------------------------------------------------------

type YamlModule = typeof import("yaml");
let yamlModule: YamlModule | undefined;
export function yamlLib(): YamlModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  yamlModule ??= require("yaml") as YamlModule;
  return yamlModule;
}

export interface SlowParsed {
  docs: Document.Parsed[];
  lineCounter: LineCounter;
}

export function slowParse(text: string): SlowParsed {
  const Y = yamlLib();
  const lineCounter = new Y.LineCounter();
  const parsed = Y.parseAllDocuments(aliasKeysAsGoYaml(text), { lineCounter, prettyErrors: false, uniqueKeys: true });
  const docs = (Array.isArray(parsed) ? parsed : []) as Document.Parsed[];
  return { docs, lineCounter };
}
