import { createHash } from "node:crypto";
import { stringify } from "yaml";
import { isObj } from "./locate.ts";

/**
 * The Image Factory schematic ID: sha256 of the schematic marshalled canonically (Go yaml.v3: struct field order,
 * empty fields omitted, 4-space indentation). Lives here until lib/talos grows it (then it should move there).
 */
export function schematicId(schematic: unknown): string {
  return createHash("sha256").update(canonicalSchematicYaml(schematic)).digest("hex");
}

export function canonicalSchematicYaml(schematic: unknown): string {
  const s = isObj(schematic) ? schematic : {};
  const c = isObj(s.customization) ? s.customization : {};
  const customization: Record<string, unknown> = {};
  const put = (o: Record<string, unknown>, k: string, v: unknown) => {
    if (v === undefined || v === null) return;
    if (Array.isArray(v) && v.length === 0) return;
    if (isObj(v) && Object.keys(v).length === 0) return;
    o[k] = v;
  };
  put(customization, "extraKernelArgs", c.extraKernelArgs);
  put(customization, "meta", c.meta);
  const se = isObj(c.systemExtensions) ? c.systemExtensions : {};
  const systemExtensions: Record<string, unknown> = {};
  put(systemExtensions, "officialExtensions", se.officialExtensions);
  put(customization, "systemExtensions", systemExtensions);
  put(customization, "secureboot", c.secureboot);
  put(customization, "bootloader", c.bootloader);
  const out: Record<string, unknown> = {};
  put(out, "overlay", s.overlay);
  // `customization` has no omitempty in the factory's struct: the vanilla schematic is "customization: {}\n"
  // (ID 376567988ad3...), which pins this canonical form.
  out.customization = customization;
  return stringify(out, { indent: 4, indentSeq: true, lineWidth: 0 });
}
