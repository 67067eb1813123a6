/**
 * Minimal IP arithmetic (v4 and v6 as bigint) for the emulated Cilium LB-IPAM and router. Deliberately its own
 * copy rather than lib/net: the simulation must not share code with what it tests.
 */

export type Family = 4 | 6;
export interface Addr {
  family: Family;
  value: bigint;
}

export function parseIp(text: string): Addr | undefined {
  const s = text.trim();
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) {
    const parts = s.split(".").map(Number);
    if (parts.some((p) => p > 255)) return undefined;
    return { family: 4, value: parts.reduce((acc, p) => (acc << 8n) | BigInt(p), 0n) };
  }
  if (!s.includes(":")) return undefined;
  let head = s;
  let tailV4: bigint | undefined;
  const lastColon = s.lastIndexOf(":");
  const maybeV4 = s.slice(lastColon + 1);
  if (maybeV4.includes(".")) {
    const v4 = parseIp(maybeV4);
    if (!v4 || v4.family !== 4) return undefined;
    tailV4 = v4.value;
    head = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split("::");
  if (halves.length > 2) return undefined;
  const groups = (part: string): string[] => (part === "" ? [] : part.split(":"));
  const left = groups(halves[0] ?? "");
  const right = halves.length === 2 ? groups(halves[1] ?? "") : [];
  const missing = 8 - left.length - right.length;
  if (halves.length === 1 ? left.length !== 8 : missing < 1) return undefined;
  const all = [...left, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...right];
  let value = 0n;
  for (const g of all) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    value = (value << 16n) | BigInt(parseInt(g, 16));
  }
  if (tailV4 !== undefined) value = (value & ~0xffffffffn) | tailV4;
  return { family: 6, value };
}

export function formatIp(a: Addr): string {
  if (a.family === 4) {
    const v = a.value;
    return [24n, 16n, 8n, 0n].map((shift) => String((v >> shift) & 255n)).join(".");
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((a.value >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952: compress the longest run (>= 2) of zero groups.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

export const bits = (f: Family): number => (f === 4 ? 32 : 128);

export interface Range {
  family: Family;
  first: bigint;
  last: bigint;
}

/** `10.0.0.0/24` -> its range; undefined when malformed. */
export function parseCidr(text: string): (Range & { prefix: number }) | undefined {
  const [ip, len] = text.trim().split("/");
  if (ip === undefined || len === undefined || !/^\d{1,3}$/.test(len)) return undefined;
  const a = parseIp(ip);
  const prefix = Number(len);
  if (!a || prefix > bits(a.family)) return undefined;
  const host = bits(a.family) - prefix;
  const mask = (1n << BigInt(host)) - 1n;
  return { family: a.family, first: a.value & ~mask, last: (a.value & ~mask) | mask, prefix };
}

export function inRange(r: Range, a: Addr): boolean {
  return a.family === r.family && a.value >= r.first && a.value <= r.last;
}

export function hostPrefix(a: Addr): string {
  return `${formatIp(a)}/${bits(a.family)}`;
}
