/**
 * Real BGP configurations (tests/fixtures/bgp: public home-ops repos and their history, v1 and v2, working and
 * broken), each labelled with what Cilium 1.17 announces and why. Every fixture runs through validate's checks (bgp
 * and ipam families on the loaded repo) and bgp-verify's repo-only diagnosis (verifyBgp on the same repo), and:
 *  - bgp-verify's expected, unblocked routes are exactly the labelled announcements;
 *  - every labelled cause is named by validate on that object;
 *  - the two views agree: for every object both name, the same causes; every cause bgp-verify names, validate
 *    names on one of the objects bgp-verify blames.
 */
import { describe, expect, test } from "bun:test";
import { bgpCheck } from "../../lib/checks/bgp.ts";
import { ipamCheck } from "../../lib/checks/ipam.ts";
import { inputsFromModel, ruleInfo, ruleOfFindingId, verifyBgp, expectedAdvertisements, type Diagnosis } from "../../lib/bgp/index.ts";
import { loadRepo } from "../../lib/repo/model.ts";
import type { ClusterModel } from "../../lib/repo/model.ts";
import { cleanup, fixtureRepo, loadBgpFixtures, type BgpFixture } from "../fixtures/bgp/harness.ts";

const fixtures = loadBgpFixtures();

/** The object a finding sits in: the last document of its file that starts at or above its line. */
function objectAt(model: ClusterModel, file: string, line: number): string | undefined {
  const docs = model.documents.filter((d) => d.file === file && d.line <= line).sort((a, b) => b.line - a.line);
  const d = docs[0];
  if (!d?.kind) return undefined;
  if (d.kind === "HelmRelease") return "HelmRelease/cilium";
  return d.kind === "Service" ? `Service/${d.namespace ?? "default"}/${d.name}` : `${d.kind}/${d.name}`;
}

const ref = (o: { kind: string; name: string }) => `${o.kind}/${o.name}`;

export interface Views {
  /** object -> causes, from validate's findings */
  validate: Map<string, Set<string>>;
  /** bgp-verify's diagnoses: cause and the objects it blames */
  verify: Array<{ cause: string; objects: string[] }>;
  announced: string[];
  nodes: string[];
}

function views(f: BgpFixture): Views {
  const dir = fixtureRepo(f);
  try {
    const model = loadRepo(dir, { mode: "lenient" });
    const validate = new Map<string, Set<string>>();
    for (const x of [...bgpCheck(model), ...ipamCheck(model)]) {
      const rule = ruleOfFindingId(x.id);
      if (!rule) continue;
      const obj = objectAt(model, x.file, x.line);
      if (!obj) throw new Error(`${x.id} at ${x.file}:${x.line} sits in no object`);
      const set = validate.get(obj) ?? new Set<string>();
      set.add(String(ruleInfo(rule).cause));
      validate.set(obj, set);
    }
    const inputs = inputsFromModel(model);
    const r = verifyBgp(inputs);
    const ds: Diagnosis[] = [];
    for (const m of r.missing) ds.push({ cause: m.cause, title: m.title, message: m.message, fix: m.fix, objects: m.objects });
    for (const i of r.serviceIssues) ds.push(i.diagnosis);
    for (const w of r.warnings) ds.push(w.diagnosis);
    const verify = ds.filter((d) => d.objects.length).map((d) => ({ cause: String(d.cause), objects: d.objects.map(ref) }));
    const announced = expectedAdvertisements(inputs)
      .expectations.filter((e) => !e.blocked)
      .map((e) => `${e.node} ${e.slot.peerAddress} ${e.prefix}`);
    return { validate, verify, announced: [...new Set(announced)].sort(), nodes: model.nodes.map((n) => n.hostname) };
  } finally {
    cleanup(dir);
  }
}

test("there are BGP fixtures from public repos: v1 and v2, working and broken", () => {
  expect(fixtures.length).toBeGreaterThanOrEqual(8);
  for (const v of ["v1", "v2"]) for (const verdict of ["working", "broken"]) expect(fixtures.some((f) => f.version === v && f.verdict === verdict)).toBe(true);
  for (const f of fixtures) {
    expect(f.source.repo).toMatch(/^[\w.-]+\/[\w.-]+$/);
    expect(f.source.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(f.source.licence.length).toBeGreaterThan(2);
    expect(f.why.length).toBeGreaterThan(40);
    // a broken configuration names what breaks it, a working one does not
    expect(f.causes.length > 0).toBe(f.verdict === "broken");
  }
});

describe("validate and bgp-verify --repo-only agree with every label and with each other", () => {
  for (const f of fixtures) {
    test(`${f.name} (${f.version}, ${f.verdict})`, () => {
      const v = views(f);
      const want = f.announces.flatMap((a) => (a.nodes === "all" ? v.nodes : a.nodes).map((n) => `${n} ${a.peer} ${a.prefix}`));
      expect(v.announced).toEqual([...new Set(want)].sort());
      for (const c of f.causes) expect([...(v.validate.get(c.object) ?? [])], `validate on ${c.object}`).toContain(String(c.cause));
      for (const c of f.causes) expect(v.verify.some((d) => d.cause === String(c.cause) && d.objects.includes(c.object)) || !v.verify.some((d) => d.objects.includes(c.object)), `bgp-verify on ${c.object}`).toBe(true);
      // agreement
      for (const d of v.verify) expect(d.objects.some((o) => v.validate.get(o)?.has(d.cause)), `validate names cause ${d.cause} on one of ${d.objects.join(", ")}`).toBe(true);
      for (const [obj, causes] of v.validate) {
        const named = v.verify.filter((d) => d.objects[0] === obj);
        if (named.length === 0) continue;
        for (const c of causes) expect(named.map((d) => d.cause), `bgp-verify's causes on ${obj}`).toContain(c);
      }
    }, 30_000);
  }
});
