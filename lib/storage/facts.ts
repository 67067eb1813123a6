/**
 * What the repo says the storage should look like on the nodes: Talos user volumes (UserVolumeConfig: name,
 * filesystem, where Talos mounts it), the udev rules and sysctls of the machine config patches, and Longhorn's
 * `defaultSettings` from its HelmRelease values (as the Setting names longhorn-manager uses).
 */
import type { ClusterModel } from "../repo/model.ts";

export interface UserVolumeFact {
  name: string;
  filesystem: string;
  /** Talos mounts user volume <name> at /var/mnt/<name> */
  mountPath: string;
  diskSelector?: string;
  file: string;
}

export interface StorageFacts {
  userVolumes: UserVolumeFact[];
  udevRules: string[];
  sysctls: Record<string, string>;
  /** Longhorn Setting name (kebab-case) -> value, from the HelmRelease's defaultSettings */
  longhornSettings: Record<string, string>;
  /** where Longhorn's disks must be: defaultSettings.defaultDataPath, else the user volume's mount */
  longhornDataPath: string;
  /** Talos system extensions the schematic installs */
  extensions: string[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** defaultDataPath -> default-data-path (Longhorn's Setting names). */
export function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export function storageFacts(model: ClusterModel): StorageFacts {
  const userVolumes: UserVolumeFact[] = [];
  const udevRules: string[] = [];
  const sysctls: Record<string, string> = {};
  for (const patch of model.talos.patches) {
    for (const d of patch.docs) {
      const o = d.object;
      if (!isObj(o)) continue;
      if (o.kind === "UserVolumeConfig" && typeof o.name === "string") {
        const fs = isObj(o.filesystem) && typeof o.filesystem.type === "string" ? o.filesystem.type : "xfs";
        const sel = isObj(o.provisioning) && isObj(o.provisioning.diskSelector) ? o.provisioning.diskSelector.match : undefined;
        userVolumes.push({
          name: o.name,
          filesystem: fs,
          mountPath: `/var/mnt/${o.name}`,
          ...(typeof sel === "string" ? { diskSelector: sel } : {}),
          file: d.file,
        });
      }
      const machine = isObj(o.machine) ? o.machine : undefined;
      if (machine && isObj(machine.udev) && Array.isArray(machine.udev.rules))
        for (const r of machine.udev.rules) if (typeof r === "string") udevRules.push(r);
      if (machine && isObj(machine.sysctls))
        for (const [k, v] of Object.entries(machine.sysctls)) if (v !== null && v !== undefined) sysctls[k] = String(v);
    }
  }
  const longhornSettings: Record<string, string> = {};
  const lh = model.helmReleases.find((h) => h.chart === "longhorn");
  const ds = lh && isObj(lh.values.defaultSettings) ? lh.values.defaultSettings : {};
  for (const [k, v] of Object.entries(ds)) if (v !== null && v !== undefined && typeof v !== "object") longhornSettings[kebab(k)] = String(v);
  const longhornDataPath = longhornSettings["default-data-path"] ?? userVolumes[0]?.mountPath ?? "/var/lib/longhorn/";
  return { userVolumes, udevRules, sysctls, longhornSettings, longhornDataPath, extensions: model.schematic.extensions };
}
