/**
 * talosctl's output formats (Go's text/tabwriter tables, the JSON stream and YAML documents of `get`, go-multierror
 * blocks, humanize.Bytes sizes), so the stand-in prints byte for byte what the real client prints.
 */
import { stringify as yamlStringify } from "yaml";

/** Go's tabwriter.NewWriter(w, 0, 0, 3, ' ', 0): cells padded to the column width + 3; the last cell unpadded. */
export function tabwrite(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows)
    r.forEach((c, i) => {
      if (i < r.length - 1) widths[i] = Math.max(widths[i] ?? 0, c.length);
    });
  return rows
    .map((r) => r.map((c, i) => (i < r.length - 1 ? c.padEnd((widths[i] ?? 0) + 3) : c)).join(""))
    .map((l) => l + "\n")
    .join("");
}

/** github.com/dustin/go-humanize Bytes(): SI units, one decimal below 10. */
export function humanizeBytes(n: number): string {
  if (n < 10) return `${n} B`;
  const units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
  const e = Math.floor(Math.log(n) / Math.log(1000));
  const unit = units[e] ?? "EB";
  const val = Math.floor((n / Math.pow(1000, e)) * 10 + 0.5) / 10;
  return val < 10 ? `${val.toFixed(1)} ${unit}` : `${val.toFixed(0)} ${unit}`;
}

/** go-multierror's format: `N error(s) occurred:\n\t* a\n\t* b\n\n`. */
export function multiError(errs: string[]): string {
  const head = errs.length === 1 ? "1 error occurred:" : `${errs.length} errors occurred:`;
  return `${head}\n${errs.map((e) => `\t* ${e}`).join("\n")}\n\n`;
}

/** A COSI resource as talosctl receives it. */
export interface TalosResource {
  node: string;
  metadata: {
    namespace: string;
    type: string;
    id: string;
    version: number;
    owner: string;
    phase: "running";
    created: string;
    updated: string;
    labels?: Record<string, string>;
  };
  spec: unknown;
}

/** `-o json`: one object per resource, map keys sorted (Go marshals maps sorted), indented four spaces. */
export function renderJsonStream(resources: TalosResource[]): string {
  return resources.map((r) => JSON.stringify(sortKeys({ ...r }), null, 4) + "\n").join("");
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

/** `-o yaml`: `node: X` then the resource (yaml.v3, 4-space indent), documents separated by `---`. */
export function renderYamlStream(resources: TalosResource[]): string {
  return resources
    .map((r, i) => {
      const body = yamlStringify({ metadata: r.metadata, spec: r.spec }, { indent: 4, lineWidth: 0 });
      return `${i > 0 ? "---\n" : ""}node: ${r.node}\n${body}`;
    })
    .join("");
}

/** The default table: `NODE NAMESPACE TYPE ID VERSION <columns...>`. */
export function renderResourceTable(
  resources: TalosResource[],
  shortType: string,
  columns: Array<{ name: string; value: (spec: any) => string }>,
): string {
  const rows: string[][] = [["NODE", "NAMESPACE", "TYPE", "ID", "VERSION", ...columns.map((c) => c.name)]];
  for (const r of resources)
    rows.push([
      r.node,
      r.metadata.namespace,
      shortType,
      r.metadata.id,
      String(r.metadata.version),
      ...columns.map((c) => c.value(r.spec)),
    ]);
  return tabwrite(rows);
}

/** Go's %q of a []string: ["a" "b"]. */
export function goQuoteList(items: string[]): string {
  return `[${items.map((s) => JSON.stringify(s)).join(" ")}]`;
}

/** A Go time.Duration's String() for the `(Ns ago)` of service events. */
export function goDurationString(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${trimFloat(s)}s`;
  const m = Math.floor(s / 60);
  const rest = s - m * 60;
  if (m < 60) return `${m}m${trimFloat(rest)}s`;
  const h = Math.floor(m / 60);
  return `${h}h${m - h * 60}m${trimFloat(rest)}s`;
}

function trimFloat(n: number): string {
  return String(Math.round(n * 1000) / 1000);
}
