/**
 * Reading the repo's files safely: validate (and the loader under it) must survive any checkout, including a
 * hostile or broken one. A path is classified from lstat/stat before anything is opened: a FIFO, device or socket
 * is never opened (a FIFO would block, /dev/zero never ends), a symlink whose target leaves the repo is never
 * followed, an unreadable folder is reported as unreadable. What is read is bounded (size, then document count) and
 * must be UTF-8 text without NUL bytes; each refusal says where (file and line) and why.
 */
import { accessSync, closeSync, fstatSync, lstatSync, openSync, readSync, realpathSync, statSync } from "node:fs";
import { constants } from "node:fs";
import path from "node:path";

export const SAFE_READ_LIMITS = {
  /** larger than any manifest a cluster accepts (etcd's request limit is 1.5 MiB per object) by far */
  fileBytes: 16 * 1024 * 1024,
  /** YAML documents in one file */
  documents: 50_000,
};

export type EntryKind =
  | { kind: "file" }
  | { kind: "dir" }
  | { kind: "missing" }
  /** never opened: says why, and what to do */
  | { kind: "unsafe"; why: string; fix: string };

function special(st: { isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string | undefined {
  if (st.isFIFO()) return "a FIFO (named pipe)";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return undefined;
}

const realRoots = new Map<string, string>();
function realRoot(root: string): string {
  let r = realRoots.get(root);
  if (r === undefined) {
    try {
      r = realpathSync(root);
    } catch {
      r = path.resolve(root);
    }
    realRoots.set(root, r);
  }
  return r;
}

/**
 * A folder's real path, remembered until the current synchronous pass ends (a loader or check classifying every
 * file of a folder resolves the folder once; the next run sees the disk as it is then).
 */
let realDirs: Map<string, string> | undefined;
function realDir(abs: string): string {
  if (!realDirs) {
    realDirs = new Map();
    queueMicrotask(() => (realDirs = undefined));
  }
  let r = realDirs.get(abs);
  if (r === undefined) realDirs.set(abs, (r = realpathSync(abs)));
  return r;
}

function inside(root: string, abs: string): boolean {
  const rel = path.relative(root, abs);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/** What a repo-relative path is, without opening it. */
export function inspectEntry(root: string, rel: string): EntryKind {
  const rootReal = realRoot(root);
  const abs = path.resolve(root, rel);
  if (!inside(path.resolve(root), abs))
    return { kind: "unsafe", why: `leaves the repository (${rel})`, fix: "point inside the repository" };
  let l;
  try {
    l = lstatSync(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return { kind: "missing" };
    return { kind: "unsafe", why: `cannot be read (${code})`, fix: "check the permissions of it and its folders" };
  }
  const link = l.isSymbolicLink();
  let real = abs;
  try {
    // an entry that is not a link is where its folder really is: only the folder's path is resolved (once per folder)
    real = link ? realpathSync(abs) : path.join(realDir(path.dirname(abs)), path.basename(abs));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (link && code === "ENOENT") return { kind: "missing" };
    return { kind: "unsafe", why: `cannot be read (${code})`, fix: "check the permissions of it and its folders" };
  }
  if (!inside(rootReal, real))
    return { kind: "unsafe", why: `is a symlink to ${real}, outside the repository: not read`, fix: "commit the file itself instead of a link out of the repository" };
  let st = l;
  if (link)
    try {
      st = statSync(real);
    } catch (e) {
      return { kind: "unsafe", why: `cannot be read (${(e as NodeJS.ErrnoException).code})`, fix: "check its permissions" };
    }
  const sp = special(st);
  if (sp) return { kind: "unsafe", why: `is ${sp}, not a file: not read`, fix: "replace it with a regular file" };
  if (st.isDirectory()) {
    try {
      accessSync(real, constants.R_OK | constants.X_OK);
    } catch (e) {
      return { kind: "unsafe", why: `is a folder that cannot be read (${(e as NodeJS.ErrnoException).code})`, fix: "fix the folder's permissions (chmod u+rx)" };
    }
    return { kind: "dir" };
  }
  return { kind: "file" };
}

/** The 0-based offset of the first byte that is not valid UTF-8, or -1. */
export function firstInvalidUtf8(buf: Uint8Array): number {
  let i = 0;
  const n = buf.length;
  while (i < n) {
    const b = buf[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) (need = 1), (min = 0x80);
    else if (b >= 0xe0 && b <= 0xef) (need = 2), (min = 0x800);
    else if (b >= 0xf0 && b <= 0xf4) (need = 3), (min = 0x10000);
    else return i;
    if (i + need >= n) return i;
    let cp = b & (0xff >> (need + 2));
    for (let k = 1; k <= need; k++) {
      const c = buf[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

/** 1-based line of a byte offset. */
export function lineOfByte(buf: Uint8Array, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < buf.length; i++) if (buf[i] === 10) line++;
  return line;
}

export type SafeText = { ok: true; text: string } | { ok: false; line: number; message: string };

/** Documents in a YAML text: lines that start a new one (`---`), plus the first. */
export function countDocuments(text: string): number {
  let n = 1;
  let i = text.startsWith("---") ? 3 : 0;
  for (;;) {
    const j = text.indexOf("\n---", i);
    if (j < 0) return n;
    const after = text.charCodeAt(j + 4);
    if (Number.isNaN(after) || after === 10 || after === 13 || after === 32 || after === 9) n++;
    i = j + 4;
  }
}

/**
 * Reads a file of the repo as text, or says why not (message starts with "cannot read file:" so the yaml family
 * reports it): not a regular file, a symlink out of the repo, too large, NUL bytes, not UTF-8, too many documents.
 */
export function readRepoText(root: string, rel: string, limits = SAFE_READ_LIMITS): SafeText {
  const entry = inspectEntry(root, rel);
  if (entry.kind === "missing") return { ok: false, line: 0, message: "cannot read file: it does not exist" };
  if (entry.kind === "unsafe") return { ok: false, line: 0, message: `cannot read file: it ${entry.why}` };
  if (entry.kind === "dir") return { ok: false, line: 0, message: "cannot read file: it is a folder" };
  return readBounded(path.resolve(root, rel), limits);
}

/**
 * Reads a file as text with the same limits, by absolute path (the raw-file checks). O_NONBLOCK and a fstat
 * before reading: a FIFO swapped in after the check is still never waited on.
 */
export function readBounded(abs: string, limits = SAFE_READ_LIMITS, opts: { strictText?: boolean } = {}): SafeText {
  let fd: number;
  try {
    const st = statSync(abs);
    const sp = special(st);
    if (sp) return { ok: false, line: 0, message: `cannot read file: it is ${sp}, not a file` };
    if (st.isDirectory()) return { ok: false, line: 0, message: "cannot read file: it is a folder" };
    fd = openSync(abs, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    return { ok: false, line: 0, message: `cannot read file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
  }
  let buf: Buffer;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { ok: false, line: 0, message: "cannot read file: it is not a regular file" };
    if (st.size > limits.fileBytes)
      return { ok: false, line: 0, message: `cannot read file: it has ${st.size} bytes, more than the ${limits.fileBytes} a repo file may have (a binary or generated file?)` };
    buf = Buffer.alloc(st.size);
    let pos = 0;
    while (pos < st.size) {
      const n = readSync(fd, buf, pos, st.size - pos, pos);
      if (n <= 0) break;
      pos += n;
    }
    buf = buf.subarray(0, pos);
  } catch (e) {
    return { ok: false, line: 0, message: `cannot read file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
  } finally {
    closeSync(fd);
  }
  // a scan for secrets reads every file as it is (lossy UTF-8); only YAML input must be clean text
  if (opts.strictText === false) return { ok: true, text: buf.toString("utf8") };
  const nul = buf.indexOf(0);
  if (nul >= 0) return { ok: false, line: lineOfByte(buf, nul), message: "cannot read file: it holds a NUL byte (binary data, not YAML text)" };
  const text = buf.toString("utf8");
  // the decoder replaces invalid bytes with U+FFFD: only then is the byte-exact check needed
  const bad = text.includes("\ufffd") ? firstInvalidUtf8(buf) : -1;
  if (bad >= 0)
    return { ok: false, line: lineOfByte(buf, bad), message: `cannot read file: byte 0x${buf[bad]!.toString(16).padStart(2, "0")} at offset ${bad} is not valid UTF-8 (YAML must be UTF-8 text)` };
  const docs = countDocuments(text);
  if (docs > limits.documents)
    return { ok: false, line: 1, message: `cannot read file: it holds ${docs} YAML documents, more than the ${limits.documents} a repo file may have` };
  return { ok: true, text };
}

/** Does this parsed value refer to itself (an alias inside its own anchor, e.g. `<<: *self`)? */
export function isCyclic(value: unknown): boolean {
  const onPath = new Set<object>();
  const done = new Set<object>();
  const visit = (v: unknown): boolean => {
    if (v === null || typeof v !== "object") return false;
    if (onPath.has(v)) return true;
    if (done.has(v)) return false;
    onPath.add(v);
    for (const c of Array.isArray(v) ? v : Object.values(v)) if (visit(c)) return true;
    onPath.delete(v);
    done.add(v);
    return false;
  };
  return visit(value);
}
