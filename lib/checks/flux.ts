import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import type { ClusterModel, FluxKustomization, RepoDocument, Source } from "../repo/model.ts";
import { isKustomizationDoc } from "./kustomize.ts";
import { at, docAt, get, isObj, kustomizationIn } from "./locate.ts";
import { listRepoFiles, modelText } from "./files.ts";
import { finding, type Finding } from "./types.ts";
import { fluxInputs } from "./structure.ts";

/**
 * flux: the Flux objects hang together — paths exist, dependsOn names real Kustomizations without cycles, sources
 * exist, every `${VAR}` a Kustomization substitutes is defined (Flux silently substitutes an empty string), and
 * target namespaces exist.
 */

const BUILTIN_NAMESPACES = new Set(["default", "kube-system", "kube-public", "kube-node-lease", "flux-system"]);
const VAR = /(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-=+?][^}]*)?\}/g;

const key = (ns: string | undefined, name: string) => `${ns ?? "default"}/${name}`;


function where(model: ClusterModel, src: Source, p: (string | number)[]): { file: string; line: number } {
  const d = docAt(model, src);
  return d ? at(d, p) : src;
}

function paths(model: ClusterModel): Finding[] {
  const out: Finding[] = [];
  for (const k of model.kustomizations) {
    if (k.path === undefined || k.resolvedPath === undefined) continue;
    const abs = path.join(model.root, k.resolvedPath);
    if (!existsSync(abs) || !statSync(abs).isDirectory())
      out.push(finding("flux/path-missing", "error", where(model, k.source, ["spec", "path"]), `Kustomization ${k.name}: path ${k.path} does not exist`, "fix spec.path (relative to the repository root, e.g. ./kubernetes/apps/<ns>/<app>/app)"));
  }
  return out;
}

function dependencies(model: ClusterModel): Finding[] {
  const out: Finding[] = [];
  const ks = new Map(model.kustomizations.map((k) => [key(k.namespace, k.name), k]));
  const hrs = new Map(model.helmReleases.map((h) => [key(h.namespace, h.name), h]));
  const graph = new Map<string, string[]>();
  for (const k of model.kustomizations) {
    const edges: string[] = [];
    k.dependsOn.forEach((dep, i) => {
      const target = key(dep.namespace ?? k.namespace, dep.name);
      if (!ks.has(target))
        out.push(finding("flux/depends-on-missing", "error", where(model, k.source, ["spec", "dependsOn", i]), `Kustomization ${k.name} depends on ${target}, which does not exist`, "name an existing Flux Kustomization (metadata.name, and namespace when it differs)"));
      else edges.push(target);
    });
    graph.set(key(k.namespace, k.name), edges);
  }
  for (const h of model.helmReleases)
    h.dependsOn.forEach((dep, i) => {
      const target = key(dep.namespace ?? h.namespace, dep.name);
      if (!hrs.has(target))
        out.push(finding("flux/depends-on-missing", "error", where(model, h.source, ["spec", "dependsOn", i]), `HelmRelease ${h.name} depends on HelmRelease ${target}, which does not exist`, "name an existing HelmRelease"));
    });
  // cycles: each reported once, at the dependsOn of its first member in file order
  const state = new Map<string, 1 | 2>();
  const reported = new Set<string>();
  const stack: string[] = [];
  const visit = (n: string) => {
    state.set(n, 1);
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 1) {
        const cycle = stack.slice(stack.indexOf(m));
        const id = [...cycle].sort().join(",");
        if (!reported.has(id)) {
          reported.add(id);
          const first = cycle.map((c) => ks.get(c)!).sort((a, b) => a.source.file.localeCompare(b.source.file) || a.source.line - b.source.line)[0]!;
          const next = cycle[(cycle.indexOf(key(first.namespace, first.name)) + 1) % cycle.length]!;
          const idx = first.dependsOn.findIndex((d) => key(d.namespace ?? first.namespace, d.name) === next);
          out.push(finding("flux/depends-on-cycle", "error", where(model, first.source, ["spec", "dependsOn", Math.max(0, idx)]), `dependsOn cycle: ${[...cycle, m].map((c) => c.split("/")[1]).join(" -> ")}: none of them will ever reconcile`, "remove one dependsOn of the cycle"));
        }
      } else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, 2);
  };
  for (const n of graph.keys()) if (!state.has(n)) visit(n);
  return out;
}

/**
 * Where the repo keeps the chart sources its HelmReleases use (of `kind` when it has some), said for the fix of a
 * missing one: next to the HelmRelease when most sit in their app's folder, else the folder holding all the others
 * (e.g. kubernetes/flux/meta/repositories, kubernetes/flux/repositories/helm); undefined when the repo has none.
 */
/**
 * Where the repo keeps the ConfigMaps its Kustomizations substitute from (" (next to <name> in <folder>)"), taken
 * from one that exists; undefined when it has none.
 */
function substituteSourcesHome(model: ClusterModel, missing: string): string | undefined {
  for (const k of model.kustomizations)
    for (const ref of k.postBuild?.substituteFrom ?? []) {
      if (ref.kind !== "ConfigMap" || ref.name === missing) continue;
      const d = model.documents.find((x) => x.kind === "ConfigMap" && x.name === ref.name);
      if (d) return ` (next to ${ref.name} in ${d.file.slice(0, d.file.lastIndexOf("/"))})`;
    }
  return undefined;
}

export function chartSourcesHome(model: ClusterModel, kind?: string): { nextToRelease: true } | { dir: string } | undefined {
  const releaseDirs = new Set(model.helmReleases.map((h) => path.posix.dirname(h.source.file)));
  // (by kind and name: where a source sits is the question, not whether its namespace is right)
  const used = new Set(model.helmReleases.map((h) => `${h.sourceRef?.kind}/${h.sourceRef?.name}`));
  const all = model.fluxSources.filter((s) => used.has(`${s.kind}/${s.name}`));
  // those of the missing one's kind when the repo has some (helm/ and oci/ folders)
  const charts = all.some((s) => s.kind === kind) ? all.filter((s) => s.kind === kind) : all;
  if (charts.length === 0) return undefined;
  const apart = charts.filter((s) => !releaseDirs.has(path.posix.dirname(s.source.file)));
  if (apart.length * 2 < charts.length) return { nextToRelease: true };
  let dir = path.posix.dirname(apart[0]!.source.file);
  for (const s of apart) while (dir !== "." && s.source.file !== dir && !s.source.file.startsWith(`${dir}/`)) dir = path.posix.dirname(dir);
  return dir.includes("/") ? { dir } : undefined; // "kubernetes" alone says nothing
}

function sources(model: ClusterModel): Finding[] {
  const out: Finding[] = [];
  const have = new Set(model.fluxSources.map((s) => `${s.kind}/${key(s.namespace, s.name)}`));
  const homes = new Map<string, ReturnType<typeof chartSourcesHome>>();
  for (const h of model.helmReleases) {
    const ref = h.sourceRef;
    if (!ref?.name) continue;
    const k = `${ref.kind}/${key(ref.namespace ?? h.namespace, ref.name)}`;
    if (!have.has(k)) {
      const d = docAt(model, h.source);
      const p = d && get(d.object, "spec", "chartRef") !== undefined ? ["spec", "chartRef"] : ["spec", "chart", "spec", "sourceRef"];
      if (!homes.has(ref.kind)) homes.set(ref.kind, chartSourcesHome(model, ref.kind));
      const home = homes.get(ref.kind);
      const fix = !home
        ? `add the ${ref.kind} where Flux applies it (a folder a Kustomization builds), or fix sourceRef`
        : "nextToRelease" in home
          ? `add the ${ref.kind} next to the HelmRelease, as the repo's other chart sources are, or fix sourceRef`
          : `add the ${ref.kind} under ${home.dir}, with the repo's other chart sources, or fix sourceRef`;
      out.push(finding("flux/source-missing", "error", where(model, h.source, p), `HelmRelease ${h.name}: source ${ref.kind} ${key(ref.namespace ?? h.namespace, ref.name)} does not exist`, fix));
    }
  }
  for (const k of model.kustomizations) {
    const ref = k.sourceRef;
    if (!ref?.name) continue;
    if (!have.has(`${ref.kind}/${key(ref.namespace ?? k.namespace, ref.name)}`))
      out.push(finding("flux/source-missing", "error", where(model, k.source, ["spec", "sourceRef"]), `Kustomization ${k.name}: source ${ref.kind} ${ref.name} does not exist`, "point sourceRef at the GitRepository of this repo"));
  }
  return out;
}

// ---- postBuild substitution --------------------------------------------------------------------------------

/** Files a Flux Kustomization builds: the kustomize graph from its path, or every YAML below it without one. */
function builtFiles(model: ClusterModel, dir: string, seen = new Set<string>()): string[] {
  if (seen.has(dir)) return [];
  seen.add(dir);
  const kdoc = kustomizationIn(model, dir, isKustomizationDoc);
  if (!kdoc) {
    const out: string[] = [];
    const walk = (rel: string) => {
      let entries;
      try {
        entries = readdirSync(path.join(model.root, rel), { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const r = `${rel}/${e.name}`;
        if (e.isDirectory()) walk(r);
        else if (/\.ya?ml$/.test(e.name)) out.push(r);
      }
    };
    walk(dir);
    return out;
  }
  const out = [kdoc.file];
  const o = isObj(kdoc.object) ? kdoc.object : {};
  for (const field of ["resources", "components", "patches"]) {
    const list = o[field];
    if (!Array.isArray(list)) continue;
    for (const e of list) {
      const v = typeof e === "string" ? e : isObj(e) && typeof e.path === "string" ? e.path : undefined;
      if (!v || /^[a-z]+:\/\//.test(v)) continue;
      const rel = path.posix.normalize(path.posix.join(dir, v));
      try {
        if (statSync(path.join(model.root, rel)).isDirectory()) out.push(...builtFiles(model, rel, seen));
        else out.push(rel);
      } catch {
        // a missing entry is the kustomize family's finding
      }
    }
  }
  return out;
}

const configMapIndex = new WeakMap<object, Map<string, Set<string>>>();

/** Keys of ConfigMap `name` (a manifest in namespace `namespace`, or a kustomize configMapGenerator's literals). */
function configMapKeys(model: ClusterModel, name: string, namespace: string | undefined): Set<string> | undefined {
  let idx = configMapIndex.get(model.documents);
  if (!idx) {
    idx = new Map();
    const generated = new Map<string, Set<string>>();
    for (const d of model.documents) {
      if (d.kind === "ConfigMap" && d.name) {
        const data = get(d.object, "data");
        const k = `${d.namespace ?? ""}/${d.name}`;
        if (!idx.has(k)) idx.set(k, new Set(isObj(data) ? Object.keys(data) : []));
      } else if (isKustomizationDoc(d) && isObj(d.object) && Array.isArray(d.object.configMapGenerator)) {
        for (const g of d.object.configMapGenerator) {
          if (!isObj(g) || typeof g.name !== "string" || generated.has(g.name)) continue;
          const keys = new Set<string>();
          if (Array.isArray(g.literals)) for (const l of g.literals) keys.add(String(l).split("=")[0] ?? "");
          generated.set(g.name, keys);
        }
      }
    }
    for (const [n, keys] of generated) idx.set(`*/${n}`, keys);
    configMapIndex.set(model.documents, idx);
  }
  // in its namespace, else one without a namespace (set by a kustomization or Flux), else a generated one
  return idx.get(`${namespace ?? ""}/${name}`) ?? idx.get(`/${name}`) ?? idx.get(`*/${name}`);
}

function substitution(model: ClusterModel): Finding[] {
  const out: Finding[] = [];
  // A rendered model was substituted by the render stage, which reported undefined variables where Flux meets them.
  const rendered = model.render !== undefined;
  const texts = new Map<string, RepoDocument[]>();
  for (const d of model.documents) {
    const list = texts.get(d.file);
    if (list) list.push(d);
    else texts.set(d.file, [d]);
  }
  for (const k of model.kustomizations) {
    if (!k.postBuild || k.resolvedPath === undefined) continue;
    const defined = new Set(Object.keys(k.postBuild.substitute ?? {}));
    let unknowable = false;
    (k.postBuild.substituteFrom ?? []).forEach((ref, i) => {
      const ns = k.namespace;
      if (ref.kind === "ConfigMap") {
        const keys = configMapKeys(model, ref.name, ns);
        if (keys) keys.forEach((x) => defined.add(x));
        else if (ref.optional !== true) {
          unknowable = true; // which variables it would define is unknown: report the missing source only
          out.push(finding("flux/substitute-from-missing", "error", where(model, k.source, ["spec", "postBuild", "substituteFrom", i]), `Kustomization ${k.name}: ConfigMap ${ref.name} (substituteFrom) is not in the repo`, `add the ConfigMap${substituteSourcesHome(model, ref.name) ?? ""} or mark the reference optional`));
        }
      } else {
        // a Secret comes from an ExternalSecret: its keys live in 1Password, so they cannot be listed offline
        unknowable = true;
        if (ref.optional !== true && !model.externalSecrets.some((e) => e.targetName === ref.name) && !secretWrittenInRepo(model, ref.name))
          out.push(finding("flux/substitute-from-missing", "error", where(model, k.source, ["spec", "postBuild", "substituteFrom", i]), `Kustomization ${k.name}: Secret ${ref.name} (substituteFrom) is created by no ExternalSecret`, "add an ExternalSecret with that target name, or mark the reference optional"));
      }
    });
    if (unknowable || rendered) continue;
    for (const file of builtFiles(model, k.resolvedPath)) {
      for (const d of texts.get(file) ?? []) {
        const seenHere = new Set<string>();
        walkStrings(d.object, [], (s, p) => {
          for (const m of s.matchAll(VAR)) {
            const name = m[1]!;
            if (m[2] || defined.has(name) || seenHere.has(name)) continue;
            seenHere.add(name);
            out.push(finding("flux/substitute-undefined", "error", at(d, p), `\${${name}} is substituted by Kustomization ${k.name} but defined nowhere: Flux replaces it with an empty string`, `define ${name} in postBuild.substitute or the cluster-settings ConfigMap, or escape it as $\${${name}}`));
          }
        });
      }
    }
  }
  return out;
}

const secretNames = new WeakMap<object, Set<string>>();

/**
 * Secrets the repo writes itself: a manifest anywhere in it (the bootstrap's folder, a SOPS-encrypted file) that
 * the bootstrap or Flux applies. Their keys are unknown offline, but they exist.
 */
function secretWrittenInRepo(model: ClusterModel, name: string): boolean {
  let names = secretNames.get(model);
  if (!names) {
    names = new Set();
    for (const d of model.documents) if (d.kind === "Secret" && d.name) names.add(d.name);
    for (const f of listRepoFiles(model.root, ["bootstrap", "kubernetes/bootstrap"])) {
      if (!/\.(ya?ml|j2|tmpl)$/.test(f.rel)) continue;
      const text = modelText(model, f.rel) ?? "";
      if (!/^kind:\s*Secret\s*$/m.test(text)) continue;
      for (const m of text.matchAll(/^\s{2}name:\s*["']?([a-z0-9.-]+)["']?\s*$/gm)) names.add(m[1]!);
    }
    secretNames.set(model, names);
  }
  return names.has(name);
}

function walkStrings(v: unknown, p: (string | number)[], fn: (s: string, p: (string | number)[]) => void): void {
  if (typeof v === "string") fn(v, p);
  else if (Array.isArray(v)) v.forEach((x, i) => walkStrings(x, [...p, i], fn));
  else if (isObj(v)) for (const [k, x] of Object.entries(v)) walkStrings(x, [...p, k], fn);
}

function namespaces(model: ClusterModel): Finding[] {
  const out: Finding[] = [];
  const have = new Set([...BUILTIN_NAMESPACES, ...model.namespaces.map((n) => n.name)]);
  // `src` is called only for a finding: a line lookup per object costs more than the check
  const need = (ns: string | undefined, src: () => { file: string; line: number }, what: string) => {
    if (ns && !have.has(ns) && !ns.includes("${"))
      out.push(finding("flux/namespace-missing", "error", src(), `${what} targets namespace ${ns}, which no Namespace in the repo creates`, `add kubernetes/apps/${ns}/namespace.yaml (with Pod Security labels) or fix the namespace`));
  };
  for (const k of model.kustomizations) need(k.targetNamespace, () => where(model, k.source, ["spec", "targetNamespace"]), `Kustomization ${k.name}`);
  for (const h of model.helmReleases) {
    need(h.targetNamespace, () => where(model, h.source, ["spec", "targetNamespace"]), `HelmRelease ${h.name}`);
    const d = docAt(model, h.source);
    if (d && get(d.object, "metadata", "namespace") !== undefined) need(h.namespace, () => at(d, ["metadata", "namespace"]), `HelmRelease ${h.name}`);
  }
  // a rendered model is one cluster: only the kustomizations its Flux paths build are its own
  const paths = model.render ? new Set(model.render.paths) : undefined;
  const inCluster = (file: string) => {
    if (!paths) return true;
    for (let dir = path.posix.dirname(file); dir !== "." && dir !== "/" && dir !== ""; dir = path.posix.dirname(dir)) if (paths.has(dir)) return true;
    return false;
  };
  for (const d of model.documents) {
    if (!isKustomizationDoc(d) || !inCluster(d.file)) continue;
    const ns = get(d.object, "namespace");
    if (typeof ns === "string") need(ns, () => at(d, ["namespace"]), d.file);
  }
  return out;
}

export function fluxCheck(model: ClusterModel): Finding[] {
  return [...paths(model), ...dependencies(model), ...sources(model), ...substitution(model), ...namespaces(model), ...fluxInputs(model)];
}

export type { FluxKustomization };
