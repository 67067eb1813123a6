/**
 * Parsers for the real output formats of talosctl and talhelper (Talos 1.10, see talos.md). Pure functions: they take
 * the text a tool printed and return typed values, so they are unit-tested on verbatim samples.
 */

// ---------------------------------------------------------------------------------------------------------------
// Generic shapes

/**
 * `talosctl get <resource> -o json` prints a STREAM of indented JSON objects (one per node and resource), not an
 * array. Splits the stream by tracking brace depth outside strings, then JSON.parse()s each object.
 */
export function parseJsonStream<T = Record<string, unknown>>(text: string): T[] {
  const out: T[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (escaped) escaped = false;
      else if (c === "\\") escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === "{" || c === "[") {
      if (depth === 0) start = i;
      depth++;
    } else if (c === "}" || c === "]") {
      depth--;
      if (depth < 0) throw new TalosParseError("unbalanced JSON stream from talosctl", text);
      if (depth === 0) {
        const chunk = text.slice(start, i + 1);
        let value: unknown;
        try {
          value = JSON.parse(chunk);
        } catch {
          throw new TalosParseError("talosctl printed JSON that does not parse", chunk);
        }
        if (Array.isArray(value)) out.push(...(value as T[]));
        else out.push(value as T);
      }
    }
  }
  if (depth !== 0) throw new TalosParseError("talosctl's JSON stream ended in the middle of an object", text);
  return out;
}

export class TalosParseError extends Error {
  readonly text: string;
  constructor(message: string, text: string) {
    super(message);
    this.name = "TalosParseError";
    this.text = text.length > 400 ? text.slice(0, 400) + "..." : text;
  }
}

/**
 * talosctl prints tables through Go's tabwriter: every cell starts at its header's column. Header names may hold a
 * space (`DB SIZE`, `PEER URLS`, `MACHINE TYPE`) and so may cells (`7.9 MB`, `Talos (v1.10.5)`), so the columns are
 * cut at the header positions of the known column names rather than at whitespace.
 */
export function parseTable(text: string, columns: readonly string[]): Array<Record<string, string>> {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const headerIndex = lines.findIndex((l) => columns.every((c) => headerPos(l, c) >= 0));
  if (headerIndex < 0)
    throw new TalosParseError(`talosctl output has no table header with ${columns.join(", ")}`, text);
  const header = lines[headerIndex]!;
  const starts = columns.map((c) => headerPos(header, c));
  for (let i = 1; i < starts.length; i++)
    if (starts[i]! <= starts[i - 1]!)
      throw new TalosParseError(`talosctl table columns are not in the expected order (${columns.join(", ")})`, text);
  const rows: Array<Record<string, string>> = [];
  for (const line of lines.slice(headerIndex + 1)) {
    const row: Record<string, string> = {};
    columns.forEach((c, i) => {
      const from = starts[i]!;
      const to = i + 1 < starts.length ? starts[i + 1]! : line.length;
      row[c] = line.slice(from, Math.max(from, to)).trim();
    });
    rows.push(row);
  }
  return rows;
}

/** Position of a header name in the header line as a whole word (so `ID` does not match inside `RAFT APPLIED`). */
function headerPos(header: string, name: string): number {
  let from = 0;
  for (;;) {
    const i = header.indexOf(name, from);
    if (i < 0) return -1;
    const before = i === 0 ? " " : header[i - 1]!;
    const after = i + name.length >= header.length ? " " : header[i + name.length]!;
    if (/\s/.test(before) && /\s/.test(after)) return i;
    from = i + 1;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// etcd

export interface EtcdMember {
  /** the node talosctl asked */
  node: string;
  id: string;
  hostname: string;
  peerUrls: string[];
  clientUrls: string[];
  learner: boolean;
}

export const ETCD_MEMBERS_COLUMNS = ["NODE", "ID", "HOSTNAME", "PEER URLS", "CLIENT URLS", "LEARNER"] as const;

/** `talosctl etcd members`: `NODE ID HOSTNAME PEER URLS CLIENT URLS LEARNER`. */
export function parseEtcdMembers(text: string): EtcdMember[] {
  return parseTable(text, ETCD_MEMBERS_COLUMNS).map((r) => ({
    node: r.NODE!,
    id: r.ID!,
    hostname: r.HOSTNAME!,
    peerUrls: splitList(r["PEER URLS"]!),
    clientUrls: splitList(r["CLIENT URLS"]!),
    learner: parseBool(r.LEARNER!, "LEARNER"),
  }));
}

export interface EtcdMemberStatus {
  node: string;
  memberId: string;
  /** bytes */
  dbSize: number;
  dbSizeText: string;
  inUse: number;
  inUseText: string;
  leader: string;
  raftIndex: number;
  raftTerm: number;
  raftAppliedIndex: number;
  learner: boolean;
  errors: string[];
}

export const ETCD_STATUS_COLUMNS = [
  "NODE",
  "MEMBER",
  "DB SIZE",
  "IN USE",
  "LEADER",
  "RAFT INDEX",
  "RAFT TERM",
  "RAFT APPLIED INDEX",
  "LEARNER",
  "ERRORS",
] as const;

/** `talosctl etcd status`: `NODE MEMBER DB SIZE IN USE LEADER RAFT INDEX RAFT TERM RAFT APPLIED INDEX LEARNER ERRORS`. */
export function parseEtcdStatus(text: string): EtcdMemberStatus[] {
  return parseTable(text, ETCD_STATUS_COLUMNS).map((r) => {
    const inUseText = r["IN USE"]!;
    return {
      node: r.NODE!,
      memberId: r.MEMBER!,
      dbSizeText: r["DB SIZE"]!,
      dbSize: parseBytes(r["DB SIZE"]!),
      inUseText,
      inUse: parseBytes(inUseText.replace(/\s*\(.*\)\s*$/, "")),
      leader: r.LEADER!,
      raftIndex: parseIntStrict(r["RAFT INDEX"]!, "RAFT INDEX"),
      raftTerm: parseIntStrict(r["RAFT TERM"]!, "RAFT TERM"),
      raftAppliedIndex: parseIntStrict(r["RAFT APPLIED INDEX"]!, "RAFT APPLIED INDEX"),
      learner: parseBool(r.LEARNER!, "LEARNER"),
      errors: r.ERRORS ? r.ERRORS.split(/,\s*/).filter(Boolean) : [],
    };
  });
}

export interface SnapshotInfo {
  path: string;
  bytes: number;
  hash: string;
  revision: number;
  totalKeys: number;
  totalSize: number;
}

const SNAPSHOT_SAVED = /^etcd snapshot saved to "(.+)" \((\d+) bytes\)$/;
const SNAPSHOT_INFO = /^snapshot info: hash ([0-9a-f]{8}), revision (\d+), total keys (\d+), total size (\d+)$/;

/**
 * `talosctl etcd snapshot <path>` prints exactly two lines:
 * `etcd snapshot saved to "<path>" (<n> bytes)` and `snapshot info: hash %08x, revision %d, total keys %d, total size %d`.
 * Returns null unless both are there.
 */
export function parseSnapshotOutput(text: string): SnapshotInfo | null {
  const lines = text.split("\n").map((l) => l.trim());
  let saved: RegExpExecArray | null = null;
  let info: RegExpExecArray | null = null;
  for (const l of lines) {
    saved ??= SNAPSHOT_SAVED.exec(l);
    info ??= SNAPSHOT_INFO.exec(l);
  }
  if (!saved || !info) return null;
  return {
    path: saved[1]!,
    bytes: Number(saved[2]),
    hash: info[1]!,
    revision: Number(info[2]),
    totalKeys: Number(info[3]),
    totalSize: Number(info[4]),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Resources

export interface ClusterMember {
  node: string;
  id: string;
  hostname: string;
  machineType: string;
  os: string;
  /** from OS, e.g. "v1.10.5" out of "Talos (v1.10.5)" */
  talosVersion?: string;
  addresses: string[];
}

export const MEMBERS_COLUMNS = [
  "NODE",
  "NAMESPACE",
  "TYPE",
  "ID",
  "VERSION",
  "HOSTNAME",
  "MACHINE TYPE",
  "OS",
  "ADDRESSES",
] as const;

/** `talosctl get members` table: `NODE NAMESPACE TYPE ID VERSION HOSTNAME MACHINE TYPE OS ADDRESSES`. */
export function parseMembers(text: string): ClusterMember[] {
  return parseTable(text, MEMBERS_COLUMNS).map((r) => ({
    node: r.NODE!,
    id: r.ID!,
    hostname: r.HOSTNAME!,
    machineType: r["MACHINE TYPE"]!,
    os: r.OS!,
    talosVersion: /\((v[^)]+)\)/.exec(r.OS!)?.[1],
    addresses: parseAddressList(r.ADDRESSES!),
  }));
}

function parseAddressList(text: string): string[] {
  const t = text.trim();
  if (t.startsWith("[")) {
    try {
      const v = JSON.parse(t) as unknown;
      if (Array.isArray(v)) return v.map(String);
    } catch {
      /* fall through to the plain split */
    }
    return t
      .slice(1, -1)
      .split(/[\s,]+/)
      .map((s) => s.replace(/"/g, ""))
      .filter(Boolean);
  }
  return splitList(t);
}

export const MACHINE_STAGES = [
  "unknown",
  "booting",
  "installing",
  "maintenance",
  "running",
  "rebooting",
  "shutting down",
  "resetting",
  "upgrading",
] as const;
export type MachineStage = (typeof MACHINE_STAGES)[number];

export interface MachineStatus {
  node: string;
  stage: MachineStage;
  ready: boolean;
  unmetConditions: Array<{ name: string; reason: string }>;
}

/** `talosctl get machinestatus -o json`: `spec.stage`, `spec.status.ready`, `spec.status.unmetConditions[]`. */
export function parseMachineStatus(text: string): MachineStatus[] {
  return parseJsonStream(text).map((o) => {
    const spec = asRecord(o.spec);
    const status = asRecord(spec.status);
    const stage = String(spec.stage ?? "unknown");
    return {
      node: String(o.node ?? ""),
      stage: ((MACHINE_STAGES as readonly string[]).includes(stage) ? stage : "unknown") as MachineStage,
      ready: status.ready === true,
      unmetConditions: Array.isArray(status.unmetConditions)
        ? status.unmetConditions.map((c) => {
            const r = asRecord(c);
            return { name: String(r.name ?? ""), reason: String(r.reason ?? "") };
          })
        : [],
    };
  });
}

export interface InstalledExtension {
  node: string;
  /** e.g. "iscsi-tools" (the Image Factory's pseudo-extension "schematic" carries the schematic id as version) */
  name: string;
  version: string;
  image: string;
  author?: string;
  description?: string;
}

/** `talosctl get extensions -o json`: ExtensionStatus resources, `spec.image` and `spec.metadata.{name,version,...}`. */
export function parseExtensions(text: string): InstalledExtension[] {
  return parseJsonStream(text).map((o) => {
    const spec = asRecord(o.spec);
    const meta = asRecord(spec.metadata);
    return {
      node: String(o.node ?? ""),
      name: String(meta.name ?? ""),
      version: String(meta.version ?? ""),
      image: String(spec.image ?? ""),
      author: meta.author === undefined ? undefined : String(meta.author),
      description: meta.description === undefined ? undefined : String(meta.description),
    };
  });
}

export interface NodeVersion {
  node: string;
  tag: string;
}

/**
 * `talosctl version`: a `Client:` block and one `Server:` block per node, each with `NODE:` and `Tag:` lines.
 * Returns the server tags (the client's is ignored).
 */
export function parseVersionOutput(text: string): { client?: string; servers: NodeVersion[] } {
  let section: "client" | "server" | undefined;
  let client: string | undefined;
  const servers: NodeVersion[] = [];
  let node: string | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "Client:") section = "client";
    else if (line === "Server:") {
      section = "server";
      node = undefined;
    } else {
      const m = /^([A-Za-z/ ]+):\s*(.*)$/.exec(line);
      if (!m) continue;
      const [, key, value] = m;
      if (section === "client" && key === "Tag") client = value!.trim();
      if (section === "server" && key === "NODE") node = value!.trim();
      if (section === "server" && key === "Tag") servers.push({ node: node ?? "", tag: value!.trim() });
    }
  }
  return { client, servers };
}

// ---------------------------------------------------------------------------------------------------------------
// health

export interface HealthCheckLine {
  check: string;
  result: string;
}

export interface HealthReport {
  discovered: string[];
  checks: HealthCheckLine[];
  ok: boolean;
  error?: string;
}

/**
 * `talosctl health` (on stderr): `discovered nodes: [...]`, then `waiting for <check>: ...|OK|SKIP|<err>`; on failure
 * `healthcheck error: ...`.
 */
export function parseHealth(text: string): HealthReport {
  const discovered: string[] = [];
  const last = new Map<string, string>();
  let error: string | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const d = /^discovered nodes: \[(.*)\]$/.exec(line);
    if (d) {
      discovered.push(
        ...d[1]!
          .split(/[\s,]+/)
          .map((s) => s.replace(/"/g, ""))
          .filter(Boolean),
      );
      continue;
    }
    const w = /^waiting for (.+?): (.*)$/.exec(line);
    if (w) {
      last.set(w[1]!, w[2]!);
      continue;
    }
    const e = /^healthcheck error: (.*)$/.exec(line);
    if (e) error = e[1]!;
  }
  const checks = [...last].map(([check, result]) => ({ check, result }));
  const ok = error === undefined && checks.every((c) => c.result === "OK" || c.result === "SKIP");
  return { discovered, checks, ok, error };
}

// ---------------------------------------------------------------------------------------------------------------
// apply-config

export type ApplyOutcome = "applied-no-reboot" | "applied-with-reboot" | "applied" | "staged" | "try";

/** `Applied configuration without a reboot` / `with a reboot`; maintenance mode prints nothing on success. */
export function parseApplyOutput(text: string): ApplyOutcome {
  if (/Applied configuration without a reboot/i.test(text)) return "applied-no-reboot";
  if (/Applied configuration with a reboot/i.test(text)) return "applied-with-reboot";
  if (/staged/i.test(text)) return "staged";
  if (/try mode|will be rolled back/i.test(text)) return "try";
  return "applied";
}

// ---------------------------------------------------------------------------------------------------------------
// talhelper

export interface GeneratedConfig {
  host: string;
  file: string;
}

/** `talhelper genconfig` prints `generated config for <host> in <file>` per node. */
export function parseGenconfig(text: string): GeneratedConfig[] {
  const out: GeneratedConfig[] = [];
  for (const raw of text.split("\n")) {
    const m = /^generated config for (\S+) in (\S+)\s*$/.exec(raw.trim());
    if (m) out.push({ host: m[1]!, file: m[2]! });
  }
  return out;
}

/** `talhelper gencommand ...` prints one talosctl command per line ending with `;`: returns each as argv. */
export function parseGencommand(text: string): string[][] {
  const out: string[][] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line.startsWith("talosctl ")) continue;
    out.push(splitShellWords(line.replace(/;\s*$/, "")));
  }
  return out;
}

/** Splits a command line as talhelper prints it (words, optional single or double quotes; no expansion). */
export function splitShellWords(line: string): string[] {
  const words: string[] = [];
  let cur = "";
  let quote: string | null = null;
  let has = false;
  for (const c of line) {
    if (quote) {
      if (c === quote) quote = null;
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      has = true;
    } else if (/\s/.test(c)) {
      if (has || cur) words.push(cur);
      cur = "";
      has = false;
    } else cur += c;
  }
  if (has || cur) words.push(cur);
  return words;
}

// ---------------------------------------------------------------------------------------------------------------
// helpers

function splitList(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

function parseBool(text: string, column: string): boolean {
  if (text === "true") return true;
  if (text === "false") return false;
  throw new TalosParseError(`talosctl printed "${text}" in column ${column}, expected true or false`, text);
}

function parseIntStrict(text: string, column: string): number {
  if (!/^\d+$/.test(text)) throw new TalosParseError(`talosctl printed "${text}" in column ${column}, expected a number`, text);
  return Number(text);
}

const UNITS: Record<string, number> = {
  B: 1,
  kB: 1e3,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  TiB: 1024 ** 4,
};

/** "7.9 MB" (go-humanize, SI) -> 7900000; "12 kB"; "512 B"; "1.2 MiB". */
export function parseBytes(text: string): number {
  const m = /^([\d.]+)\s*([A-Za-z]+)?$/.exec(text.trim());
  if (!m) throw new TalosParseError(`"${text}" is not a size`, text);
  const unit = m[2] ?? "B";
  const mult = UNITS[unit];
  if (mult === undefined) throw new TalosParseError(`"${text}" has an unknown size unit`, text);
  return Math.round(Number(m[1]) * mult);
}

function asRecord(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

// ---------------------------------------------------------------------------------------------------------------
// service

export interface ServiceDetail {
  node: string;
  id: string;
  state: string;
  health: string;
  events: string[];
}

/**
 * `talosctl service <id>` prints one `KEY   value` block per node (NODE, ID, STATE, HEALTH, EVENTS with further
 * event lines indented under it).
 */
export function parseServiceDetail(text: string): ServiceDetail[] {
  const out: ServiceDetail[] = [];
  let cur: ServiceDetail | undefined;
  let inEvents = false;
  for (const raw of text.split("\n")) {
    if (!raw.trim()) continue;
    const m = /^([A-Z]+)\s+(.*)$/.exec(raw);
    if (m && !/^\s/.test(raw)) {
      const [, key, value] = m as unknown as [string, string, string];
      inEvents = false;
      if (key === "NODE") {
        cur = { node: value.trim(), id: "", state: "", health: "", events: [] };
        out.push(cur);
        continue;
      }
      if (!cur) {
        cur = { node: "", id: "", state: "", health: "", events: [] };
        out.push(cur);
      }
      if (key === "ID") cur.id = value.trim();
      else if (key === "STATE") cur.state = value.trim();
      else if (key === "HEALTH") cur.health = value.trim();
      else if (key === "EVENTS") {
        cur.events.push(value.trim());
        inEvents = true;
      }
    } else if (inEvents && cur) cur.events.push(raw.trim());
  }
  return out;
}
