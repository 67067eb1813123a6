import { LineCounter, parseAllDocuments, type Document, type YAMLError } from "yaml";
import type { ClusterModel } from "../repo/model.ts";
import { readFileSync } from "node:fs";
import path from "node:path";
import { FileResultCache, GitIgnore, isYamlFile, lineAt, listRepoFiles, modelText, readText, repoOnce } from "./files.ts";
import { finding, type Finding } from "./types.ts";

/**
 * yaml: what makes a file unreadable or ambiguous before any schema looks at it — parse errors, duplicate keys (the
 * last one silently wins in most tools), tabs as indentation, two objects in one document (a missing `---`), broken
 * separators, aliases that do not resolve.
 */

/** Folders whose YAML the toolkit or CI reads. Tests and fixtures are not cluster input. */
export const YAML_ROOTS = ["kubernetes", "talos", ".github"];

const OBJECT_KEYS = new Set(["apiVersion", "kind"]);

function fromYamlError(file: string, e: YAMLError, lc: LineCounter, text: string, severity: "error" | "warning"): Finding {
  const line = lc.linePos(Math.min(e.pos[0], text.length)).line;
  const first = e.message.split("\n")[0] ?? e.message;
  const where = { file, line };
  switch (e.code) {
    case "DUPLICATE_KEY": {
      const key = duplicateKeyAt(text, e.pos[0]);
      if (key !== undefined && OBJECT_KEYS.has(key))
        return finding(
          "yaml/missing-separator",
          "error",
          where,
          `a second \`${key}:\` in one document: two objects are run together`,
          "put a `---` line between the two objects",
        );
      return finding(
        "yaml/duplicate-key",
        "error",
        where,
        `duplicate key${key ? ` "${key}"` : ""}: most tools keep only the last one`,
        "remove one of the two keys or merge their values",
      );
    }
    case "TAB_AS_INDENT":
      return finding("yaml/tab", "error", where, "a tab is used as indentation", "indent with spaces only");
    case "MULTILINE_IMPLICIT_KEY":
      if (/^-{4,}\s*$|^---\S/m.test(lineText(text, line)))
        return finding(
          "yaml/separator",
          "error",
          where,
          `"${lineText(text, line).trim()}" is not a document separator`,
          "write the separator as exactly `---` on its own line",
        );
      break;
  }
  return finding(`yaml/parse`, severity, where, `YAML ${severity === "error" ? "error" : "warning"}: ${first}`, "fix the YAML syntax at this line");
}

function lineText(text: string, line: number): string {
  let start = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf("\n", start);
    if (nl < 0) return "";
    start = nl + 1;
  }
  const end = text.indexOf("\n", start);
  return text.slice(start, end < 0 ? undefined : end);
}

function duplicateKeyAt(text: string, offset: number): string | undefined {
  const m = /^\s*["']?([^"':\n]+)["']?\s*:/.exec(text.slice(offset, offset + 200));
  return m?.[1]?.trim();
}

/** Findings of one parsed file (documents from the loader or from parseYaml). */
/**
 * One finding per broken document: the parser's first error line, preferring a specific finding (tab, duplicate
 * key, separator) over a generic parse error; what follows a syntax error is mostly its echo.
 */
function firstOfDocument(found: Finding[]): Finding[] {
  if (found.length === 0) return found;
  const line = Math.min(...found.map((f) => f.line));
  const onLine = found.filter((f) => f.line === line);
  const specific = onLine.filter((f) => f.id !== "yaml/parse");
  return specific.length > 0 ? specific : onLine.slice(0, 1);
}

const BAD_SEPARATOR = /^(-{4,}|---[^\s-].*|-- *)$/;

export function documentFindings(file: string, text: string, docs: Document.Parsed[], lc: LineCounter): Finding[] {
  const out: Finding[] = [];
  const lines = text.split("\n");
  const bad = lines.findIndex((l) => BAD_SEPARATOR.test(l.replace(/\r$/, "")));
  if (bad >= 0 && docs.some((d) => d.errors.length > 0))
    return [finding("yaml/separator", "error", { file, line: bad + 1 }, `"${lines[bad]!.trim()}" is not a document separator`, "write the separator as exactly `---` on its own line")];
  docs.forEach((doc, i) => {
    out.push(...firstOfDocument(doc.errors.map((e) => fromYamlError(file, e, lc, text, "error"))));
    for (const w of doc.warnings) out.push(fromYamlError(file, w, lc, text, "warning"));
    if (doc.errors.length === 0) {
      try {
        doc.toJS({ maxAliasCount: 1000 });
      } catch (e) {
        const line = doc.contents?.range ? lc.linePos(doc.contents.range[0]).line : 1;
        out.push(
          finding("yaml/parse", "error", { file, line }, `YAML error: ${(e as Error).message.split("\n")[0]}`, "define the anchor before its alias, or remove the alias"),
        );
      }
    }
    // An empty document between two objects is usually a doubled `---` left by an edit.
    if (doc.contents === null && i > 0 && i < docs.length - 1 && docs.slice(i + 1).some((d) => d.contents !== null)) {
      const line = lc.linePos(doc.range[0]).line;
      out.push(finding("yaml/empty-document", "warning", { file, line }, "an empty document between two `---` separators", "remove the extra `---`"));
    }
  });
  if (text.includes("\u0000"))
    out.push(finding("yaml/parse", "error", { file, line: lineAt(text, text.indexOf("\u0000")) }, "the file holds NUL bytes: it is binary, not YAML", "replace it with a text YAML file"));
  return dedupe(out);
}

function dedupe(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  // The yaml parser often reports one mistake several times on one line; one finding per line and id is enough.
  return findings.filter((f) => {
    const k = `${f.id}:${f.line}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export function parseYaml(text: string): { docs: Document.Parsed[]; lc: LineCounter } {
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  return { docs: Array.isArray(docs) ? docs : [docs as unknown as Document.Parsed], lc };
}

/** Raw-file YAML check of one text (also what validate falls back to when the repo cannot be loaded). */
export function checkYamlText(file: string, text: string): Finding[] {
  try {
    const { docs, lc } = parseYaml(text);
    return documentFindings(file, text, docs, lc);
  } catch (e) {
    return [finding("yaml/parse", "error", { file, line: 1 }, `YAML error: ${(e as Error).message.split("\n")[0]}`, "fix the YAML syntax of this file")];
  }
}

/** Every YAML file under YAML_ROOTS (and the root's own *.yaml), parsed from disk. */
export function checkYamlFiles(root: string, skip: Set<string> = new Set(), roots: string[] = YAML_ROOTS): Finding[] {
  const out: Finding[] = [];
  const ignore = GitIgnore.load(root);
  const files = [
    ...listRepoFiles(root, roots, ignore),
    ...listRepoFiles(root, undefined, ignore, { topOnly: true }),
  ].filter((f) => isYamlFile(f.rel) && !skip.has(f.rel));
  for (const f of files) {
    const text = readText(f.abs);
    if (text === undefined) {
      out.push(finding("yaml/unreadable", "error", { file: f.rel, line: 0 }, "the file cannot be read", "check its permissions"));
      continue;
    }
    out.push(...checkYamlText(f.rel, text));
  }
  return out;
}

/**
 * Duplicate keys and tab indentation by a line scan of block-style YAML (what the repo writes): the loader parses
 * with Bun's fast parser, which keeps the last of two equal keys without a word, so they are looked for here.
 * Block scalars (`|`, `>`) are skipped; flow collections are left to the parser.
 */
export function scanDuplicateKeys(file: string, text: string): Finding[] {
  const out: Finding[] = [];
  const lines = text.split("\n");
  // stack of open mappings: indentation of their keys and the keys seen
  let stack: Array<{ indent: number; keys: Map<string, number> }> = [];
  let blockIndent = -1; // > -1: inside a block scalar whose parent key sits at this indentation
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, "");
    if (/^---(\s|$)/.test(raw) || /^\.\.\.(\s|$)/.test(raw)) {
      stack = [];
      blockIndent = -1;
      continue;
    }
    const content = raw.trimStart();
    if (content === "" || content.startsWith("#")) continue;
    const lead = raw.slice(0, raw.length - content.length);
    const indent = lead.length;
    if (blockIndent >= 0) {
      if (indent > blockIndent) continue;
      blockIndent = -1;
    }
    if (lead.includes("\t")) {
      out.push(finding("yaml/tab", "error", { file, line: i + 1 }, "a tab is used as indentation", "indent with spaces only"));
      continue;
    }
    // `- ` items open a new mapping one level deeper; repeated dashes (`- - a: 1`) are rare and handled alike
    let col = indent;
    let rest = content;
    while (/^-(\s|$)/.test(rest)) {
      const after = rest.slice(1);
      const ws = after.length - after.trimStart().length;
      while (stack.length && stack[stack.length - 1]!.indent >= col) stack.pop();
      col += 1 + ws;
      rest = after.trimStart();
      stack.push({ indent: col, keys: new Map() });
      if (rest === "") break;
    }
    // `- |` opens a block scalar as a sequence item: its lines are text, not keys
    if (/^[|>][0-9+-]*\s*(#.*)?$/.test(rest)) {
      blockIndent = indent;
      continue;
    }
    // an alias as a key (`*app :`) is a key like any other: two different aliases are two keys
    const m = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|\*[^\s:]+|[^\s#'"{\[&*!|>%@`,?][^#]*?|\?[^#]*?)\s*:(\s|$)/.exec(rest);
    if (!m) continue;
    const key = m[1]!.replace(/^["']|["']$/g, "");
    while (stack.length && stack[stack.length - 1]!.indent > col) stack.pop();
    let top = stack[stack.length - 1];
    if (!top || top.indent !== col) {
      top = { indent: col, keys: new Map() };
      stack.push(top);
    }
    const prev = top.keys.get(key);
    if (prev !== undefined && OBJECT_KEYS.has(key) && col === 0) {
      // two objects run together: one finding, then read on as if a `---` were here
      out.push(finding("yaml/missing-separator", "error", { file, line: i + 1 }, `a second \`${key}:\` in one document (first on line ${prev}): two objects are run together`, "put a `---` line between the two objects"));
      stack = [{ indent: 0, keys: new Map([[key, i + 1]]) }];
    } else if (prev !== undefined) {
      out.push(finding("yaml/duplicate-key", "error", { file, line: i + 1 }, `duplicate key "${key}" (first on line ${prev}): most tools keep only the last one`, "remove one of the two keys or merge their values"));
    } else top.keys.set(key, i + 1);
    const value = rest.slice(m[0].length).trim();
    if (/^[|>][0-9+-]*\s*(#.*)?$/.test(value)) blockIndent = indent;
  }
  return out;
}

/** The loader's YAML problems (one per broken document, exact line) as findings, without parsing again. */
function fromProblems(model: ClusterModel, file: string, problems: Array<{ line: number; message: string }>): Finding[] {
  const text = readText(`${model.root}/${file}`) ?? "";
  const lines = text.split("\n");
  const bad = lines.findIndex((l) => BAD_SEPARATOR.test(l.replace(/\r$/, "")));
  if (bad >= 0)
    return [finding("yaml/separator", "error", { file, line: bad + 1 }, `"${lines[bad]!.trim()}" is not a document separator`, "write the separator as exactly `---` on its own line")];
  if (text.includes("\u0000"))
    return [finding("yaml/parse", "error", { file, line: lineAt(text, text.indexOf("\u0000")) }, "the file holds NUL bytes: it is binary, not YAML", "replace it with a text YAML file")];
  return problems.map((p) => {
    const where = { file, line: Math.max(p.line, 1) };
    const detail = p.message.replace(/^(invalid YAML|YAML parse failed|cannot convert YAML|cannot read file):\s*/, "");
    if (/^cannot read file/.test(p.message)) return finding("yaml/unreadable", "error", { file, line: p.line }, p.message.replace(/^cannot read file: /, ""), "replace it with a UTF-8 YAML text file inside the repository, or fix its permissions");
    if (/Tabs are not allowed/i.test(detail)) return finding("yaml/tab", "error", where, "a tab is used as indentation", "indent with spaces only");
    if (/keys must be unique/i.test(detail)) return finding("yaml/duplicate-key", "error", where, "duplicate key: most tools keep only the last one", "remove one of the two keys or merge their values");
    return finding("yaml/parse", "error", where, `YAML error: ${detail}`, /alias/i.test(detail) ? "define the anchor before its alias, or remove the alias" : "fix the YAML syntax at this line");
  });
}

/**
 * The yaml family on a loaded model. The loader already parsed every file under kubernetes/ and talos/ (and, for a
 * broken file, recorded each broken document's first error with its exact line): those become findings; the files
 * it read cleanly get the duplicate-key/tab scan (its fast parser keeps the last of two equal keys silently); YAML
 * files it does not read (.github/, top level) are parsed here.
 */
/** The duplicate-key scan's rules, as a cache salt (this file's text: results of other rules are never reused). */
let keysSalt: string | undefined;
/** A cache for the duplicate-key scan's per-file results (scripts/validate.ts: .home-ops/cache/validate-yaml.json). */
export function yamlKeysCache(file: string): FileResultCache<Finding[]> {
  keysSalt ??= `yaml-keys|${Bun.hash(readFileSync(import.meta.path, "utf8")).toString(36)}`;
  return new FileResultCache<Finding[]>(file, keysSalt);
}

/** `cache`: reuse the duplicate-key scan of files unchanged since the last run (validate's warm path). */
export function yamlCheck(model: ClusterModel, cache?: FileResultCache<Finding[]>): Finding[] {
  const loaded = new Set(model.documents.map((d) => d.file));
  const problems = new Map<string, Array<{ line: number; message: string }>>();
  for (const p of model.problems ?? []) {
    if (!/^(invalid YAML|YAML parse failed|cannot convert YAML|cannot read file)/.test(p.message)) continue;
    const list = problems.get(p.file);
    if (list) list.push(p);
    else problems.set(p.file, [p]);
  }
  const out: Finding[] = [];
  for (const [file, list] of problems) out.push(...fromProblems(model, file, list));
  for (const file of loaded) {
    if (problems.has(file)) continue;
    const text = modelText(model, file);
    if (text === undefined) continue;
    const scan = () => scanDuplicateKeys(file, text);
    out.push(...repoOnce(model, `yaml/keys\0${file}`, () => (cache ? cache.get(file, path.join(model.root, file), scan) : scan())));
  }
  // the loader reads every YAML file under kubernetes/ and talos/; the rest of the YAML roots is parsed here
  const skip = new Set([...loaded, ...problems.keys()]);
  const rest = YAML_ROOTS.filter((r) => r !== "kubernetes" && r !== "talos");
  const raw = repoOnce(model, `yaml/raw\0${[...skip].filter((f) => !/^(kubernetes|talos)\//.test(f)).sort().join("\0")}`, () => checkYamlFiles(model.root, skip, rest));
  out.push(...raw);
  return out;
}
