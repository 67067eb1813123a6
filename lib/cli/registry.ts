import { readdirSync } from "node:fs";
import path from "node:path";
import type { Script, ScriptDef, FlagDefs } from "./index.ts";

/**
 * The scripts of scripts/ as data: help.ts lists them, tests check each one's --help, mise task and README row.
 * Importing a script never runs it (defineScript runs only for the entry point).
 */
export interface ScriptInfo {
  file: string;
  task: string;
  def: ScriptDef<FlagDefs>;
}

/** `bgp-verify` -> `bgp:verify`, `bootstrap-phased` -> `bootstrap:phased`, `validate` -> `validate`. */
export function taskName(scriptName: string): string {
  return scriptName.replace("-", ":");
}

export function scriptFiles(root: string): string[] {
  return readdirSync(path.join(root, "scripts"))
    .filter((f) => f.endsWith(".ts"))
    .sort();
}

export async function loadScripts(root: string): Promise<ScriptInfo[]> {
  const infos = await Promise.all(
    scriptFiles(root).map(async (file) => {
      const mod = (await import(path.join(root, "scripts", file))) as { default?: Script<FlagDefs> };
      if (!mod.default?.def) throw new Error(`scripts/${file} has no default export from defineScript()`);
      return { file: `scripts/${file}`, task: taskName(mod.default.def.name), def: mod.default.def };
    }),
  );
  return infos;
}
