/** The simulated API's copy of stored objects gives exactly what a JSON round trip (the wire format) gives. */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import path from "node:path";
import { Glob } from "bun";
import { parseAllDocuments } from "yaml";
import { clone, SimStore } from "../../lib/sim/store.ts";

const ROOT = path.resolve(import.meta.dir, "../..");
const viaJson = (v: unknown) => JSON.parse(JSON.stringify(v));

describe("clone", () => {
  test("every object of the repo's kubernetes/ copies to what JSON gives, and deep", () => {
    let n = 0;
    for (const f of new Glob("kubernetes/**/*.yaml").scanSync(ROOT))
      for (const d of parseAllDocuments(readFileSync(path.join(ROOT, f), "utf8"))) {
        const v = d.toJS();
        if (!v || typeof v !== "object") continue;
        const c = clone(v);
        expect(c).toStrictEqual(viaJson(v));
        expect(c === v).toBe(false);
        n += 1;
      }
    expect(n).toBeGreaterThan(50);
  });

  test("JSON's edge cases: undefined members dropped, undefined items null, dates as text, non-finite numbers null", () => {
    const when = new Date("2026-01-02T03:04:05Z");
    const v = { a: undefined, b: [1, undefined, () => 1, NaN], c: when, d: { e: Infinity, f: "x", g: null }, h: [] };
    expect(clone(v)).toStrictEqual(viaJson(v));
    expect(clone(undefined)).toBeUndefined();
    expect(clone("text")).toBe("text");
  });

  test("a change to the copy leaves the original alone", () => {
    const v = { metadata: { labels: { a: "1" } }, spec: { ports: [{ port: 80 }] } };
    const c = clone(v);
    c.metadata.labels.a = "2";
    c.spec.ports[0]!.port = 81;
    expect(v).toEqual({ metadata: { labels: { a: "1" } }, spec: { ports: [{ port: 80 }] } });
  });
});

describe("peek and peekList: the stored objects themselves, for readers that only look", () => {
  const store = () => {
    const s = new SimStore();
    for (const ns of ["a", "b"]) s.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
    for (const [ns, name] of [["b", "two"], ["a", "one"], ["a", "three"]] as const)
      s.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: ns }, data: { k: name } });
    return s;
  };

  test("what get and list give, in list's order and namespace filter", () => {
    const s = store();
    expect(s.peek("configmaps", "one", "a")).toEqual(s.get("configmaps", "one", "a"));
    expect(s.peek("configmaps", "one", "b")).toBeUndefined();
    expect(s.peekList("configmaps")).toEqual(s.list("configmaps").items);
    expect(s.peekList("configmaps", "a")).toEqual(s.list("configmaps", { namespace: "a" }).items);
    expect(s.peekList("nosuchkinds")).toEqual([]);
  });

  test("frozen: a reader that changes one fails loudly and the store keeps its object", () => {
    const s = store();
    const o = s.peek("configmaps", "one", "a") as unknown as { data: Record<string, string> };
    expect(() => {
      o.data.k = "changed";
    }).toThrow();
    expect(s.get<{ apiVersion: string; kind: string; metadata: { name: string }; data: Record<string, string> }>("configmaps", "one", "a").data.k).toBe("one");
  });
});
