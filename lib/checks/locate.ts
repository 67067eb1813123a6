import type { z } from "zod";
import { lineOf } from "../repo/load.ts";
import type { RepoDocument } from "../repo/model.ts";
import { finding, type Finding, type Severity } from "./types.ts";

/** Helpers shared by the check families: line lookups inside documents and zod issues as findings. */

export type PathSeg = string | number;
/** What a line lookup needs of a document (the loader's lineOf input plus the file). */
export type Locatable = Parameters<typeof lineOf>[0] & Pick<RepoDocument, "file">;

export function at(d: Locatable, path: readonly PathSeg[] = []) {
  return { file: d.file, line: path.length === 0 ? d.line : lineOf(d, path) };
}

export const dotted = (path: readonly PathSeg[]) =>
  path.reduce<string>((s, p) => (typeof p === "number" ? `${s}[${p}]` : s ? `${s}.${p}` : String(p)), "");

/** zod issues of `value` (found at `base` inside document `d`) as schema findings: unknown keys, wrong types. */
export function zodFindings(
  schema: z.ZodType,
  value: unknown,
  d: Locatable,
  base: readonly PathSeg[],
  what: string,
  severity: Severity = "error",
): Finding[] {
  const r = schema.safeParse(value);
  if (r.success) return [];
  const out: Finding[] = [];
  for (const issue of r.error.issues) {
    const path = [...base, ...(issue.path as PathSeg[])];
    // a value holding a Flux variable (`${APP}`, `${SIZE:=5Gi}`) is only known after postBuild substitution
    const raw = get(value, ...(issue.path as PathSeg[]));
    if (typeof raw === "string" && raw.includes("${")) continue;
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        const p = [...path, key];
        out.push(
          finding("schema/unknown-field", severity, at(d, p), `${what}: unknown field \`${dotted(p)}\``, "remove it or fix its spelling (see the documented fields)"),
        );
      }
      continue;
    }
    out.push(finding("schema/invalid", severity, at(d, path), `${what}: \`${dotted(path) || "(document)"}\` ${issue.message}`, "set the field to the documented type and value"));
  }
  return out;
}

export function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function get(v: unknown, ...path: PathSeg[]): unknown {
  let cur: unknown = v;
  for (const p of path) {
    if (typeof p === "number") cur = Array.isArray(cur) ? cur[p] : undefined;
    else cur = isObj(cur) ? cur[p] : undefined;
    if (cur === undefined) return undefined;
  }
  return cur;
}

// Indexes over a model's documents, built once per model: lookups by source stay O(1) on repos of any size.
const bySource = new WeakMap<readonly RepoDocument[], Map<string, RepoDocument>>();
const kustomizationByDir = new WeakMap<readonly RepoDocument[], Map<string, RepoDocument>>();

/** The document a model fact's `source` points at (file + first line), if any. */
export function docAt(model: { documents: RepoDocument[] }, src: { file: string; line: number }): RepoDocument | undefined {
  let idx = bySource.get(model.documents);
  if (!idx) {
    idx = new Map();
    for (const d of model.documents) if (!idx.has(`${d.file}:${d.line}`)) idx.set(`${d.file}:${d.line}`, d);
    bySource.set(model.documents, idx);
  }
  return idx.get(`${src.file}:${src.line}`);
}

/** The kustomization.yaml document of a directory (repo-relative), if any. */
export function kustomizationIn(
  model: { documents: RepoDocument[] },
  dir: string,
  isKustomization: (d: RepoDocument) => boolean,
): RepoDocument | undefined {
  let idx = kustomizationByDir.get(model.documents);
  if (!idx) {
    idx = new Map();
    for (const d of model.documents) {
      if (!isKustomization(d)) continue;
      const k = d.file.slice(0, Math.max(0, d.file.lastIndexOf("/")));
      if (!idx.has(k)) idx.set(k, d);
    }
    kustomizationByDir.set(model.documents, idx);
  }
  return idx.get(dir);
}
