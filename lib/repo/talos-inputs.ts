/**
 * Where a repo keeps its Talos input. The loader reads talhelper's input at TALHELPER_CONFIG only (with talenv.yaml,
 * schematic.yaml and patches/<scope>/ beside it); every other Talos input is found here so that validate can say
 * which files it did not read, instead of passing in silence.
 */
import { readdirSync, type Dirent } from "node:fs";
import path from "node:path";

/** The talhelper config the loader reads (lib/repo/load.ts loadTalos) and the talos checks judge. */
export const TALHELPER_CONFIG = "talos/talconfig.yaml";

export interface TalosInputs {
  /** talhelper configs (talconfig.yaml) other than TALHELPER_CONFIG: another folder, or one per cluster */
  talconfigs: string[];
  /** other Talos inputs: machine-config templates (`*.yaml.j2`, `*.tmpl`), talosctl patches, other tools' configs */
  other: string[];
}

const TALCONFIG = /^talconfig\.ya?ml$/;
const TALOS_FILE = /\.(ya?ml|j2|tmpl)$/;
/** talhelper's output and folders no input lives in */
const SKIP_DIR = /^(\..*|node_modules|clusterconfig)$/;
/** deep enough for kubernetes/<cluster>/bootstrap/talos/<node>/...; a walk never goes further */
const MAX_DEPTH = 8;

function entries(abs: string): Dirent[] {
  try {
    // sorted: the file a note names first must not depend on the file system's listing order
    return readdirSync(abs, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch {
    return []; // no such folder, or unreadable: nothing found there
  }
}

/**
 * Talos inputs under talos/ (every file) and kubernetes/ (a `talos` folder at any depth, or a talconfig.yaml
 * anywhere), breadth first (a folder's files before its subfolders'), each folder in name order.
 */
export function findTalosInputs(root: string): TalosInputs {
  const out: TalosInputs = { talconfigs: [], other: [] };
  // [folder, inside a talos folder]
  let level: [string, boolean][] = [["talos", true], ["kubernetes", false]];
  for (let depth = 0; depth < MAX_DEPTH && level.length > 0; depth++) {
    const next: [string, boolean][] = [];
    for (const [dir, inTalos] of level)
      for (const e of entries(path.join(root, dir))) {
        const rel = `${dir}/${e.name}`;
        if (e.isDirectory()) {
          if (!SKIP_DIR.test(e.name)) next.push([rel, inTalos || e.name === "talos"]);
        } else if (e.isFile()) {
          if (TALCONFIG.test(e.name)) {
            if (rel !== TALHELPER_CONFIG) out.talconfigs.push(rel);
          } else if (inTalos && TALOS_FILE.test(e.name)) out.other.push(rel);
        }
      }
    level = next;
  }
  return out;
}
