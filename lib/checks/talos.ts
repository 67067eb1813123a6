import { existsSync } from "node:fs";
import path from "node:path";
import { contains, isIP, normaliseIP, parseCidr } from "../net/index.ts";
import type { ClusterModel, RepoDocument, Source } from "../repo/model.ts";
import { schematicId } from "../repo/schematic.ts";
import { findTalosInputs, TALHELPER_CONFIG } from "../repo/talos-inputs.ts";
import { parseInstallerImage, talosSupportsKubernetes, talosSupportUnknown } from "../talos/versions.ts";
import { at, docAt, get, isObj, type PathSeg } from "./locate.ts";
import { finding, type Finding } from "./types.ts";

/**
 * talos: the talhelper input is complete and consistent with itself and with the cluster it carries — versions
 * Talos supports, node addressing, disk encryption, the CNI/kube-proxy hand-over to Cilium, the Longhorn volume,
 * and an installer image that keeps the system extensions.
 */

const LONGHORN_EXTENSIONS = ["siderolabs/iscsi-tools", "siderolabs/util-linux-tools"];
const CEL_IDENTIFIERS = new Set([
  "disk.transport", "disk.size", "disk.model", "disk.rotational", "disk.serial", "disk.modalias", "disk.wwid",
  "disk.dev_path", "disk.bus_path", "disk.symlinks", "disk.readonly", "disk.cdrom", "disk.uuid", "disk.pretty_size",
  "disk.sub_system", "disk.io_size", "disk.sector_size", "disk.secondaries", "system_disk",
]);

interface PatchDoc {
  d: RepoDocument;
  scope: string;
}

function patchDocs(model: ClusterModel): PatchDoc[] {
  return model.talos.patches.flatMap((p) => p.docs.map((d) => ({ d, scope: p.scope })));
}

/** The last patch (in talhelper's merge order) that sets `path`, with its value. */
function lastSet(docs: PatchDoc[], path: PathSeg[]): { d: RepoDocument; value: unknown } | undefined {
  let hit: { d: RepoDocument; value: unknown } | undefined;
  for (const { d } of docs) {
    const v = get(d.object, ...path);
    if (v !== undefined) hit = { d, value: v };
  }
  return hit;
}

function requiredFields(model: ClusterModel): Finding[] {
  const out: Finding[] = [];
  const cd = model.talos.configDocument;
  const raw = cd.object;
  if (cd.line === 0 || !isObj(raw)) {
    return [finding("talos/required-field", "error", { file: model.talos.configFile || "talos/talconfig.yaml", line: 0 }, "talconfig.yaml is missing or not a mapping", "create talos/talconfig.yaml (talhelper input)")];
  }
  const miss = (path: PathSeg[], what: string, fix: string) =>
    out.push(finding("talos/required-field", "error", at(cd, path), `talconfig: \`${what}\` is required by talhelper`, fix));
  for (const k of ["clusterName", "kubernetesVersion", "endpoint"] as const)
    if (raw[k] === undefined || raw[k] === null || raw[k] === "") miss([], k, `set ${k}`);
  if (raw.talosVersion === undefined)
    out.push(finding("talos/required-field", "error", at(cd, []), "talconfig: `talosVersion` is not pinned: talhelper then uses its own newest Talos", "set talosVersion (from talenv.yaml, with a renovate comment)"));
  if (!Array.isArray(raw.nodes) || raw.nodes.length === 0) miss([], "nodes", "list the nodes");
  (Array.isArray(raw.nodes) ? raw.nodes : []).forEach((n, i) => {
    if (!isObj(n)) return;
    if (!n.hostname) miss(["nodes", i], `nodes[${i}].hostname`, "give the node a hostname");
    if (!n.ipAddress) miss(["nodes", i], `nodes[${i}].ipAddress`, "give the node its IP address");
    if (n.installDisk === undefined && n.installDiskSelector === undefined)
      miss(["nodes", i], `nodes[${i}].installDisk or installDiskSelector`, "select the install disk (installDiskSelector: {model: ...})");
  });
  return out;
}

function versionFindings(model: ClusterModel): Finding[] {
  const t = model.versions.talos;
  const k = model.versions.kubernetes;
  if (!t.value || !k.value) return [];
  // a Talos the support table does not cover: one note, never a false error (the table grows with the Talos this
  // toolkit runs; a Renovate bump to a newer Talos must not fail validate)
  const unknown = talosSupportUnknown(t.value);
  if (unknown)
    return [finding("talos/version-unknown", "info", t.source, `Talos ${t.value} is not in the Talos/Kubernetes support table (${unknown.known.join(", ")}): Kubernetes ${k.value} was not checked against it`, "nothing to fix; the table grows with the Talos versions this toolkit runs")];
  let r;
  try {
    r = talosSupportsKubernetes(t.value, k.value);
  } catch (e) {
    return [finding("talos/version", "error", k.source, (e as Error).message, "write versions as vX.Y.Z")];
  }
  if (r.ok) return [];
  return [finding("talos/kubernetes-version", "error", k.source, r.reason ?? "unsupported", "pick a Kubernetes version Talos supports (talos.md: Talos 1.10 runs 1.28 - 1.33)")];
}

function addressing(model: ClusterModel): Finding[] {
  const out: Finding[] = [];
  const nv4 = model.networks.nodeV4;
  const nv6 = model.networks.nodeV6;
  const inside = (ip: string, net?: { value: string }) => {
    if (!net?.value) return true;
    try {
      return contains(parseCidr(net.value, { allowHostBits: true }).cidr, ip);
    } catch {
      return true; // a malformed subnet is ipam's finding
    }
  };
  const seen = new Map<string, string>();
  for (const n of model.nodes) {
    const ipSource: Source = n.source.line ? nodeField(model, n.source, "ipAddress") : n.source;
    for (const [ip, net, fam] of [
      [n.ipv4, nv4, "IPv4"],
      [n.ipv6, nv6, "IPv6"],
    ] as const) {
      if (!ip) continue;
      if (!isIP(ip)) {
        out.push(finding("talos/node-ip", "error", ipSource, `node ${n.hostname}: "${ip}" is not an IP address`, "write the node's address as a.b.c.d"));
        continue;
      }
      const norm = normaliseIP(ip);
      const other = seen.get(norm);
      if (other) out.push(finding("talos/node-ip-duplicate", "error", ipSource, `node ${n.hostname} has ${ip}, already used by ${other}`, "give every node its own address"));
      seen.set(norm, n.hostname);
      if (!inside(ip, net))
        out.push(finding("talos/node-ip-vlan", "error", fam === "IPv4" ? ipSource : n.source, `node ${n.hostname}: ${fam} ${ip} is outside the node VLAN ${net!.value}`, `use an address inside ${net!.value} or fix kubelet.nodeIP.validSubnets`));
    }
  }
  const vip = model.networks.vip;
  if (vip.value && isIP(vip.value)) {
    const fam = vip.value.includes(":") ? nv6 : nv4;
    if (!inside(vip.value, fam))
      out.push(finding("talos/vip", "error", vip.source, `the API VIP ${vip.value} is outside the node VLAN ${fam?.value}`, "pick a free address inside the node VLAN"));
    const owner = seen.get(normaliseIP(vip.value));
    if (owner) out.push(finding("talos/vip", "error", vip.source, `the API VIP ${vip.value} is node ${owner}'s own address`, "pick an address no node uses: the VIP floats between control planes"));
  }
  return out;
}

function nodeField(model: ClusterModel, nodeSource: Source, key: string): Source {
  const cd = model.talos.configDocument;
  const nodes = get(cd.object, "nodes");
  if (!Array.isArray(nodes)) return nodeSource;
  for (let i = 0; i < nodes.length; i++) {
    const s = at(cd, ["nodes", i]);
    if (s.line === nodeSource.line) return at(cd, ["nodes", i, key]);
  }
  return nodeSource;
}

function encryptionFindings(model: ClusterModel, docs: PatchDoc[]): Finding[] {
  const out: Finding[] = [];
  const enc = lastSet(docs, ["machine", "systemDiskEncryption"]);
  if (!enc) {
    const cd = model.talos.configDocument;
    return [finding("talos/encryption", "error", at(cd, ["patches"]), "no patch sets machine.systemDiskEncryption: STATE and EPHEMERAL are not encrypted", "add a global patch with LUKS2 for state and ephemeral (keys: nodeID or tpm)")];
  }
  for (const part of ["state", "ephemeral"] as const) {
    const p = ["machine", "systemDiskEncryption", part];
    const v = get(enc.d.object, ...p);
    if (!isObj(v)) {
      out.push(finding("talos/encryption", "error", at(enc.d, ["machine", "systemDiskEncryption"]), `${part.toUpperCase()} is not encrypted`, `add systemDiskEncryption.${part} with provider: luks2 and a key`));
      continue;
    }
    if (v.provider !== "luks2")
      out.push(finding("talos/encryption", "error", at(enc.d, [...p, "provider"]), `${part.toUpperCase()}: provider must be luks2, not ${JSON.stringify(v.provider ?? null)}`, "set provider: luks2"));
    const keys = Array.isArray(v.keys) ? v.keys : [];
    if (keys.length === 0)
      out.push(finding("talos/encryption-keys", "error", at(enc.d, [...p, ...(v.keys !== undefined ? ["keys"] : [])]), `${part.toUpperCase()}: no encryption keys provided`, "add keys: [{slot: 0, nodeID: {}}]"));
    const slots = new Map<number, number>();
    keys.forEach((k, i) => {
      const slot = get(k, "slot");
      if (typeof slot !== "number") return;
      if (slots.has(slot))
        out.push(finding("talos/encryption-slot", "error", at(enc.d, [...p, "keys", i, "slot"]), `${part.toUpperCase()}: encryption key slot ${slot} is already in use`, "give every key its own slot"));
      slots.set(slot, i);
      const kinds = ["nodeID", "static", "kms", "tpm"].filter((t) => isObj(k) && k[t] !== undefined);
      if (kinds.length !== 1)
        out.push(finding("talos/encryption-keys", "error", at(enc.d, [...p, "keys", i]), `${part.toUpperCase()}: key in slot ${slot} needs exactly one of nodeID, static, kms, tpm (has ${kinds.length})`, "keep one key type per slot"));
    });
  }
  return out;
}

function cniProxy(model: ClusterModel, docs: PatchDoc[]): Finding[] {
  const out: Finding[] = [];
  const cilium = model.helmReleases.find((h) => h.chart === "cilium");
  if (!cilium) return out;
  const cd = model.talos.configDocument;
  const cniPatch = lastSet(docs, ["cluster", "network", "cni", "name"]);
  const cniCfg = get(cd.object, "cniConfig", "name");
  const cni = cniPatch?.value ?? cniCfg;
  if (cni !== "none") {
    const where = cniPatch ? at(cniPatch.d, ["cluster", "network", "cni", "name"]) : at(cd, cniCfg !== undefined ? ["cniConfig", "name"] : []);
    out.push(finding("talos/cni", "error", where, `Talos installs CNI "${String(cni ?? "flannel")}" while Cilium is the CNI (kube-system/cilium HelmRelease)`, "set cluster.network.cni.name: none (and cniConfig.name: none in talconfig)"));
  }
  const urls = lastSet(docs, ["cluster", "network", "cni", "urls"]);
  if (cni === "none" && Array.isArray(urls?.value) && urls.value.length > 0)
    out.push(finding("talos/cni", "error", at(urls!.d, ["cluster", "network", "cni", "urls"]), "cni.urls must be empty with cni name none", "remove cni.urls"));
  const proxy = lastSet(docs, ["cluster", "proxy", "disabled"]);
  const kpr = get(cilium.values, "kubeProxyReplacement");
  const kprOn = kpr === true || kpr === "true" || kpr === "strict";
  const disabled = proxy?.value === true;
  const ciliumDoc = docAt(model, cilium.source);
  if (kprOn && !disabled)
    out.push(finding("talos/kube-proxy", "error", proxy ? at(proxy.d, ["cluster", "proxy", "disabled"]) : at(cd, ["patches"]), "Cilium replaces kube-proxy (kubeProxyReplacement) but Talos still runs kube-proxy", "set cluster.proxy.disabled: true in a global patch"));
  if (!kprOn && disabled)
    out.push(finding("talos/kube-proxy", "error", ciliumDoc ? at(ciliumDoc, ["spec", "values", "kubeProxyReplacement"]) : cilium.source, "Talos kube-proxy is disabled but Cilium's kubeProxyReplacement is off: no one implements Services", "set kubeProxyReplacement: true in the Cilium HelmRelease values"));
  if (kprOn && (get(cilium.values, "k8sServiceHost") === undefined || get(cilium.values, "k8sServicePort") === undefined))
    out.push(finding("talos/kube-proxy", "error", ciliumDoc ? at(ciliumDoc, ["spec", "values"]) : cilium.source, "kubeProxyReplacement without k8sServiceHost/k8sServicePort: Cilium cannot reach the API server without kube-proxy", "set k8sServiceHost: localhost and k8sServicePort: 7445 (Talos KubePrism)"));
  return out;
}

function celFindings(expr: string): string | undefined {
  let depth = 0;
  let quote: string | undefined;
  for (const ch of expr) {
    if (quote) {
      if (ch === quote) quote = undefined;
      continue;
    }
    if (ch === '"' || ch === "'") quote = ch;
    else if (ch === "(") depth++;
    else if (ch === ")" && --depth < 0) return "unbalanced parentheses";
  }
  if (quote) return "an unclosed string";
  if (depth !== 0) return "unbalanced parentheses";
  const bare = expr.replace(/"[^"]*"|'[^']*'/g, '""');
  if (/[^=!<>]=[^=]/.test(bare)) return "`=` where CEL needs `==`";
  for (const id of bare.match(/[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*/g) ?? []) {
    if (["true", "false", "null", "u", "GiB", "GB", "MiB", "MB", "TB", "TiB", "in", "size", "matches", "contains", "startsWith", "endsWith"].includes(id)) continue;
    if (/^disk\./.test(id) || id === "system_disk" || id === "disk") {
      if (id !== "disk" && !CEL_IDENTIFIERS.has(id) && !CEL_IDENTIFIERS.has(id.split(".").slice(0, 2).join("."))) return `unknown field ${id}`;
      continue;
    }
    return `unknown identifier ${id}`;
  }
  return undefined;
}

function userVolumes(model: ClusterModel, docs: PatchDoc[]): Finding[] {
  const out: Finding[] = [];
  const names = new Map<string, RepoDocument>();
  const mounts: string[] = [];
  for (const { d } of docs) {
    const o = d.object;
    if (!isObj(o) || o.kind !== "UserVolumeConfig") continue;
    const name = typeof o.name === "string" ? o.name : "";
    if (!/^[A-Za-z0-9-]{1,34}$/.test(name))
      out.push(finding("talos/user-volume", "error", at(d, ["name"]), `UserVolumeConfig name "${name}" must be 1-34 letters, digits or -`, "rename the volume (it becomes /var/mnt/<name>)"));
    if (names.has(name)) out.push(finding("talos/user-volume", "error", at(d, ["name"]), `UserVolumeConfig "${name}" is defined twice`, "give each volume its own name"));
    names.set(name, d);
    mounts.push(`/var/mnt/${name}`);
    const match = get(o, "provisioning", "diskSelector", "match");
    if (typeof match !== "string" || match.trim() === "") {
      out.push(finding("talos/user-volume", "error", at(d, ["provisioning"]), `UserVolumeConfig "${name}" has no provisioning.diskSelector.match`, 'select the disk, e.g. match: disk.transport == "usb" && !system_disk'));
      continue;
    }
    const bad = celFindings(match);
    if (bad)
      out.push(finding("talos/user-volume", "error", at(d, ["provisioning", "diskSelector", "match"]), `UserVolumeConfig "${name}": the disk selector has ${bad}`, 'write a CEL expression over disk.* fields, e.g. disk.transport == "usb" && !system_disk'));
    else if (!/!\s*system_disk/.test(match))
      out.push(finding("talos/user-volume", "error", at(d, ["provisioning", "diskSelector", "match"]), `UserVolumeConfig "${name}": the selector does not exclude the system disk`, "add `&& !system_disk` so the volume can never be carved out of the system disk"));
  }
  // Longhorn's data path must be a user volume mounted into the kubelet with rshared propagation.
  const longhorn = model.helmReleases.find((h) => h.chart === "longhorn");
  if (longhorn) {
    const lhDoc = docAt(model, longhorn.source);
    const dataPath = get(longhorn.values, "defaultSettings", "defaultDataPath");
    const where = lhDoc ? at(lhDoc, ["spec", "values", "defaultSettings", "defaultDataPath"]) : longhorn.source;
    if (typeof dataPath !== "string")
      out.push(finding("talos/longhorn-path", "error", where, "Longhorn's defaultDataPath is not set: it defaults to /var/lib/longhorn on the system disk", "set defaultSettings.defaultDataPath to the user volume mount (/var/mnt/<name>)"));
    else {
      const dp = dataPath.replace(/\/+$/, "");
      if (!mounts.some((m) => dp === m || dp.startsWith(`${m}/`)))
        out.push(finding("talos/longhorn-path", "error", where, `Longhorn's data path ${dataPath} is not on a Talos user volume (${mounts.join(", ") || "none defined"})`, "point defaultDataPath at /var/mnt/<UserVolumeConfig name>"));
      const onVolume = mounts.some((m) => dp === m || dp.startsWith(`${m}/`));
      const em = lastSet(docs, ["machine", "kubelet", "extraMounts"]);
      const mountsArr = Array.isArray(em?.value) ? (em!.value as unknown[]) : [];
      const m = mountsArr.findIndex((x) => typeof get(x, "destination") === "string" && dp.startsWith(String(get(x, "destination")).replace(/\/+$/, "")));
      if (!onVolume) {
        // the data path itself is wrong: that one finding says it; a mount for it would not help
      } else if (m < 0)
        out.push(finding("talos/longhorn-mount", "error", em ? at(em.d, ["machine", "kubelet", "extraMounts"]) : at(model.talos.configDocument, ["patches"]), `no kubelet extraMount covers Longhorn's data path ${dataPath}`, `add machine.kubelet.extraMounts: [{destination: ${dp}, type: bind, source: ${dp}, options: [bind, rshared, rw]}]`));
      else {
        const opts = get(mountsArr[m], "options");
        if (!Array.isArray(opts) || !opts.includes("rshared"))
          out.push(finding("talos/longhorn-mount", "error", at(em!.d, ["machine", "kubelet", "extraMounts", m]), `the kubelet extraMount for ${dataPath} lacks rshared propagation`, "options: [bind, rshared, rw]"));
      }
    }
  }
  return out;
}

function schematicFindings(model: ClusterModel): Finding[] {
  const out: Finding[] = [];
  const s = model.schematic;
  if (model.helmReleases.some((h) => h.chart === "longhorn")) {
    const missing = LONGHORN_EXTENSIONS.filter((e) => !s.extensions.includes(e));
    if (missing.length > 0)
      out.push(finding("talos/extensions", "error", s.source.line ? at(docOf(model, s.source) ?? model.talos.configDocument, ["customization", "systemExtensions", "officialExtensions"]) : s.source, `the schematic lacks ${missing.join(", ")}, which Longhorn needs on Talos`, `add ${missing.join(" and ")} to customization.systemExtensions.officialExtensions`));
  }
  // The pinned schematic ID must be the ID of the schematic file, and the installer image must carry it.
  const env = model.talos.env.TALOS_SCHEMATIC_ID;
  if (s.id && s.source.line > 0) {
    const computed = schematicId(s);
    if (computed !== s.id)
      out.push(finding("talos/schematic-id", "error", env?.source ?? s.source, `the pinned schematic ID ${s.id.slice(0, 12)}... is not the ID of ${s.source.file} (${computed.slice(0, 12)}...)`, `set it to ${computed} (or revert the schematic change)`));
  }
  const img = { ...model.installerImage, source: installerImageSource(model) };
  // the installer image is the first node's: the schematic it must carry is that node's (its own, its role's, or
  // the repo's), not the control planes' when the first node is a worker
  const want = model.nodes[0]?.schematic ?? s;
  if (img.value) {
    const parsed = parseInstallerImage(img.value);
    if (!parsed?.schematic)
      out.push(finding("talos/installer-image", "error", img.source, `the installer image ${img.value} carries no Image Factory schematic: upgrades would drop the system extensions`, "give the node a talhelper `schematic:` (talhelper builds the installer from it), or set talosImageURL to factory.talos.dev/installer/<schematic ID>"));
    else if (want.id && parsed.schematic !== want.id)
      out.push(finding("talos/installer-image", "error", img.source, `the installer image carries schematic ${parsed.schematic.slice(0, 12)}..., not the repo's ${want.id.slice(0, 12)}...`, "build talosImageURL from ${TALOS_SCHEMATIC_ID}"));
    else if (parsed && model.versions.talos.value && parsed.version.replace(/^v/, "") !== model.versions.talos.value.replace(/^v/, ""))
      out.push(finding("talos/installer-image", "error", img.source, `the installer image is tagged ${parsed.version}, not talosVersion ${model.versions.talos.value}`, "leave the tag off talosImageURL: talhelper appends talosVersion"));
  }
  return out;
}

/** The talconfig line that sets the first node's installer image (its own talosImageURL, else controlPlane's). */
function installerImageSource(model: ClusterModel): Source {
  const cd = model.talos.configDocument;
  const o = cd.object;
  if (get(o, "nodes", 0, "talosImageURL") !== undefined) return at(cd, ["nodes", 0, "talosImageURL"]);
  if (get(o, "controlPlane", "talosImageURL") !== undefined) return at(cd, ["controlPlane", "talosImageURL"]);
  return model.installerImage.source;
}

function docOf(model: ClusterModel, src: Source): RepoDocument | undefined {
  return docAt(model, src) ?? model.documents.find((d) => d.file === src.file);
}

/** talhelper's input is there: talos/talconfig.yaml. Other Talos layouts (machine-config templates, talosctl patches) are not. */
export function isTalhelperRepo(model: ClusterModel): boolean {
  return existsSync(path.join(model.root, model.talos.configFile || TALHELPER_CONFIG));
}

/** "a, b, c, ..." (the first three) */
function firstFew(files: string[]): string {
  return `${files.slice(0, 3).join(", ")}${files.length > 3 ? `, ... (${files.length} files)` : ""}`;
}

/** Talos input the checks do not read: one note naming it, never silence (a repo without Talos input gets none). */
function inputsNotRead(model: ClusterModel, talhelper: boolean): Finding[] {
  const found = findTalosInputs(model.root);
  if (found.talconfigs.length > 0) {
    const files = found.talconfigs;
    const what = talhelper
      ? `only ${TALHELPER_CONFIG} was checked: the talhelper config${files.length > 1 ? "s" : ""} ${firstFew(files)} ${files.length > 1 ? "were" : "was"} not read (another cluster's, or a second copy)`
      : `the talhelper config here is ${firstFew(files)}, and the talhelper checks (nodes, encryption, CNI, kube-proxy, schematic) read only ${TALHELPER_CONFIG}: they did not run`;
    return [finding("talos/talconfig-not-read", "info", { file: files[0]!, line: 0 }, what, `nothing to fix; validate reads talhelper's input at ${TALHELPER_CONFIG} (with talenv.yaml and patches/ beside it)`)];
  }
  if (talhelper || found.other.length === 0) return [];
  return [finding("talos/not-talhelper", "info", { file: found.other[0]!, line: 0 }, `no ${TALHELPER_CONFIG}: the Talos input here (${firstFew(found.other)}) is not talhelper's, so the talhelper checks (nodes, encryption, CNI, kube-proxy, schematic) did not run`, "nothing to fix; the checks run on repos that use talhelper")];
}

export function talosCheck(model: ClusterModel): Finding[] {
  const talhelper = isTalhelperRepo(model);
  const notRead = inputsNotRead(model, talhelper);
  if (!talhelper) return notRead;
  const docs = patchDocs(model);
  return [
    ...notRead,
    ...requiredFields(model),
    ...versionFindings(model),
    ...addressing(model),
    ...encryptionFindings(model, docs),
    ...cniProxy(model, docs),
    ...userVolumes(model, docs),
    ...schematicFindings(model),
  ];
}
