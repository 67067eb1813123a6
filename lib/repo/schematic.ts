/**
 * Image Factory schematic IDs. The factory's ID is the sha256 of the schematic marshalled by Go's yaml.v3
 * (4-space indent, fields in struct order: customization.extraKernelArgs, then systemExtensions.officialExtensions),
 * so it can be checked offline against talenv.yaml's TALOS_SCHEMATIC_ID. Verified against the ID Longhorn's docs
 * give for iscsi-tools + util-linux-tools (613e1592...).
 */
import { createHash } from "node:crypto";

export interface SchematicInput {
  extensions: readonly string[];
  extraKernelArgs?: readonly string[];
}

/** A scalar as yaml.v3 writes it: plain when unambiguous, otherwise double-quoted. */
function scalar(s: string): string {
  if (/^[A-Za-z0-9][A-Za-z0-9._/=,+-]*$/.test(s) && !/^(true|false|null|yes|no|on|off|~|[-+]?[0-9.]+([eE][-+]?[0-9]+)?)$/i.test(s))
    return s;
  return JSON.stringify(s);
}

/** The canonical YAML the factory hashes. */
export function schematicYaml(s: SchematicInput): string {
  const args = s.extraKernelArgs ?? [];
  if (args.length === 0 && s.extensions.length === 0) return "{}\n";
  let out = "customization:\n";
  if (args.length > 0) out += "    extraKernelArgs:\n" + args.map((a) => `        - ${scalar(a)}\n`).join("");
  if (s.extensions.length > 0)
    out += "    systemExtensions:\n        officialExtensions:\n" + s.extensions.map((e) => `            - ${scalar(e)}\n`).join("");
  return out;
}

export function schematicId(s: SchematicInput): string {
  return createHash("sha256").update(schematicYaml(s)).digest("hex");
}
