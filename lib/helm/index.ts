/**
 * Helm for the installs that must happen before Flux exists (Cilium, External Secrets, 1Password Connect, Longhorn).
 * The chart, version and values come from the app's HelmRelease in kubernetes/ through the ClusterModel, so they are
 * written once: Flux later adopts the same release with the same values. Values travel to helm on stdin
 * (`--values -`), never as a file or on the command line.
 */
import { stringify } from "yaml";
import { ConfigError, OperationError } from "../cli/errors.ts";
import type { Exec, RunResult } from "../exec.ts";
import type { ClusterModel, FluxSource, HelmRelease } from "../repo/model.ts";

export interface HelmInstall {
  /** the helm release name (HelmRelease spec.releaseName, else its name) */
  release: string;
  /** where helm installs it (spec.targetNamespace, else the HelmRelease's namespace) */
  namespace: string;
  /** chart argument for helm: `cilium` with repoUrl, or `oci://registry/path/chart` */
  chart: string;
  /** classic Helm repository URL (`--repo`), absent for OCI */
  repoUrl?: string;
  version: string;
  values: Record<string, unknown>;
  /** the HelmRelease it came from (file:line for messages) */
  from: HelmRelease;
}

/** Finds the HelmRelease that installs `chart` (chart name, or the HelmRelease's name). */
export function findHelmRelease(model: ClusterModel, chart: string): HelmRelease {
  const hr =
    model.helmReleases.find((h) => h.chart === chart) ??
    model.helmReleases.find((h) => h.name === chart) ??
    model.helmReleases.find((h) => (h.releaseName ?? h.name) === chart);
  if (!hr)
    throw new ConfigError(
      `no HelmRelease for the ${chart} chart under kubernetes/`,
      `add kubernetes/apps/<namespace>/${chart}/app/helmrelease.yaml: the pre-Flux install reads its chart, version and values from it`,
    );
  return hr;
}

/** Resolves a HelmRelease's chart source (HelmRepository or OCIRepository) into what helm needs. */
export function helmInstallFor(model: ClusterModel, chart: string): HelmInstall {
  const hr = findHelmRelease(model, chart);
  const where = `${hr.source.file}:${hr.source.line}`;
  const src = findSource(model.fluxSources, hr);
  if (!src)
    throw new ConfigError(
      `${where}: HelmRelease ${hr.name} uses ${hr.sourceRef.kind || "a source"} "${hr.sourceRef.name}", which is not defined under kubernetes/`,
      "add the HelmRepository or OCIRepository it refers to",
    );
  const namespace = hr.targetNamespace ?? hr.namespace;
  if (!namespace) throw new ConfigError(`${where}: HelmRelease ${hr.name} has no namespace`, "set metadata.namespace");
  const release = hr.releaseName ?? hr.name;
  if (src.kind === "OCIRepository") {
    // chartRef -> OCIRepository: the chart is the artifact itself; version is the OCIRepository's tag/semver
    const tag = typeof src.ref?.tag === "string" ? src.ref.tag : typeof src.ref?.semver === "string" ? src.ref.semver : undefined;
    const version = hr.version ?? tag;
    if (!version) throw new ConfigError(`${where}: no chart version for ${hr.name} (neither spec.chart.spec.version nor the OCIRepository tag)`, "pin the chart version");
    const url = src.url.replace(/\/+$/, "");
    const chartUrl = hr.version && !url.endsWith(`/${hr.chart}`) ? `${url}/${hr.chart}` : url;
    return { release, namespace, chart: chartUrl, version, values: hr.values, from: hr };
  }
  if (!hr.version)
    throw new ConfigError(`${where}: HelmRelease ${hr.name} does not pin spec.chart.spec.version`, "pin the chart version");
  if (src.type === "oci" || src.url.startsWith("oci://")) {
    return {
      release,
      namespace,
      chart: `${src.url.replace(/\/+$/, "")}/${hr.chart}`,
      version: hr.version,
      values: hr.values,
      from: hr,
    };
  }
  return { release, namespace, chart: hr.chart, repoUrl: src.url, version: hr.version, values: hr.values, from: hr };
}

function findSource(sources: FluxSource[], hr: HelmRelease): FluxSource | undefined {
  const ns = hr.sourceRef.namespace ?? hr.namespace;
  const candidates = sources.filter(
    (s) => s.name === hr.sourceRef.name && (!hr.sourceRef.kind || s.kind === hr.sourceRef.kind),
  );
  return candidates.find((s) => (s.namespace ?? ns) === ns) ?? candidates[0];
}

/** The values as helm reads them from stdin. */
export function valuesYaml(install: Pick<HelmInstall, "values">): string {
  return stringify(install.values, { lineWidth: 0 });
}

/**
 * argv for `helm upgrade --install` (idempotent: installs, or upgrades to the same chart and values). No `--wait`:
 * readiness is watched through the Kubernetes API, with progress and a deadline.
 */
export function helmUpgradeArgv(install: HelmInstall): string[] {
  const argv = ["upgrade", "--install", install.release, install.chart];
  if (install.repoUrl) argv.push("--repo", install.repoUrl);
  argv.push("--version", install.version, "--namespace", install.namespace, "--create-namespace", "--values", "-");
  return argv;
}

/** Installs or upgrades the release, values on stdin. */
export async function helmUpgrade(exec: Exec, install: HelmInstall, opts: { timeoutMs?: number } = {}): Promise<RunResult> {
  return exec.run("helm", helmUpgradeArgv(install), {
    stdin: valuesYaml(install),
    timeoutMs: opts.timeoutMs ?? 300_000,
    purpose: `installing ${install.release} ${install.version}`,
  });
}

export interface HelmReleaseStatus {
  name: string;
  namespace: string;
  revision: number;
  status: string;
  chart: string;
  /** chart version, from `<chart>-<version>` */
  version: string;
}

/** Parses `helm list -o json` (an array of {name, namespace, revision, status, chart: "cilium-1.17.6", ...}). */
export function parseHelmList(text: string): HelmReleaseStatus[] {
  const trimmed = text.trim();
  if (!trimmed) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(trimmed);
  } catch {
    throw new OperationError("helm list printed something that is not JSON", "check the helm version (`mise install`)");
  }
  if (!Array.isArray(raw)) return [];
  return raw
    .filter((r): r is Record<string, unknown> => typeof r === "object" && r !== null)
    .map((r) => {
      const chart = String(r.chart ?? "");
      const m = /^(.*)-(v?\d+\.\d+\.\d+[^\s]*)$/.exec(chart);
      return {
        name: String(r.name ?? ""),
        namespace: String(r.namespace ?? ""),
        revision: Number(r.revision ?? 0),
        status: String(r.status ?? ""),
        chart: m?.[1] ?? chart,
        version: m?.[2] ?? "",
      };
    });
}

/** Every Helm release on the cluster (read-only: also runs under --dry-run). */
export async function helmList(exec: Exec): Promise<HelmReleaseStatus[]> {
  const r = await exec.run("helm", ["list", "--all-namespaces", "--output", "json"], {
    readOnly: true,
    timeoutMs: 60_000,
    purpose: "listing Helm releases",
  });
  return parseHelmList(r.stdout);
}

export type InstallState = "missing" | "deployed" | "other-version" | "failed";

/** Whether `install` is on the cluster at the wanted version, judged from `helm list`. */
export function installState(install: HelmInstall, releases: HelmReleaseStatus[]): { state: InstallState; detail: string } {
  const r = releases.find((x) => x.name === install.release && x.namespace === install.namespace);
  if (!r) return { state: "missing", detail: `${install.release} is not installed in ${install.namespace}` };
  if (r.status !== "deployed") return { state: "failed", detail: `${install.release} is ${r.status} (revision ${r.revision})` };
  if (r.version.replace(/^v/, "") !== install.version.replace(/^v/, ""))
    return { state: "other-version", detail: `${install.release} ${r.version} is installed, ${install.version} wanted` };
  return { state: "deployed", detail: `${install.release} ${r.version} deployed` };
}
