/**
 * Building a Flux Kustomization's spec.path with the real kustomize, the way kustomize-controller does
 * (reference/flux-render.md §1): in a scratch copy of the repo, Flux's fields are written into the folder's
 * kustomization.yaml (one is generated listing every YAML when the folder has none), then
 * `kubectl kustomize --load-restrictor LoadRestrictionsNone` runs on it. Paths that leave the repo copy are
 * refused (Flux's secure filesystem). `buildMetadata: [originAnnotations]` makes kustomize name the file each object
 * came from, so every rendered object keeps its origin.
 */
import type { GitIgnore } from "../gitignore.ts";
import { inspectEntry } from "../safe-read.ts";
import { copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Exec } from "../../exec.ts";
import { fastParse, splitDocuments } from "../yaml.ts";

export const KUSTOMIZATION_FILES = ["kustomization.yaml", "kustomization.yml", "Kustomization"];
const ORIGIN = "config.kubernetes.io/origin";
/** Folders never copied: generated, secret-bearing or irrelevant to what Flux applies. */
const SKIP = new Set([".git", "node_modules", ".home-ops", "clusterconfig", "coverage"]);

/** What Flux writes into a kustomization.yaml before the build (GEN WriteFile). */
export interface FluxBuildSpec {
  /** repo-relative folder */
  path: string;
  targetNamespace?: string;
  namePrefix?: string;
  nameSuffix?: string;
  patches?: unknown[];
  images?: unknown[];
  components?: string[];
  /**
   * resources entries left out, by repo-relative folder (this path or a folder below it; as written in the folder's
   * kustomization, or as Flux's generated one lists them): the partial render of a path that does not build
   */
  omit?: Record<string, string[]>;
}

export interface BuiltObject {
  object: Record<string, unknown>;
  /** repo-relative file the object came from (or the kustomization.yaml whose generator made it) */
  originFile?: string;
  generated: boolean;
}

export type BuildResult = { ok: true; objects: BuiltObject[]; remoteSkipped: string[] } | { ok: false; message: string; missing?: true };

/** A kustomize resource that lives on the network (git or HTTP): validate is offline and does not fetch it. */
export const REMOTE_RESOURCE = /^(https?:\/\/|git@|ssh:\/\/|github\.com\/|gitlab\.com\/|oci:\/\/)|\?ref=/;

/** A path a kustomization names: where in the kustomization, the path as written, and what it must be. */
export interface KustomizationEntry {
  path: (string | number)[];
  value: string;
  /** what the entry must be: a file, a directory with a kustomization, or either */
  expects: "file" | "dir" | "any";
  field: string;
}

/**
 * Every path a kustomization reads (kustomize's fields: resources, bases, components, patches, generators'
 * files, replacements, crds, configurations, plugin configs). An inline patch or plugin config (a string holding
 * a newline) is not a path.
 */
export function kustomizationEntries(o: Record<string, unknown>): KustomizationEntry[] {
  const out: KustomizationEntry[] = [];
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  const list = (key: string, expects: KustomizationEntry["expects"]) => {
    const v = o[key];
    if (!Array.isArray(v)) return;
    v.forEach((x, i) => {
      if (typeof x === "string") {
        if (!x.includes("\n")) out.push({ path: [key, i], value: x, expects, field: key });
      } else if (isObj(x) && typeof x.path === "string") out.push({ path: [key, i, "path"], value: x.path, expects: "file", field: key });
    });
  };
  list("resources", "any");
  list("bases", "dir");
  list("components", "dir");
  list("patches", "file");
  list("patchesStrategicMerge", "file");
  list("patchesJson6902", "file");
  list("replacements", "file");
  list("crds", "file");
  list("configurations", "file");
  for (const plugin of ["generators", "transformers", "validators"]) list(plugin, "any");
  for (const gen of ["configMapGenerator", "secretGenerator"]) {
    const g = o[gen];
    if (!Array.isArray(g)) continue;
    g.forEach((item, i) => {
      if (!isObj(item)) return;
      for (const key of ["files", "envs"]) {
        const files = item[key];
        if (!Array.isArray(files)) continue;
        files.forEach((f, j) => {
          if (typeof f !== "string") return;
          const eq = f.indexOf("=");
          out.push({ path: [gen, i, key, j], value: eq >= 0 ? f.slice(eq + 1) : f, expects: "file", field: `${gen}.${key}` });
        });
      }
      if (typeof item.env === "string") out.push({ path: [gen, i, "env"], value: item.env, expects: "file", field: `${gen}.env` });
    });
  }
  const openapi = o.openapi;
  if (isObj(openapi) && typeof openapi.path === "string") out.push({ path: ["openapi", "path"], value: openapi.path, expects: "file", field: "openapi" });
  return out;
}

/** A scratch copy of the repo that builds write into (never the repo itself). */
export class Workspace {
  readonly dir: string;
  private busy = false;
  /**
   * `tops`: the repo's top-level folders (and files) the builds can read; `ignore`: what the source leaves out of
   * its artifact (Flux's source-ignore rules): never copied, never built
   */
  constructor(readonly repoRoot: string, tops: readonly string[], private readonly ignore?: GitIgnore) {
    this.dir = mkdtempSync(path.join(tmpdir(), "home-ops-render-"));
    for (const top of new Set(tops)) {
      const kind = inspectEntry(repoRoot, top).kind;
      if (kind === "dir" && !ignore?.ignores(top, true)) this.copy(top);
      else if (kind === "file" && !ignore?.ignores(top, false)) this.place(path.join(repoRoot, top), path.join(this.dir, top), KUSTOMIZATION_FILES.includes(top));
    }
  }

  /**
   * A file into the workspace: a hard link (no data copied) when it is never written here, a copy for a
   * kustomization file (prepare writes Flux's fields into it: a link would write into the repo). Linking moves the
   * repo file's ctime (validate's result cache allows for that: lib/checks/result-cache.ts carry()); measured on
   * joryirving's 1133 files: link 55 ms, symlink 330 ms (and kustomize took 25% more CPU reading through them),
   * copy 500 ms.
   */
  private place(src: string, dest: string, written: boolean): void {
    if (!written && this.linkable) {
      try {
        linkSync(src, dest);
        return;
      } catch {
        this.linkable = false; // another filesystem, or links refused: copy from now on
      }
    }
    copyFileSync(src, dest);
  }
  private linkable = true;

  /**
   * Copies a repo folder into the workspace: folders and regular files by their directory entry (no stat each);
   * never copied: FIFOs and devices (kustomize would block on them or read /dev/zero until memory runs out),
   * unreadable folders and links out of the repo; validate reports each of them at the kustomization that lists it.
   */
  private copy(rel: string): void {
    let entries;
    try {
      entries = readdirSync(path.join(this.repoRoot, rel), { withFileTypes: true });
    } catch {
      return;
    }
    mkdirSync(path.join(this.dir, rel), { recursive: true });
    for (const e of entries) {
      if (SKIP.has(e.name)) continue;
      const r = `${rel}/${e.name}`;
      if (this.ignore?.ignoresEntry(r, e.isDirectory())) continue;
      if (e.isDirectory()) this.copy(r);
      else if (e.isFile()) this.place(path.join(this.repoRoot, r), path.join(this.dir, r), KUSTOMIZATION_FILES.includes(e.name));
      else if (e.isSymbolicLink()) {
        // a link inside the repo: a file is copied (a write through a link could reach the repo), a folder is
        // linked to the same folder of the workspace
        const kind = inspectEntry(this.repoRoot, r).kind;
        const src = path.join(this.repoRoot, r);
        if (kind === "file") copyFileSync(src, path.join(this.dir, r));
        else if (kind === "dir") symlinkSync(path.join(this.dir, path.relative(realpathSync(this.repoRoot), realpathSync(src))), path.join(this.dir, r));
      }
    }
  }
  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Writes Flux's fields into the folder's kustomization (generating one when it has none); undone by restore. */
  private prepare(spec: FluxBuildSpec): Prepared | { missing: true } {
    const abs = path.join(this.dir, spec.path);
    if (!existsSync(abs) || !statSync(abs).isDirectory()) return { missing: true };
    const { file, original, k } = kustomizationAt(abs);
    omitEntries(k, spec.omit?.[spec.path]);
    // offline: remote resources are left out (and named), the rest of the folder still renders
    const remoteSkipped = Array.isArray(k.resources) ? k.resources.filter((r): r is string => typeof r === "string" && REMOTE_RESOURCE.test(r)) : [];
    if (remoteSkipped.length) k.resources = (k.resources as unknown[]).filter((r) => !(typeof r === "string" && REMOTE_RESOURCE.test(r)));
    writeFluxFields(k, spec);
    if (original !== undefined && parsedBroken(original)) {
      // leave a file kustomize cannot read as it is: its error is the finding
    } else writeFileSync(file, JSON.stringify(k));
    // folders below whose broken entries a partial render leaves out (their kustomization files are copies here)
    const nested: { file: string; original?: string }[] = [];
    for (const [folder, entries] of Object.entries(spec.omit ?? {})) {
      if (folder === spec.path) continue;
      const below = kustomizationAt(path.join(this.dir, folder));
      if (below.original !== undefined && (parsedBroken(below.original) || Object.keys(below.k).length === 0)) continue;
      omitEntries(below.k, entries);
      nested.push({ file: below.file, original: below.original });
      writeFileSync(below.file, JSON.stringify(below.k));
    }
    return { abs, file, original, remoteSkipped, component: k.kind === "Component", nested };
  }

  private restore(p: Prepared): void {
    for (const n of p.nested.reverse()) {
      if (n.original !== undefined) writeFileSync(n.file, n.original);
      else rmSync(n.file, { force: true });
    }
    if (p.original !== undefined) writeFileSync(p.file, p.original);
    else rmSync(p.file, { force: true });
  }

  private async kustomize(abs: string, exec: Exec, kubectl: string, purpose: string) {
    const once = () => exec.run(kubectl, ["kustomize", "--load-restrictor", "LoadRestrictionsNone", abs], { readOnly: true, allowFailure: true, timeoutMs: 120_000, purpose, env: kustomizeEnv(exec) });
    let r = await once();
    // kubectl wrappers (the CI image's dispatcher) sometimes die silently under parallel starts: a failure
    // without a message is retried before it counts
    for (let i = 0; i < 2 && r.exitCode !== 0 && !r.stderr.trim() && !r.stdout.trim(); i++) r = await once();
    return r;
  }

  private collect(stdout: string, buildDir: string, spec: FluxBuildSpec, into: BuiltObject[]): string | undefined {
    for (const o of parseStream(stdout)) {
      const origin = originOf(o, buildDir, this.dir);
      if (origin.outside) return `${spec.path} reads ${origin.outside}, outside the repository (Flux refuses paths that leave the source)`;
      into.push({ object: o, originFile: origin.file, generated: origin.generated });
    }
    return undefined;
  }

  /** Builds one Flux Kustomization's path. One build at a time per workspace (it edits the folder's kustomization). */
  async build(spec: FluxBuildSpec, exec: Exec, kubectl = "kubectl"): Promise<BuildResult> {
    if (this.busy) throw new Error("workspace is busy");
    this.busy = true;
    const prep = this.prepare(spec);
    try {
      if ("missing" in prep) return { ok: false, message: `path ${spec.path} does not exist`, missing: true };
      const r = await this.kustomize(prep.abs, exec, kubectl, `kustomize build of ${spec.path}`);
      if (r.exitCode !== 0) return { ok: false, message: kustomizeMessage(r.stderr || r.stdout, this.dir) };
      const objects: BuiltObject[] = [];
      const outside = this.collect(r.stdout, prep.abs, spec, objects);
      return outside ? { ok: false, message: outside } : { ok: true, objects, remoteSkipped: prep.remoteSkipped };
    } finally {
      if (!("missing" in prep)) this.restore(prep);
      this.busy = false;
    }
  }

  /**
   * Builds several Flux Kustomizations in ONE kustomize run: each path (with Flux's fields written in) is wrapped in
   * a folder that stamps its objects with its index, and one kustomization lists the wrappers. The paths must not
   * contain one another. undefined = the combined build failed (an error in one path, or two paths making the same
   * object): the caller builds them one by one, which also finds out which one it was.
   */
  async buildBatch(specs: readonly FluxBuildSpec[], exec: Exec, kubectl = "kubectl"): Promise<BuildResult[] | undefined> {
    if (this.busy) throw new Error("workspace is busy");
    this.busy = true;
    const batchDir = path.join(this.dir, BATCH_DIR);
    const preps: (Prepared | { missing: true })[] = [];
    try {
      mkdirSync(batchDir, { recursive: true });
      const wrappers: string[] = [];
      specs.forEach((spec, i) => {
        const prep = this.prepare(spec);
        preps.push(prep);
        if ("missing" in prep || prep.component) return; // a Component can be built, not listed: it runs alone below
        const w = path.join(batchDir, String(i));
        mkdirSync(w, { recursive: true });
        writeFileSync(path.join(w, "owner.yaml"), JSON.stringify({ apiVersion: "builtin", kind: "AnnotationsTransformer", metadata: { name: "render-owner" }, annotations: { [OWNER]: String(i) }, fieldSpecs: [{ path: "metadata/annotations", create: true }] }));
        // a per-path name suffix keeps objects apart that share an ID before substitution (every app's `${APP}`
        // from one component): removed again below, with the reference updates kustomize made for it
        writeFileSync(path.join(w, "kustomization.yaml"), JSON.stringify({ apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", resources: [path.relative(w, prep.abs)], transformers: ["owner.yaml"], nameSuffix: suffix(i) }));
        wrappers.push(`./${i}`);
      });
      writeFileSync(path.join(batchDir, "kustomization.yaml"), JSON.stringify({ apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", resources: wrappers, buildMetadata: ["originAnnotations"] }));
      const r = await this.kustomize(batchDir, exec, kubectl, `kustomize build of ${specs.length} paths`);
      if (r.exitCode !== 0) {
        if (process.env.HOME_OPS_RENDER_DEBUG) console.error(`batch of ${specs.length} failed: ${kustomizeMessage(r.stderr, this.dir).slice(0, 3000)}`);
        return undefined;
      }
      const byOwner: BuiltObject[][] = specs.map(() => []);
      const all: BuiltObject[] = [];
      const outside = this.collect(r.stdout, batchDir, specs[0]!, all);
      if (outside) return undefined;
      for (const b of all) {
        const ann = (b.object.metadata as { annotations?: Record<string, string> } | undefined)?.annotations;
        const owner = Number(ann?.[OWNER]);
        if (ann) {
          delete ann[OWNER];
          if (Object.keys(ann).length === 0) delete (b.object.metadata as Record<string, unknown>).annotations;
        }
        if (!Number.isInteger(owner) || !byOwner[owner]) return undefined;
        // kustomize may also point a reference at another path's object (a ClusterRole both render): strip every suffix
        b.object = stripSuffix(b.object) as Record<string, unknown>;
        byOwner[owner]!.push(b);
      }
      const results: BuildResult[] = [];
      for (const [i, prep] of preps.entries()) {
        if ("missing" in prep) results.push({ ok: false, message: `path ${specs[i]!.path} does not exist`, missing: true });
        else if (!prep.component) results.push({ ok: true, objects: byOwner[i]!, remoteSkipped: prep.remoteSkipped });
        else {
          const one = await this.kustomize(prep.abs, exec, kubectl, `kustomize build of ${specs[i]!.path}`);
          if (one.exitCode !== 0) return undefined;
          const objects: BuiltObject[] = [];
          if (this.collect(one.stdout, prep.abs, specs[i]!, objects)) return undefined;
          results.push({ ok: true, objects, remoteSkipped: prep.remoteSkipped });
        }
      }
      return results;
    } finally {
      for (const prep of preps) if (!("missing" in prep)) this.restore(prep);
      rmSync(batchDir, { recursive: true, force: true });
      this.busy = false;
    }
  }
}

/**
 * `objects` with kustomize `patches` applied (a FluxInstance's spec.kustomize.patches on what flux-operator
 * generates), built by the real kustomize in a scratch folder. undefined when the build fails.
 */
export async function patchObjects(objects: readonly Record<string, unknown>[], patches: readonly unknown[], exec: Exec, kubectl = "kubectl"): Promise<Record<string, unknown>[] | undefined> {
  const dir = mkdtempSync(path.join(tmpdir(), "home-ops-render-patch-"));
  try {
    writeFileSync(path.join(dir, "objects.yaml"), objects.map((o) => JSON.stringify(o)).join("\n---\n"));
    writeFileSync(path.join(dir, "kustomization.yaml"), JSON.stringify({ apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", resources: ["objects.yaml"], patches }));
    const r = await exec.run(kubectl, ["kustomize", dir], { readOnly: true, allowFailure: true, timeoutMs: 60_000, purpose: "kustomize patches of a FluxInstance", env: kustomizeEnv(exec) });
    return r.exitCode === 0 ? parseStream(r.stdout) : undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * kubectl's environment for a build: Go's collector at GOGC=200 (unless set) instead of 100. kustomize allocates
 * heavily; on a batch of 33 Flux paths of a public repo this took 17% of its CPU time for 16% more memory (92 ->
 * 107 MB; 400 saved no more and used 153 MB).
 */
function kustomizeEnv(exec: Exec): Record<string, string | undefined> {
  return exec.env.GOGC === undefined ? { ...exec.env, GOGC: "200" } : exec.env;
}

/** A resources entry as kustomize resolves it relative to its folder (`./a/`, `a` and `a/` are one entry). */
export const entryKey = (entry: string): string => path.posix.normalize(entry).replace(/\/$/, "");

function omitEntries(k: Record<string, unknown>, entries: readonly string[] | undefined): void {
  if (!entries?.length || !Array.isArray(k.resources)) return;
  const omit = new Set(entries.map(entryKey));
  k.resources = k.resources.filter((r) => !(typeof r === "string" && omit.has(entryKey(r))));
}

const BATCH_DIR = ".home-ops-render-batch";
const suffix = (i: number) => `-hozq${i}q`;

const SUFFIX_RE = /-hozq\d+q/g;

function stripSuffix(v: unknown): unknown {
  if (typeof v === "string") return v.includes("-hozq") ? v.replace(SUFFIX_RE, "") : v;
  if (Array.isArray(v)) return v.map((x) => stripSuffix(x));
  if (v && typeof v === "object") {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k.includes("-hozq") ? k.replace(SUFFIX_RE, "") : k] = stripSuffix(x);
    return o;
  }
  return v;
}

const OWNER = "render.home-ops.io/owner";

interface Prepared {
  /** the folder's kustomization is a `kind: Component` */
  component: boolean;
  abs: string;
  file: string;
  original?: string;
  remoteSkipped: string[];
  /** kustomization files of folders below, rewritten for a partial render */
  nested: { file: string; original?: string }[];
}

/**
 * A folder's kustomization as a build starts from it: its file (the one Flux would generate when it has none), its
 * text as written, and its fields (Flux's generated list of every YAML when there is no file; none when it does not
 * parse: kustomize reports the broken file itself).
 */
function kustomizationAt(abs: string): { file: string; original?: string; k: Record<string, unknown> } {
  const existing = KUSTOMIZATION_FILES.find((f) => existsSync(path.join(abs, f)));
  const file = path.join(abs, existing ?? "kustomization.yaml");
  if (!existing) return { file, k: { apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", resources: generatedResources(abs) } };
  const original = readFileSync(file, "utf8");
  let parsed: unknown;
  try {
    parsed = fastParse(original);
  } catch {
    parsed = undefined;
  }
  if (Array.isArray(parsed)) parsed = parsed.find((x) => x && typeof x === "object");
  return { file, original, k: parsed && typeof parsed === "object" && !Array.isArray(parsed) ? { ...(parsed as Record<string, unknown>) } : {} };
}

/** A kustomization file that does not parse: kustomize must see it as written to report it. */
function parsedBroken(text: string): boolean {
  try {
    fastParse(text);
    return false;
  } catch {
    return true;
  }
}

/** Flux's generated kustomization: every YAML below the folder; a subfolder with its own kustomization is listed whole. */
export function generatedResources(absDir: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (KUSTOMIZATION_FILES.some((f) => existsSync(path.join(dir, e.name, f)))) out.push(r);
        else walk(path.join(dir, e.name), r);
      } else if (/\.ya?ml$/.test(e.name) && !/(^|\/)\.sops\.ya?ml$/.test(r)) out.push(r);
    }
  };
  walk(absDir, "");
  return out;
}

function writeFluxFields(k: Record<string, unknown>, spec: FluxBuildSpec): void {
  if (spec.targetNamespace) k.namespace = spec.targetNamespace;
  if (spec.namePrefix) k.namePrefix = spec.namePrefix;
  if (spec.nameSuffix) k.nameSuffix = spec.nameSuffix;
  if (spec.patches?.length) k.patches = [...(Array.isArray(k.patches) ? k.patches : []), ...spec.patches];
  if (spec.components?.length) k.components = [...(Array.isArray(k.components) ? k.components : []), ...spec.components];
  if (spec.images?.length) {
    const images = Array.isArray(k.images) ? [...k.images] : [];
    for (const img of spec.images) {
      const name = (img as { name?: unknown })?.name;
      const i = images.findIndex((x) => (x as { name?: unknown })?.name === name);
      if (i >= 0) images[i] = img;
      else images.push(img);
    }
    k.images = images;
  }
  const bm = Array.isArray(k.buildMetadata) ? k.buildMetadata : [];
  k.buildMetadata = [...new Set([...bm, "originAnnotations"])];
}

/**
 * kustomize's own message, without kubectl's log header: kubectl prints either `error: <msg>` or a klog line
 * (`E1206 12:33:12.789 20252 run.go:72] "command failed" err="<msg>"`). Paths in the scratch copy become repo paths.
 */
export function kustomizeMessage(stderr: string, scratch?: string): string {
  const parts: string[] = [];
  for (const raw of stderr.split("\n")) {
    const l = raw.trim();
    if (!l) continue;
    const klog = /^[EWIF]\d{4} [\d:.]+\s+\d+ [^\]]+\]\s*(.*)$/.exec(l);
    if (klog) {
      const err = /\berr="((?:[^"\\]|\\.)*)"/.exec(klog[1] ?? "");
      if (err?.[1]) parts.push(err[1].replace(/\\(.)/g, "$1"));
      else if (/^E/.test(l)) parts.push(klog[1] ?? "");
      continue;
    }
    parts.push(l.replace(/^(error|Error):\s*/, ""));
  }
  let msg = parts.join(" ").trim() || "kustomize failed without a message";
  if (scratch) msg = msg.replaceAll(`${scratch}/`, "").replaceAll(scratch, ".");
  return msg;
}

function parseStream(text: string): Record<string, unknown>[] {
  const lines = text.split("\n");
  const chunks = splitDocuments(lines);
  const out: Record<string, unknown>[] = [];
  for (const c of chunks ?? [{ start: 0, end: lines.length, index: 0 }]) {
    const o = fastParse(lines.slice(c.start, c.end).join("\n"));
    if (o && typeof o === "object" && !Array.isArray(o)) out.push(o as Record<string, unknown>);
  }
  return out;
}

/** The repo-relative file an object came from (kustomize's origin annotation), and the annotation removed. */
function originOf(o: Record<string, unknown>, buildDir: string, scratch: string): { file?: string; generated: boolean; outside?: string } {
  const md = o.metadata as { annotations?: Record<string, string> } | undefined;
  const raw = md?.annotations?.[ORIGIN];
  if (md?.annotations) {
    delete md.annotations[ORIGIN];
    if (Object.keys(md.annotations).length === 0) delete md.annotations;
  }
  if (!raw) return { generated: false };
  let info: Record<string, unknown> = {};
  try {
    const parsed = fastParse(raw);
    if (parsed && typeof parsed === "object") info = parsed as Record<string, unknown>;
  } catch {
    return { generated: false };
  }
  const rel = typeof info.path === "string" ? info.path : typeof info.configuredIn === "string" ? info.configuredIn : undefined;
  if (!rel || typeof info.repo === "string") return { generated: info.configuredIn !== undefined };
  const abs = path.resolve(buildDir, rel);
  const repoRel = path.relative(scratch, abs);
  if (repoRel.startsWith("..") || path.isAbsolute(repoRel)) return { generated: false, outside: rel };
  return { file: repoRel.split(path.sep).join("/"), generated: info.configuredIn !== undefined };
}
