/**
 * etcd snapshots: taken from a healthy member into a git-ignored folder, named with the cluster and a UTC timestamp,
 * mode 0600, verified against talosctl's two lines (saved size, then snapshot info), last N kept.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, unlinkSync } from "node:fs";
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

/** Deletes all but the newest `keep` snapshots; returns the deleted ones. */
export function pruneSnapshots(dir: string, cluster: string, keep: number, dryRun = false): SnapshotFile[] {
  const old = listSnapshots(dir, cluster).slice(keep);
  if (!dryRun) for (const s of old) unlinkSync(s.path);
  return old;
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
  keep: number;
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
  // git guards the repo only: a folder outside it (the simulation's) cannot be committed by mistake
  const insideRepo = !path.relative(o.root, dir).startsWith("..");
  if (insideRepo && !(await isGitIgnored(o.exec, o.root, path.join(dir, "x" + SNAPSHOT_SUFFIX))))
    throw new ConfigError(`refusing to write etcd snapshots to ${path.relative(o.root, dir) || dir}: git does not ignore it`, "use backups/ (git-ignored) or add the folder to .gitignore");
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
  const pruned = pruneSnapshots(dir, o.cluster, o.keep).map((s) => s.path);
  return { file, node: source.hostname, info: info!, pruned, dryRun: false };
}
