/**
 * etcd snapshots: taken from a healthy member into a git-ignored folder, named with the cluster and a UTC timestamp,
 * mode 0600, verified against talosctl's two lines (saved size, then snapshot info), last N kept.
 */
import { createHash } from "node:crypto";
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ConfigError, OperationError } from "../cli/errors.ts";
import type { Exec } from "../exec.ts";
import { isGitIgnored } from "../secrets/op.ts";
import type { GateNode } from "../safety/gates.ts";
import type { EtcdMemberStatus, SnapshotInfo } from "./parse.ts";
import type { Talosctl } from "./talosctl.ts";

export interface SnapshotFile {
  path: string;
  name: string;
  bytes: number;
  mtimeMs: number;
}

export const SNAPSHOT_SUFFIX = ".snapshot";

/**
 * The folder etcd snapshots go to and are restored from. A relative folder resolves against
 * $HOMEOPS_BACKUP_ROOT (--simulate sets it to the simulation's folder, so a rehearsal never reads, writes or prunes
 * the real backups/), else against the repo.
 */
export function snapshotDir(root: string, env: Record<string, string | undefined>, dir = "backups/etcd"): string {
  return path.resolve(env.HOMEOPS_BACKUP_ROOT || root, dir);
}


export function snapshotName(cluster: string, at = new Date()): string {
  // milliseconds too: two snapshots in one second (a reset right after a backup) must not overwrite each other
  return `etcd-${cluster}-${at.toISOString().replace(/[-:]/g, "")}${SNAPSHOT_SUFFIX}`.replace(/Z\.snapshot$/, "Z.snapshot");
}

/** Snapshots of `cluster` in `dir`, newest first (the timestamp in the name sorts as time). */
export function listSnapshots(dir: string, cluster: string): SnapshotFile[] {
  if (!existsSync(dir)) return [];
  const prefix = `etcd-${cluster}-`;
  return readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith(SNAPSHOT_SUFFIX))
    .sort()
    .reverse()
    .map((name) => {
      const p = path.join(dir, name);
      const st = statSync(p);
      return { path: p, name, bytes: st.size, mtimeMs: st.mtimeMs };
    });
}

/** The snapshots one more new snapshot pushes out when `keep` are kept (the new one counts): asked about before. */
export function snapshotsToPrune(dir: string, cluster: string, keep: number): SnapshotFile[] {
  return listSnapshots(dir, cluster).slice(Math.max(0, keep - 1));
}

/** Deletes exactly these snapshots (and their .info.json), the list that was shown and confirmed; returns what went. */
export function deleteSnapshots(files: SnapshotFile[]): SnapshotFile[] {
  const gone: SnapshotFile[] = [];
  for (const s of files) {
    if (!existsSync(s.path)) continue;
    unlinkSync(s.path);
    if (existsSync(infoFileOf(s.path))) unlinkSync(infoFileOf(s.path));
    gone.push(s);
  }
  return gone;
}

/** Where etcd-snapshot keeps talosctl's "snapshot info" numbers for a snapshot file. */
export function infoFileOf(snapshot: string): string {
  return `${snapshot}.info.json`;
}

/** What a recovery learns about a snapshot file before it wipes anything. */
export interface SnapshotCheck {
  ok: boolean;
  problems: string[];
  format: "etcd" | "simulated" | "unknown";
  bytes: number;
  /** sha256 of the data (what the trailer guards) */
  sha256?: string;
  /** talosctl's hash and revision when etcd-snapshot recorded them (.info.json) or the snapshot carries them */
  hash?: string;
  revision?: number;
}

/** etcd's data file is a bbolt database: page 0 holds the meta page, magic 0xED0CDAED (little-endian) after the 16-byte page header, version 2. */
const BOLT_MAGIC = 0xed0cdaed;
const SHA256_TRAILER = 32;
/** etcd's largest backend quota (8 GiB): nothing bigger is an etcd snapshot */
export const MAX_SNAPSHOT_BYTES = 8 * 1024 ** 3;

function sha256Of(file: string, length: number): { digest: Buffer; trailer: Buffer } {
  const fd = openSync(file, "r");
  try {
    const h = createHash("sha256");
    const buf = Buffer.alloc(1 << 20);
    let pos = 0;
    while (pos < length) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, length - pos), pos);
      if (n <= 0) break;
      h.update(buf.subarray(0, n));
      pos += n;
    }
    const trailer = Buffer.alloc(SHA256_TRAILER);
    readSync(fd, trailer, 0, SHA256_TRAILER, length);
    return { digest: h.digest(), trailer };
  } finally {
    closeSync(fd);
  }
}

/**
 * Checks a snapshot file the way `talosctl bootstrap --recover-from` will, before anything is wiped: a regular file
 * of a plausible size; the sha256 trailer etcd appends (size ≡ 32 mod 512, digest matches) unless it is a raw db
 * copy (skipHashCheck); an etcd (bbolt) database, or, only in a rehearsal, a snapshot of the simulated cluster;
 * and talosctl's recorded size when etcd-snapshot kept it. A FIFO or device is never opened.
 */
export async function checkSnapshotFile(file: string, opts: { simulated: boolean; skipHashCheck?: boolean }): Promise<SnapshotCheck> {
  const problems: string[] = [];
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    return { ok: false, problems: [`cannot read it: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`], format: "unknown", bytes: 0 };
  }
  if (!st.isFile()) return { ok: false, problems: ["it is not a regular file (a folder, device or pipe)"], format: "unknown", bytes: 0 };
  const bytes = st.size;
  if (bytes === 0) return { ok: false, problems: ["it is empty"], format: "unknown", bytes };
  if (bytes > MAX_SNAPSHOT_BYTES) return { ok: false, problems: [`it has ${bytes} bytes, more than etcd's largest database`], format: "unknown", bytes };
  const head = Buffer.alloc(64);
  const fd = openSync(file, "r");
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  const hasTrailer = bytes % 512 === SHA256_TRAILER;
  let sha256: string | undefined;
  if (hasTrailer) {
    const { digest, trailer } = sha256Of(file, bytes - SHA256_TRAILER);
    sha256 = digest.toString("hex");
    if (!opts.skipHashCheck && !digest.equals(trailer)) problems.push("its sha256 trailer does not match its data (damaged or truncated)");
  } else if (!opts.skipHashCheck) {
    problems.push("it has no sha256 trailer (size is not 32 more than a multiple of 512): not a snapshot taken with talosctl etcd snapshot; a raw copy of member/snap/db needs --skip-hash-check");
  }
  let format: SnapshotCheck["format"] = "unknown";
  let revision: number | undefined;
  let hash: string | undefined;
  const sim = await import("../sim/talos.ts");
  if (head.subarray(0, sim.SNAPSHOT_MAGIC.length).toString("utf8") === sim.SNAPSHOT_MAGIC) {
    format = "simulated";
    if (!opts.simulated) problems.push("it is a snapshot of the SIMULATED cluster (a rehearsal), not of a real etcd");
    else {
      try {
        const payload = sim.decodeSnapshot(readFileSync(file), { skipHashCheck: opts.skipHashCheck });
        revision = payload.revision;
      } catch (e) {
        problems.push((e as Error).message);
      }
    }
  } else if (head.length >= 24 && head.readUInt32LE(16) === BOLT_MAGIC && head.readUInt32LE(20) === 2) {
    format = "etcd";
    if (opts.simulated) problems.push("it is a real etcd database: the simulated cluster restores only its own snapshots");
  } else {
    problems.push("it is not an etcd snapshot (no bbolt database header)");
  }
  const infoFile = infoFileOf(file);
  if (existsSync(infoFile)) {
    try {
      const info = JSON.parse(readFileSync(infoFile, "utf8")) as { hash?: string; revision?: number; bytes?: number };
      hash = info.hash;
      revision ??= info.revision;
      if (typeof info.bytes === "number" && info.bytes !== bytes) problems.push(`talosctl saved ${info.bytes} bytes but the file has ${bytes} now`);
    } catch {
      problems.push(`${path.basename(infoFile)} beside it does not parse`);
    }
  }
  return { ok: problems.length === 0, problems, format, bytes, ...(sha256 ? { sha256 } : {}), ...(hash ? { hash } : {}), ...(revision !== undefined ? { revision } : {}) };
}

/** A healthy voting member to take the snapshot from: no errors, not a learner; the leader last (spare it the load). */
export function pickSnapshotSource(controlPlanes: GateNode[], status: EtcdMemberStatus[], prefer?: string): GateNode | undefined {
  const healthy = controlPlanes.filter((cp) => status.some((s) => s.node === cp.ip && s.errors.length === 0 && !s.learner));
  if (prefer) return healthy.find((cp) => cp.hostname === prefer || cp.ip === prefer);
  const leaderIds = new Set(status.map((s) => s.leader));
  const nonLeader = healthy.filter((cp) => !status.some((s) => s.node === cp.ip && leaderIds.has(s.memberId)));
  return nonLeader[0] ?? healthy[0];
}

/** Checks talosctl's lines against the file on disk. Returns the problems (empty when consistent). */
export function verifySnapshot(info: SnapshotInfo, file: string): string[] {
  const problems: string[] = [];
  if (!existsSync(file)) return [`talosctl reported a snapshot but ${file} does not exist`];
  const size = statSync(file).size;
  if (info.bytes !== size) problems.push(`talosctl reported ${info.bytes} bytes but the file has ${size}`);
  if (info.totalSize !== info.bytes) problems.push(`snapshot info total size ${info.totalSize} differs from the ${info.bytes} bytes saved`);
  if (size === 0) problems.push("the snapshot is empty");
  if (info.totalKeys <= 0) problems.push("the snapshot holds no keys");
  return problems;
}

export interface TakeSnapshotOptions {
  talos: Talosctl;
  exec: Exec;
  root: string;
  dir: string;
  cluster: string;
  controlPlanes: GateNode[];
  /** take it from this node (hostname or IP) */
  node?: string;
  /** older snapshots to delete once the new one is verified (snapshotsToPrune, shown and confirmed by the caller) */
  prune: SnapshotFile[];
}

export interface TakenSnapshot {
  file: string;
  node: string;
  info?: SnapshotInfo;
  pruned: string[];
  dryRun: boolean;
}

export async function takeSnapshot(o: TakeSnapshotOptions): Promise<TakenSnapshot> {
  const dir = path.resolve(o.root, o.dir);
  // a folder outside the repo (a NAS mount, the simulation's folder) cannot be committed; inside it, git must ignore it
  const inRepo = !path.relative(o.root, dir).startsWith("..") && !path.isAbsolute(path.relative(o.root, dir));
  if (inRepo && !(await isGitIgnored(o.exec, o.root, path.join(dir, "x" + SNAPSHOT_SUFFIX))))
    throw new ConfigError(`refusing to write etcd snapshots to ${path.relative(o.root, dir) || dir}: git does not ignore it`, "use backups/ (git-ignored), a folder outside the repo, or add the folder to .gitignore");
  const statuses = await Promise.all(o.controlPlanes.map((cp) => o.talos.etcdStatus([cp.ip]).catch(() => [] as EtcdMemberStatus[])));
  const status = statuses.flat().map((s, i) => ({ ...s, node: s.node || o.controlPlanes[i]?.ip || "" }));
  const source = pickSnapshotSource(o.controlPlanes, status, o.node);
  if (!source)
    throw new OperationError(
      o.node ? `${o.node} is not a healthy etcd member to take a snapshot from` : "no control plane has a healthy etcd member to take a snapshot from",
      "if quorum is lost, copy /var/lib/etcd/member/snap/db from a control plane and recover with --skip-hash-check",
    );
  const file = path.join(dir, snapshotName(o.cluster));
  if (!o.exec.dryRun) mkdirSync(dir, { recursive: true, mode: 0o700 });
  let info: SnapshotInfo | null;
  try {
    info = await o.talos.etcdSnapshot(source.ip, file);
  } catch (e) {
    if (existsSync(file)) unlinkSync(file);
    throw e;
  }
  if (o.exec.dryRun) return { file, node: source.hostname, pruned: [], dryRun: true };
  const problems = info ? verifySnapshot(info, file) : ["talosctl printed no snapshot lines"];
  if (problems.length) {
    if (existsSync(file)) unlinkSync(file);
    throw new OperationError(`the etcd snapshot from ${source.hostname} failed verification: ${problems.join("; ")}`, "the file was removed; take the snapshot again");
  }
  chmodSync(file, 0o600);
  // talosctl's numbers beside the file: a recovery checks the file against them before it wipes anything
  writeFileSync(infoFileOf(file), JSON.stringify({ hash: info!.hash, revision: info!.revision, totalKeys: info!.totalKeys, bytes: info!.bytes, node: source.hostname }) + "\n", { mode: 0o600 });
  const pruned = deleteSnapshots(o.prune).map((s) => s.path);
  return { file, node: source.hostname, info: info!, pruned, dryRun: false };
}
