/**
 * IP math for pools, node VLANs and pod/service CIDRs, v4 and v6, on ipaddr.js. Addresses are handled as bigint
 * so IPv6 sizes and ranges are exact. Bad input throws InvalidAddressError (a ConfigError: exit 2) naming the value.
 */
import ipaddr from "ipaddr.js";
import { ConfigError } from "../cli/errors.ts";

export type Family = "ipv4" | "ipv6";

/** An inclusive address range of one family. Every CIDR, start-stop block and single IP becomes one. */
export interface IPRange {
  family: Family;
  start: bigint;
  end: bigint;
}

export class InvalidAddressError extends ConfigError {
  readonly input: string;
  constructor(input: string, reason: string, hint?: string) {
    super(`${JSON.stringify(input)} is not ${reason}`, hint);
    this.input = input;
  }
}

const BITS: Record<Family, number> = { ipv4: 32, ipv6: 128 };
export const bitsOf = (f: Family): number => BITS[f];

// ---------------------------------------------------------------------------------------------------------------
// Single addresses
// ---------------------------------------------------------------------------------------------------------------

/** Parses a dotted-quad IPv4 or an IPv6 address (no zone, no prefix). Rejects ipaddr.js' lenient forms ("10", "0x1.2"). */
export function parseIP(input: string): ipaddr.IPv4 | ipaddr.IPv6 {
  const s = typeof input === "string" ? input.trim() : String(input);
  if (ipaddr.IPv4.isValidFourPartDecimal(s)) return ipaddr.IPv4.parse(s);
  if (s.includes(":") && !s.includes("%") && ipaddr.IPv6.isValid(s)) return ipaddr.IPv6.parse(s);
  throw new InvalidAddressError(input, "an IPv4 or IPv6 address", "write IPv4 as a.b.c.d and IPv6 as e.g. fd00::1");
}

export function isIP(input: string): boolean {
  try {
    parseIP(input);
    return true;
  } catch {
    return false;
  }
}

export function familyOfIP(addr: ipaddr.IPv4 | ipaddr.IPv6): Family {
  return addr.kind() === "ipv4" ? "ipv4" : "ipv6";
}

/** Family of an address, CIDR or `start-stop` range string. */
export function family(input: string): Family {
  return parseBlock(input).family;
}

export function ipToBigInt(addr: ipaddr.IPv4 | ipaddr.IPv6 | string): bigint {
  const a = typeof addr === "string" ? parseIP(addr) : addr;
  let n = 0n;
  for (const b of a.toByteArray()) n = (n << 8n) | BigInt(b);
  return n;
}

export function bigIntToIP(n: bigint, fam: Family): string {
  const bytes: number[] = [];
  const len = fam === "ipv4" ? 4 : 16;
  if (n < 0n || n >= 1n << BigInt(len * 8)) throw new InvalidAddressError(String(n), `a valid ${fam} number`);
  for (let i = len - 1; i >= 0; i--) bytes[i] = Number((n >> BigInt((len - 1 - i) * 8)) & 0xffn);
  return ipaddr.fromByteArray(bytes).toString();
}

/** Canonical text of an address (IPv6 compressed, lower case). */
export function normaliseIP(input: string): string {
  return parseIP(input).toString();
}

// ---------------------------------------------------------------------------------------------------------------
// CIDRs and ranges
// ---------------------------------------------------------------------------------------------------------------

export interface ParsedCidr extends IPRange {
  prefix: number;
  /** Canonical network text, e.g. 172.29.52.0/24 */
  cidr: string;
}

/**
 * Parses `addr/len`. With `allowHostBits` an interface address like 172.29.51.11/24 is accepted and masked to its
 * network; without it such input is an error that names the network meant.
 */
export function parseCidr(input: string, opts: { allowHostBits?: boolean } = {}): ParsedCidr {
  const s = typeof input === "string" ? input.trim() : String(input);
  const slash = s.indexOf("/");
  if (slash < 0) throw new InvalidAddressError(input, "a CIDR (address/prefix-length)", "e.g. 172.29.52.0/24 or fd00::/64");
  const addr = parseIP(s.slice(0, slash));
  const fam = familyOfIP(addr);
  const lenText = s.slice(slash + 1);
  const bits = BITS[fam];
  if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > bits)
    throw new InvalidAddressError(input, `a CIDR: the prefix length must be 0-${bits} for ${fam}`);
  const prefix = Number(lenText);
  const n = ipToBigInt(addr);
  const hostBits = BigInt(bits - prefix);
  const start = (n >> hostBits) << hostBits;
  const end = start + (1n << hostBits) - 1n;
  const cidr = `${bigIntToIP(start, fam)}/${prefix}`;
  if (start !== n && !opts.allowHostBits)
    throw new InvalidAddressError(input, `a network CIDR: it has host bits set (did you mean ${cidr}?)`, `write ${cidr}`);
  return { family: fam, start, end, prefix, cidr };
}

/** The network of an address and prefix length: ("172.29.51.11", 24) -> "172.29.51.0/24". */
export function cidrNetwork(ip: string, prefix: number): string {
  return parseCidr(`${ip}/${prefix}`, { allowHostBits: true }).cidr;
}

/** An inclusive start-stop range; both ends one family, start <= stop. */
export function parseRange(startText: string, stopText: string): IPRange {
  const a = parseIP(startText);
  const b = parseIP(stopText);
  const fam = familyOfIP(a);
  if (fam !== familyOfIP(b))
    throw new InvalidAddressError(`${startText}-${stopText}`, "a range: start and stop are of different families");
  const start = ipToBigInt(a);
  const end = ipToBigInt(b);
  if (start > end) throw new InvalidAddressError(`${startText}-${stopText}`, "a range: start is after stop", "swap start and stop");
  return { family: fam, start, end };
}

/** Accepts "a.b.c.d/n", "start-stop" and a single address (one-address range). */
export function parseBlock(input: string): IPRange {
  const s = typeof input === "string" ? input.trim() : String(input);
  if (s.includes("/")) return toRange(parseCidr(s));
  const dash = s.indexOf("-");
  if (dash > 0) return parseRange(s.slice(0, dash).trim(), s.slice(dash + 1).trim());
  const n = ipToBigInt(parseIP(s));
  return { family: familyOfIP(parseIP(s)), start: n, end: n };
}

/** Cilium pool block shape: `{cidr}` or `{start, stop}` (a lone start is one address, like Cilium). */
export function blockRange(b: { cidr?: string; start?: string; stop?: string }): IPRange {
  if (b.cidr !== undefined) return toRange(parseCidr(b.cidr));
  if (b.start !== undefined) return parseRange(b.start, b.stop ?? b.start);
  throw new InvalidAddressError(JSON.stringify(b), "a pool block: it needs cidr or start (+ stop)");
}

const toRange = (c: IPRange): IPRange => ({ family: c.family, start: c.start, end: c.end });

export function size(r: IPRange | string): bigint {
  const x = typeof r === "string" ? parseBlock(r) : r;
  return x.end - x.start + 1n;
}

/** Whether `inner` (range, CIDR, range text or single address) lies wholly inside `outer`. Different families: false. */
export function contains(outer: IPRange | string, inner: IPRange | string): boolean {
  const o = typeof outer === "string" ? parseBlock(outer) : outer;
  const i = typeof inner === "string" ? parseBlock(inner) : inner;
  return o.family === i.family && o.start <= i.start && i.end <= o.end;
}

export function overlaps(a: IPRange | string, b: IPRange | string): boolean {
  const x = typeof a === "string" ? parseBlock(a) : a;
  const y = typeof b === "string" ? parseBlock(b) : b;
  return x.family === y.family && x.start <= y.end && y.start <= x.end;
}

/** The overlap of two ranges, or undefined. */
export function intersection(a: IPRange, b: IPRange): IPRange | undefined {
  if (!overlaps(a, b)) return undefined;
  return { family: a.family, start: a.start > b.start ? a.start : b.start, end: a.end < b.end ? a.end : b.end };
}

/** Smallest list of CIDRs covering exactly the range. */
export function rangeToCidrs(r: IPRange | string): string[] {
  const x = typeof r === "string" ? parseBlock(r) : r;
  const bits = BigInt(BITS[x.family]);
  const out: string[] = [];
  let cur = x.start;
  while (cur <= x.end) {
    // Largest block aligned at cur that fits in the remaining range.
    let host = 0n;
    while (host < bits) {
      const next = host + 1n;
      const blockSize = 1n << next;
      if (cur % blockSize !== 0n || cur + blockSize - 1n > x.end) break;
      host = next;
    }
    out.push(`${bigIntToIP(cur, x.family)}/${bits - host}`);
    cur += 1n << host;
  }
  return out;
}

export function cidrToRange(cidr: string): IPRange {
  return toRange(parseCidr(cidr));
}

/** Text of a range: "start-stop", or the single address. */
export function formatRange(r: IPRange): string {
  return r.start === r.end ? bigIntToIP(r.start, r.family) : `${bigIntToIP(r.start, r.family)}-${bigIntToIP(r.end, r.family)}`;
}

/**
 * Every address of the range as a host route (/32 or /128). Refuses ranges larger than `limit` (default 65536)
 * rather than allocating millions of strings for an IPv6 /64.
 */
export function hostRoutes(r: IPRange | string, limit = 65536): string[] {
  const x = typeof r === "string" ? parseBlock(r) : r;
  const n = size(x);
  if (n > BigInt(limit))
    throw new InvalidAddressError(formatRange(x), `small enough to list as host routes (${n} addresses, limit ${limit})`, "list its CIDRs with rangeToCidrs instead");
  const out: string[] = [];
  const len = BITS[x.family];
  for (let i = x.start; i <= x.end; i++) out.push(`${bigIntToIP(i, x.family)}/${len}`);
  return out;
}

/** The `i`-th address of a range (0-based), e.g. the first usable LB IP. */
export function nth(r: IPRange, i: bigint | number): string {
  const v = r.start + BigInt(i);
  if (v > r.end || v < r.start) throw new InvalidAddressError(String(i), `an index inside ${formatRange(r)}`);
  return bigIntToIP(v, r.family);
}

/** Finds every pair of overlapping named ranges (sorted sweep: O(n log n) plus the overlaps reported). */
export function findOverlaps<T extends { range: IPRange }>(items: readonly T[]): [T, T][] {
  const sorted = [...items].sort((a, b) =>
    a.range.family !== b.range.family ? (a.range.family < b.range.family ? -1 : 1) : a.range.start < b.range.start ? -1 : a.range.start > b.range.start ? 1 : 0,
  );
  const out: [T, T][] = [];
  const active: T[] = [];
  for (const it of sorted) {
    for (let k = active.length - 1; k >= 0; k--) {
      const a = active[k]!;
      if (a.range.family !== it.range.family || a.range.end < it.range.start) active.splice(k, 1);
      else out.push([a, it]);
    }
    active.push(it);
  }
  return out;
}
