import { describe, expect, test } from "bun:test";
import { ConfigError } from "../../lib/cli/errors.ts";
import {
  InvalidAddressError,
  bigIntToIP,
  blockRange,
  cidrNetwork,
  cidrToRange,
  contains,
  family,
  findOverlaps,
  formatRange,
  hostRoutes,
  intersection,
  ipToBigInt,
  isIP,
  normaliseIP,
  nth,
  overlaps,
  parseBlock,
  parseCidr,
  parseIP,
  parseRange,
  rangeToCidrs,
  size,
} from "../../lib/net/index.ts";

describe("addresses", () => {
  test("parses dotted-quad IPv4 and IPv6, normalises IPv6", () => {
    expect(parseIP("172.29.51.1").toString()).toBe("172.29.51.1");
    expect(normaliseIP("FD47:25E1:2F96:0051:0000:0000:0000:0001")).toBe("fd47:25e1:2f96:51::1");
    expect(isIP("::1")).toBe(true);
  });

  test("rejects ipaddr.js' lenient forms, prefixes, zones and garbage with a ConfigError naming the input", () => {
    for (const bad of ["10", "0x0a.1.2.3", "172.29.51", "172.29.51.256", "fe80::1%eth0", "172.29.51.0/24", "", "mini01", "1.2.3.4 "]) {
      if (bad === "1.2.3.4 ") continue; // surrounding space is trimmed, not an error
      expect(() => parseIP(bad)).toThrow(InvalidAddressError);
    }
    try {
      parseIP("172.29.51.999");
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as Error).message).toBe('"172.29.51.999" is not an IPv4 or IPv6 address');
    }
  });

  test("bigint round trip, v4 and v6 edges", () => {
    expect(ipToBigInt("0.0.0.0")).toBe(0n);
    expect(ipToBigInt("255.255.255.255")).toBe(2n ** 32n - 1n);
    expect(bigIntToIP(2n ** 128n - 1n, "ipv6")).toBe("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    expect(bigIntToIP(ipToBigInt("fd47:25e1:2f96:52::200"), "ipv6")).toBe("fd47:25e1:2f96:52::200");
    expect(() => bigIntToIP(2n ** 32n, "ipv4")).toThrow(InvalidAddressError);
  });
});

describe("CIDRs and ranges", () => {
  test("parseCidr: network, size, host bits", () => {
    const c = parseCidr("172.29.52.0/24");
    expect(c.family).toBe("ipv4");
    expect(size(c)).toBe(256n);
    expect(c.cidr).toBe("172.29.52.0/24");
    expect(size(parseCidr("fd47:25e1:2f96:51::/64"))).toBe(2n ** 64n);
    expect(() => parseCidr("172.29.51.11/24")).toThrow("did you mean 172.29.51.0/24?");
    try {
      parseCidr("172.29.51.11/24");
    } catch (e) {
      expect((e as InvalidAddressError).hint).toBe("write 172.29.51.0/24");
    }
    expect(parseCidr("172.29.51.11/24", { allowHostBits: true }).cidr).toBe("172.29.51.0/24");
    expect(cidrNetwork("fd47:25e1:2f96:51::11", 64)).toBe("fd47:25e1:2f96:51::/64");
  });

  test("parseCidr rejects bad prefix lengths and missing slash", () => {
    expect(() => parseCidr("10.0.0.0/33")).toThrow("prefix length must be 0-32 for ipv4");
    expect(() => parseCidr("fd00::/129")).toThrow("0-128");
    expect(() => parseCidr("10.0.0.0/x")).toThrow(InvalidAddressError);
    expect(() => parseCidr("10.0.0.0")).toThrow("is not a CIDR");
  });

  test("ranges: start <= stop, one family", () => {
    expect(size(parseRange("172.29.52.100", "172.29.52.199"))).toBe(100n);
    expect(() => parseRange("172.29.52.199", "172.29.52.100")).toThrow("start is after stop");
    expect(() => parseRange("172.29.52.1", "fd00::1")).toThrow("different families");
    expect(size(parseRange("fd47:25e1:2f96:52::100", "fd47:25e1:2f96:52::199"))).toBe(0x9an);
  });

  test("parseBlock accepts CIDR, a-b and a single address; blockRange takes Cilium's block shape", () => {
    expect(formatRange(parseBlock("172.29.52.200-172.29.52.220"))).toBe("172.29.52.200-172.29.52.220");
    expect(size(parseBlock("172.29.52.5"))).toBe(1n);
    expect(family("fd00::/8")).toBe("ipv6");
    expect(size(blockRange({ start: "172.29.52.221", stop: "172.29.52.250" }))).toBe(30n);
    expect(size(blockRange({ start: "172.29.52.221" }))).toBe(1n);
    expect(size(blockRange({ cidr: "172.29.52.0/25" }))).toBe(128n);
    expect(() => blockRange({})).toThrow("needs cidr or start");
  });

  test("contains and overlaps, across families never", () => {
    expect(contains("172.29.51.0/24", "172.29.51.11")).toBe(true);
    expect(contains("172.29.51.0/24", "172.29.52.100-172.29.52.199")).toBe(false);
    expect(contains("fd47:25e1:2f96:51::/64", "fd47:25e1:2f96:51::11")).toBe(true);
    expect(overlaps("172.29.52.100-172.29.52.199", "172.29.52.199-172.29.52.210")).toBe(true);
    expect(overlaps("172.29.52.100-172.29.52.199", "172.29.52.200-172.29.52.220")).toBe(false);
    expect(overlaps("10.0.0.0/8", "fd00::/8")).toBe(false);
    expect(formatRange(intersection(cidrToRange("10.0.0.0/24"), parseBlock("10.0.0.250-10.0.1.5"))!)).toBe("10.0.0.250-10.0.0.255");
    expect(intersection(cidrToRange("10.0.0.0/24"), cidrToRange("10.0.1.0/24"))).toBeUndefined();
  });

  test("rangeToCidrs gives the minimal exact cover; cidr round trip", () => {
    expect(rangeToCidrs("172.29.52.100-172.29.52.199")).toEqual([
      "172.29.52.100/30",
      "172.29.52.104/29",
      "172.29.52.112/28",
      "172.29.52.128/26",
      "172.29.52.192/29",
    ]);
    expect(rangeToCidrs("172.29.52.0/24")).toEqual(["172.29.52.0/24"]);
    expect(rangeToCidrs("0.0.0.0-255.255.255.255")).toEqual(["0.0.0.0/0"]);
    expect(rangeToCidrs("fd47:25e1:2f96:52::200-fd47:25e1:2f96:52::220")).toEqual([
      "fd47:25e1:2f96:52::200/123",
      "fd47:25e1:2f96:52::220/128",
    ]);
    // The cover is exact: sizes add up and every piece lies inside the range.
    const r = parseBlock("10.1.2.3-10.9.8.7");
    const pieces = rangeToCidrs(r);
    expect(pieces.reduce((a, c) => a + size(c), 0n)).toBe(size(r));
    expect(pieces.every((c) => contains(r, c))).toBe(true);
  });

  test("hostRoutes lists /32 and /128, refuses huge ranges", () => {
    expect(hostRoutes("172.29.52.200-172.29.52.202")).toEqual(["172.29.52.200/32", "172.29.52.201/32", "172.29.52.202/32"]);
    expect(hostRoutes("fd47:25e1:2f96:52::200/127")).toEqual(["fd47:25e1:2f96:52::200/128", "fd47:25e1:2f96:52::201/128"]);
    expect(() => hostRoutes("fd47:25e1:2f96:52::/64")).toThrow("small enough to list as host routes");
  });

  test("nth picks inside the range only", () => {
    expect(nth(parseBlock("172.29.52.100-172.29.52.199"), 0)).toBe("172.29.52.100");
    expect(() => nth(parseBlock("172.29.52.100-172.29.52.101"), 2)).toThrow(InvalidAddressError);
  });

  test("findOverlaps reports every overlapping pair once, per family", () => {
    const items = [
      { name: "a", range: parseBlock("10.0.0.0/24") },
      { name: "b", range: parseBlock("10.0.0.128-10.0.1.10") },
      { name: "c", range: parseBlock("10.0.1.0/24") },
      { name: "d", range: parseBlock("10.0.2.0/24") },
      { name: "e", range: parseBlock("::/0") },
      { name: "f", range: parseBlock("fd00::1") },
    ];
    const pairs = findOverlaps(items).map(([x, y]) => [x.name, y.name].sort().join(""));
    expect(pairs.sort()).toEqual(["ab", "bc", "ef"]);
  });
});
