/**
 * Talos/Kubernetes version rules and installer images. These are facts about Talos itself (its support matrix),
 * not about this cluster: the cluster's own versions and schematic always come from the ClusterModel.
 */
import { parseVersion, type Version } from "../exec.ts";

/**
 * Kubernetes minors each Talos minor supports (Talos support matrix; talos.md: 1.10 supports 1.28 - 1.33).
 * talosctl errors with `version of Kubernetes X is too old/new to be used with Talos Y` outside this range.
 */
export const TALOS_KUBERNETES_SUPPORT: Record<string, { min: string; max: string }> = {
  "1.7": { min: "1.25", max: "1.30" },
  "1.8": { min: "1.26", max: "1.31" },
  "1.9": { min: "1.27", max: "1.32" },
  "1.10": { min: "1.28", max: "1.33" },
  "1.11": { min: "1.29", max: "1.34" },
};

export interface VersionCheck {
  ok: boolean;
  reason?: string;
}

function minor(v: Version): string {
  return `${v[0]}.${v[1]}`;
}

function mustParse(text: string, what: string): Version {
  const v = parseVersion(text);
  if (!v) throw new Error(`${what} "${text}" is not a version`);
  return v;
}

function cmpMinor(a: string, b: string): number {
  const [a1, a2] = a.split(".").map(Number) as [number, number];
  const [b1, b2] = b.split(".").map(Number) as [number, number];
  return a1 !== b1 ? a1 - b1 : a2 - b2;
}

/**
 * The Talos minors the support table covers, when `talos` is not one of them (undefined when it is): a newer Talos
 * is not wrong, only not judged.
 */
export function talosSupportUnknown(talos: string): { known: string[] } | undefined {
  const v = parseVersion(talos);
  if (!v || TALOS_KUBERNETES_SUPPORT[minor(v)]) return undefined;
  return { known: Object.keys(TALOS_KUBERNETES_SUPPORT) };
}

/** Whether Talos `talos` runs Kubernetes `kubernetes` (both like "v1.10.5" / "1.33.2"). */
export function talosSupportsKubernetes(talos: string, kubernetes: string): VersionCheck {
  const t = mustParse(talos, "Talos version");
  const k = mustParse(kubernetes, "Kubernetes version");
  const range = TALOS_KUBERNETES_SUPPORT[minor(t)];
  if (!range)
    return {
      ok: false,
      reason: `Talos ${minor(t)} is not in the known support matrix (${Object.keys(TALOS_KUBERNETES_SUPPORT).join(", ")})`,
    };
  if (cmpMinor(minor(k), range.min) < 0)
    return { ok: false, reason: `version of Kubernetes ${kubernetes} is too old to be used with Talos ${talos} (supports ${range.min} - ${range.max})` };
  if (cmpMinor(minor(k), range.max) > 0)
    return { ok: false, reason: `version of Kubernetes ${kubernetes} is too new to be used with Talos ${talos} (supports ${range.min} - ${range.max})` };
  return { ok: true };
}

/** `talosctl upgrade-k8s` allows only the same minor or the next one. */
export function kubernetesUpgradePath(from: string, to: string): VersionCheck {
  const f = mustParse(from, "Kubernetes version");
  const t = mustParse(to, "Kubernetes version");
  if (f[0] !== t[0]) return { ok: false, reason: `unsupported upgrade path: ${from} -> ${to} changes the major version` };
  if (t[1] < f[1] || (t[1] === f[1] && t[2] < f[2]))
    return { ok: false, reason: `unsupported upgrade path: ${from} -> ${to} is a downgrade` };
  if (t[1] > f[1] + 1)
    return {
      ok: false,
      reason: `unsupported upgrade path: ${from} -> ${to} skips a minor; go to ${f[0]}.${f[1] + 1}.x first`,
    };
  return { ok: true };
}

/** Talos upgrades go one minor at a time too (skipping minors is unsupported by Sidero). */
export function talosUpgradePath(from: string, to: string): VersionCheck {
  const f = mustParse(from, "Talos version");
  const t = mustParse(to, "Talos version");
  if (f[0] !== t[0] || t[1] > f[1] + 1)
    return { ok: false, reason: `Talos ${from} -> ${to} skips a minor version; upgrade to ${f[0]}.${f[1] + 1}.x first` };
  if (t[1] < f[1]) return { ok: false, reason: `Talos ${from} -> ${to} is a downgrade` };
  return { ok: true };
}

export interface InstallerImage {
  registry: string;
  /** "metal-installer" | "installer" (factory) or the repository path otherwise */
  repository: string;
  schematic?: string;
  version: string;
  factory: boolean;
}

/**
 * Parses an installer image reference. Image Factory images are
 * `factory.talos.dev/metal-installer/<schematic>:<v>` (or the older `factory.talos.dev/installer/<schematic>:<v>`);
 * anything else (e.g. `ghcr.io/siderolabs/installer:v1.10.5`, talosctl's default) has no schematic.
 */
export function parseInstallerImage(image: string): InstallerImage | null {
  const m = /^([^/]+)\/(.+):([^:/]+)$/.exec(image.trim());
  if (!m) return null;
  const [, registry, path, version] = m as unknown as [string, string, string, string];
  const f = /^(metal-installer|installer|[a-z0-9-]+-installer)\/([0-9a-f]{64})$/.exec(path);
  if (registry === "factory.talos.dev" && f)
    return { registry, repository: f[1]!, schematic: f[2]!, version, factory: true };
  return { registry, repository: path, version, factory: false };
}

export function installerImageFor(schematic: string, talosVersion: string, kind = "metal-installer"): string {
  const v = talosVersion.startsWith("v") ? talosVersion : `v${talosVersion}`;
  return `factory.talos.dev/${kind}/${schematic}:${v}`;
}

/**
 * Refuses an upgrade image that would drop the repo's system extensions: it must be an Image Factory image carrying
 * the repo's schematic id. Returns the parsed image when fine.
 */
export function checkUpgradeImage(image: string, repoSchematic: string | undefined): VersionCheck & { image?: InstallerImage } {
  const parsed = parseInstallerImage(image);
  if (!parsed) return { ok: false, reason: `"${image}" is not an image reference (registry/path:tag)` };
  if (!repoSchematic) return { ok: false, reason: `the repo pins no Image Factory schematic id, so the image cannot be checked` };
  if (!parsed.schematic)
    return {
      ok: false,
      reason: `${image} carries no Image Factory schematic: upgrading with it would silently drop the system extensions (use factory.talos.dev/metal-installer/${repoSchematic}:${parsed.version})`,
    };
  if (parsed.schematic !== repoSchematic)
    return {
      ok: false,
      reason: `${image} carries schematic ${parsed.schematic.slice(0, 12)}..., not the repo's ${repoSchematic.slice(0, 12)}...`,
    };
  return { ok: true, image: parsed };
}

export function normaliseVersion(v: string): string {
  return v.startsWith("v") ? v : `v${v}`;
}

export function sameVersion(a: string, b: string): boolean {
  return a.replace(/^v/, "") === b.replace(/^v/, "");
}
