/**
 * 1Password through the `op` CLI. A value only ever travels: op's stdout -> memory (a Secret) -> a tool's stdin, a
 * Kubernetes API body, or the one git-ignored 0600 file a tool needs (the Talos secrets bundle). Never argv, never
 * a log line (Exec redacts every value it has seen), never a temporary file.
 */
import { chmodSync, closeSync, existsSync, fsyncSync, lstatSync, openSync, realpathSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import path from "node:path";
import { ConfigError, OperationError } from "../cli/errors.ts";
import { displayPath } from "../cli/index.ts";
import { Secret, type Exec } from "../exec.ts";

export { Secret };

/** `op://vault/item/field` or `op://vault/item/section/field`. */
export function isSecretReference(ref: string): boolean {
  return /^op:\/\/[^/\s]+\/[^/\s]+(\/[^/\s]+){1,2}$/.test(ref);
}

export type OpErrorKind = "signed-out" | "not-found" | "other";

export function classifyOpError(stderr: string): OpErrorKind {
  if (/not (currently )?signed in|no accounts configured|session (has )?expired|authorization (prompt )?dismissed|account is not signed in|sign in/i.test(stderr))
    return "signed-out";
  if (/isn't an item|isn't a vault|isn't a field|no item found|could not find|not found/i.test(stderr)) return "not-found";
  return "other";
}

/** The message op printed, without its `[ERROR] yyyy/mm/dd hh:mm:ss` prefix. */
export function opErrorText(stderr: string): string {
  const line = stderr.split("\n").find((l) => l.trim()) ?? "";
  return line.replace(/^\[ERROR\]\s+\d{4}\/\d{2}\/\d{2}\s+\d{2}:\d{2}:\d{2}\s+/, "").trim();
}

/**
 * Reads one secret with `op read <reference>`. The reference (not secret) is the only argument; the value comes
 * back on stdout and is registered with Exec's redactor before anything else can print it.
 */
export async function opRead(exec: Exec, ref: string, opts: { label?: string; bin?: string } = {}): Promise<Secret> {
  if (!isSecretReference(ref))
    throw new ConfigError(`"${ref}" is not a 1Password secret reference`, "use op://<vault>/<item>/<field>");
  // read-only: a dry run still needs to know the secret exists (the value is never shown)
  const r = await exec.run(opts.bin ?? "op", ["read", "--no-newline", ref], { readOnly: true, allowFailure: true, timeoutMs: 30_000 });
  if (r.exitCode !== 0) {
    const kind = classifyOpError(r.stderr);
    const text = opErrorText(r.stderr);
    if (kind === "signed-out")
      throw new ConfigError(`1Password CLI is signed out (${text || "op read failed"})`, "run `eval $(op signin)` and try again");
    if (kind === "not-found")
      throw new ConfigError(`1Password has no ${ref} (${text})`, "check the vault, item and field names");
    throw new OperationError(`op read ${ref} failed: ${text || `exit ${r.exitCode}`}`);
  }
  if (r.stdout.length === 0) throw new OperationError(`1Password returned an empty value for ${ref}`);
  return exec.secret(r.stdout, opts.label ?? ref);
}

/** Whether op is signed in (`op whoami` exits 0). */
export async function opSignedIn(exec: Exec, bin = "op"): Promise<boolean> {
  const r = await exec.run(bin, ["whoami"], { readOnly: true, allowFailure: true, timeoutMs: 15_000 });
  return r.exitCode === 0;
}

/** Asks git whether `file` is ignored in `root` (so a secret written there never gets committed). */
export async function isGitIgnored(exec: Exec, root: string, file: string): Promise<boolean> {
  const rel = path.relative(root, path.resolve(root, file));
  const r = await exec.run("git", ["check-ignore", "-q", "--no-index", rel], {
    cwd: root,
    readOnly: true,
    allowFailure: true,
    timeoutMs: 15_000,
  });
  return r.exitCode === 0;
}

/** The path with its folder's symlinks resolved (the file itself may not exist yet), or null when the folder is missing. */
function realTarget(abs: string): string | null {
  try {
    return path.join(realpathSync(path.dirname(abs)), path.basename(abs));
  } catch {
    return null;
  }
}

/**
 * Writes a secret to `file` with mode 0600. Inside the repository only where git ignores the path; outside it
 * (where git cannot commit it) only to a path that does not exist yet, unless `replaceOutside` (the caller asked
 * for --force and a typed confirmation, or it is the toolkit's own location such as a rehearsal's folder). Where a
 * path is, is decided after resolving its folder's symlinks. Never through a symlink, folder, pipe or device. The
 * file is created 0600 from the first byte (never world-readable in between) beside its final name, then renamed
 * over it.
 */
export async function writeSecretFile(
  exec: Exec,
  root: string,
  file: string,
  secret: Secret,
  opts: { replaceOutside?: boolean } = {},
): Promise<{ path: string; written: boolean }> {
  const abs = path.resolve(root, file);
  const real = realTarget(abs);
  if (!real) throw new ConfigError(`refusing to write a secret to ${file}: its folder ${path.dirname(abs)} does not exist`, "create the folder first");
  let realRoot = root;
  try {
    realRoot = realpathSync(root);
  } catch {
    /* the root as given */
  }
  const rel = path.relative(realRoot, real);
  const outside = rel === "" || rel.startsWith("..") || path.isAbsolute(rel);
  let existing: ReturnType<typeof lstatSync> | undefined;
  try {
    existing = lstatSync(real);
  } catch {
    existing = undefined;
  }
  if (existing && !existing.isFile())
    throw new ConfigError(`refusing to write a secret to ${file}: it exists and is not a regular file (a symlink, folder, pipe or device)`, "choose another path");
  if (!outside && !(await isGitIgnored(exec, realRoot, real)))
    throw new ConfigError(
      `refusing to write a secret to ${rel}: git does not ignore it`,
      "add the path to .gitignore first",
    );
  if (outside && existing && !opts.replaceOutside)
    throw new ConfigError(
      `refusing to overwrite ${real} with a secret: it is outside the repository and already exists`,
      "choose a path that does not exist yet, or pass --force to replace it (asks for a typed confirmation)",
    );
  if (exec.dryRun) {
    exec.out?.line(`[dry-run] write ${displayPath(root, abs)} (mode 0600, ${secret.toString()})`);
    return { path: abs, written: false };
  }
  const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}.${process.pid}.tmp`);
  const fd = openSync(tmp, "wx", 0o600);
  try {
    writeSync(fd, secret.reveal());
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  chmodSync(tmp, 0o600);
  renameSync(tmp, abs);
  return { path: abs, written: true };
}

/** Mode bits of a file (e.g. 0o600), or null when missing. */
export function fileMode(file: string): number | null {
  if (!existsSync(file)) return null;
  return statSync(file).mode & 0o777;
}

/** Makes an existing file 0600 (talosctl/talhelper outputs that carry secrets). */
export function restrictToOwner(file: string): void {
  if (existsSync(file)) chmodSync(file, 0o600);
}

/**
 * The 1Password reference of the Talos secrets bundle: $TALSECRET_OP_REF, else op://$OP_VAULT/talos/talsecret (the
 * vault every other home-ops secret lives in), else op://<cluster name>/talos/talsecret.
 */
export function talsecretRef(env: Record<string, string | undefined>, clusterName: string): string {
  return env.TALSECRET_OP_REF || `op://${env.OP_VAULT || clusterName}/talos/talsecret`;
}
