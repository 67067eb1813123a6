/**
 * Installed system extensions per node vs the repo's Image Factory schematic. The factory adds a pseudo-extension
 * named "schematic" whose version is the schematic id the node was installed from.
 */
import type { InstalledExtension } from "./parse.ts";

export interface ExtensionReport {
  node: string;
  hostname: string;
  ok: boolean;
  schematic?: string;
  schematicOk: boolean;
  installed: string[];
  missing: string[];
  unexpected: string[];
  error?: string;
}

/** "siderolabs/iscsi-tools" -> "iscsi-tools" (installed extensions carry the short name). */
export function shortExtensionName(name: string): string {
  return name.split("/").pop()!;
}

export function compareExtensions(
  nodes: Array<{ hostname: string; ip: string }>,
  installed: InstalledExtension[],
  errors: Map<string, string>,
  want: { schematicId?: string; extensions: string[] },
): ExtensionReport[] {
  const wanted = want.extensions.map(shortExtensionName).sort();
  return nodes.map((n) => {
    const error = errors.get(n.ip);
    const mine = installed.filter((e) => e.node === n.ip);
    const schematic = mine.find((e) => e.name === "schematic")?.version;
    const names = mine.filter((e) => e.name !== "schematic").map((e) => e.name).sort();
    const missing = wanted.filter((w) => !names.includes(w));
    const unexpected = names.filter((x) => !wanted.includes(x));
    const schematicOk = want.schematicId === undefined || schematic === want.schematicId;
    return {
      node: n.ip,
      hostname: n.hostname,
      ok: !error && missing.length === 0 && unexpected.length === 0 && schematicOk,
      schematic,
      schematicOk,
      installed: names,
      missing,
      unexpected,
      ...(error ? { error } : {}),
    };
  });
}
