/**
 * Bootstrap helmfiles: home-ops repos of the cluster-template lineage install a few charts (and often their CRDs,
 * `helmfile ... --include-crds`) before Flux runs, from `bootstrap/helmfile*` or `kubernetes/bootstrap/helmfile*`.
 * Only which charts they name is read (by pattern: helmfiles are Go templates, not always YAML), so a kind whose
 * CRDs such a chart brings is never called missing.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

const PLACES = ["bootstrap", "kubernetes/bootstrap"];
const MAX_FILES = 50;

function helmfileFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, inHelmfileDir: boolean, depth: number) => {
    if (depth > 3 || out.length >= MAX_FILES) return;
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(p, inHelmfileDir || e.startsWith("helmfile"), depth + 1);
      else if (/\.ya?ml(\.gotmpl)?$/.test(e) && (inHelmfileDir || e.startsWith("helmfile"))) out.push(p);
    }
  };
  for (const place of PLACES) {
    const dir = path.join(root, place);
    if (existsSync(dir)) walk(dir, false, 0);
  }
  return out;
}

/** Chart name -> the repo-relative helmfile that installs it at bootstrap. */
export function bootstrapHelmfileCharts(root: string): Map<string, string> {
  const charts = new Map<string, string>();
  for (const file of helmfileFiles(root)) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    const rel = path.relative(root, file).split(path.sep).join("/");
    // `chart: oci://ghcr.io/org/charts/name`, `chart: repo/name`, and release names (which usually are the chart's)
    for (const m of text.matchAll(/^\s*(?:-\s*)?(?:chart|name):\s*["']?([^\s"'{}]+?)["']?\s*$/gm)) {
      const name = m[1]!.split("/").pop()!;
      if (name && !charts.has(name)) charts.set(name, rel);
    }
  }
  return charts;
}
