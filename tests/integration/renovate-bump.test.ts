/**
 * What a Renovate pull request does to this repo, done to a copy of it: the next patch of every pinned version (each
 * `# renovate:` pin of .mise.toml and talos/talenv.yaml, and every HelmRelease chart). A supported bump must pass
 * validate and the tests that depend on versions, run in the copy; an unsupported one (a Kubernetes minor the pinned
 * Talos release does not run) must give validate's finding at the pin, not a crashed test.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadRepo } from "../../lib/repo/model.ts";
import { talosSupportsKubernetes } from "../../lib/talos/versions.ts";

const ROOT = path.resolve(import.meta.dir, "../..");
/** Set in the copy's own test run, so this file does not start itself again there. */
const NESTED = process.env.HOMEOPS_RENOVATE_BUMP === "1";

/** The tests whose expectations follow the pinned versions (they must read them from the repo, not as literals). */
const VERSION_TESTS = [
  "tests/unit/repo-model.test.ts",
  "tests/unit/checks.fixtures.test.ts",
  "tests/scripts/cluster-status.test.ts",
  "tests/scripts/talos-k8s-extensions.test.ts",
  "tests/scripts/talos-rolling.test.ts",
];
const VERSION_TEST_NAMES = [
  "the model of this repo",
  "versions-",
  "talos-kubernetes-version",
  "undefined-talenv",
  "cluster-status > healthy",
  "talos-upgrade",
].join("|");

const copies: string[] = [];
afterAll(() => {
  for (const c of copies) rmSync(c, { recursive: true, force: true });
}, 60_000); // whole repo copies: seconds to remove on a loaded machine

/** A copy of the working tree (what git tracks or would track), node_modules linked, its own git so .gitignore holds. */
function copyRepo(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "home-ops-renovate-"));
  copies.push(dir);
  const ls = Bun.spawnSync(["git", "ls-files", "-co", "--exclude-standard", "-z"], { cwd: ROOT });
  // node_modules is linked below (a checkout whose node_modules is itself a link lists it as a file)
  for (const rel of ls.stdout.toString().split("\0").filter((r) => r && r !== "node_modules")) {
    const from = path.join(ROOT, rel);
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    try {
      cpSync(from, path.join(dir, rel));
    } catch {
      // listed but deleted in the working tree
    }
  }
  symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
  // the reference data some tests read sits beside the repo
  const shared = path.resolve(ROOT, "../shared");
  try {
    symlinkSync(shared, path.join(path.dirname(dir), "shared"));
  } catch {
    // there already, or no shared/ here: those tests skip as they do in a clean clone
  }
  Bun.spawnSync(["git", "init", "-q", dir]);
  return dir;
}

const nextPatch = (v: string) => v.replace(/(\d+)(?!.*\d)/, (p) => String(Number(p) + 1));

interface Bump {
  file: string;
  line: number;
  from: string;
  to: string;
}

/** Replaces `from` on a 1-based line of a file with `to`; the line must hold it. */
function editLine(dir: string, b: Bump): void {
  const file = path.join(dir, b.file);
  const lines = readFileSync(file, "utf8").split("\n");
  const text = lines[b.line - 1] ?? "";
  if (!text.includes(b.from)) throw new Error(`${b.file}:${b.line} does not hold ${b.from}: ${JSON.stringify(text)}`);
  lines[b.line - 1] = text.replace(b.from, b.to);
  writeFileSync(file, lines.join("\n"));
}

/** Every pin Renovate would move, each to its next patch: where it is and what it becomes. */
function patchBumps(dir: string): Bump[] {
  const model = loadRepo(dir);
  const bumps: Bump[] = [];
  for (const r of model.versions.renovate) {
    // a `# renovate:` comment: the version is on the next line (semver-like ones only: a digest or date is not bumped)
    if (!r.version || !/^v?\d+\.\d+\.\d+$/.test(r.version)) continue;
    if (!/^(\.mise\.toml|talos\/)/.test(r.source.file)) continue;
    bumps.push({ file: r.source.file, line: r.source.line + 1, from: r.version, to: nextPatch(r.version) });
  }
  const seen = new Set<string>();
  for (const h of model.helmReleases) {
    if (!h.version || !/^v?\d+\.\d+\.\d+$/.test(h.version)) continue;
    // the chart version is in the HelmRelease (`chart.spec.version`) or, with a chartRef, in its OCIRepository's tag
    const oci = model.fluxSources.find((s) => s.kind === "OCIRepository" && s.name === h.sourceRef.name);
    const [file, key, from] = h.sourceRef.kind === "OCIRepository" && oci ? [oci.source.file, "tag", oci.source.line] : [h.source.file, "version", h.source.line];
    const lines = readFileSync(path.join(dir, file), "utf8").split("\n");
    const pin = new RegExp(`^\\s+${key}:\\s*["']?${h.version.replace(/\./g, "\\.")}["']?\\s*$`);
    const at = lines.findIndex((l, i) => i >= from - 1 && pin.test(l));
    if (at < 0) throw new Error(`${file}: no ${key} line for ${h.chart} ${h.version}`);
    if (seen.has(`${file}:${at}`)) continue;
    seen.add(`${file}:${at}`);
    bumps.push({ file, line: at + 1, from: h.version, to: nextPatch(h.version) });
  }
  return bumps;
}

async function sh(argv: string[], cwd: string, env: Record<string, string> = {}) {
  const p = Bun.spawn(argv, { cwd, env: { ...process.env, NO_COLOR: "1", ...env }, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { stdout, stderr, code };
}

describe.skipIf(NESTED)("a Renovate update of every pinned version", () => {
  test("the next patch of Talos, Kubernetes, Flux, the tools and every chart: validate passes, the version tests pass", async () => {
    const dir = copyRepo();
    const before = loadRepo(dir).versions;
    const bumps = patchBumps(dir);
    for (const b of bumps) editLine(dir, b);
    // the pins that matter most were among them
    const after = loadRepo(dir).versions;
    expect(after.talos.value).toBe(nextPatch(before.talos.value));
    expect(after.kubernetes.value).toBe(nextPatch(before.kubernetes.value));
    expect(after.cilium.value).toBe(nextPatch(before.cilium.value));
    expect(after.flux.value).toBe(nextPatch(before.flux.value));
    expect(bumps.length).toBeGreaterThan(10);

    const v = await sh(["bun", "scripts/validate.ts", "--json"], dir);
    expect(v.stderr).not.toContain("error:");
    expect(JSON.parse(v.stdout).ok).toBe(true);
    expect(v.code).toBe(0);

    const t = await sh(["bun", "test", ...VERSION_TESTS, "-t", VERSION_TEST_NAMES], dir, { HOMEOPS_RENOVATE_BUMP: "1" });
    const failed = [...t.stderr.matchAll(/^\(fail\) (.*)$/gm)].map((m) => m[1]);
    expect(failed).toEqual([]);
    expect(t.stderr).toMatch(/^ *[1-9]\d* pass$/m);
    expect(t.code).toBe(0);
  }, 600_000);

  test("a Kubernetes minor the pinned Talos does not run: validate's finding at talenv, exit 1, no crash", async () => {
    const dir = copyRepo();
    const { versions } = loadRepo(dir);
    const [major, minor] = versions.kubernetes.value.replace(/^v/, "").split(".").map(Number) as [number, number];
    let m = minor + 1;
    while (talosSupportsKubernetes(versions.talos.value, `${major}.${m}.0`).ok && m < minor + 50) m++;
    const unsupported = `v${major}.${m}.0`;
    editLine(dir, { file: versions.kubernetes.source.file, line: versions.kubernetes.source.line, from: versions.kubernetes.value, to: unsupported });

    const v = await sh(["bun", "scripts/validate.ts", "--json"], dir);
    expect(v.code).toBe(1);
    const doc = JSON.parse(v.stdout);
    expect(doc.ok).toBe(false);
    const findings = doc.findings as Array<{ id: string; file: string; line: number }>;
    expect(findings.find((f) => f.id === "talos/kubernetes-version")).toMatchObject({
      file: versions.kubernetes.source.file,
      line: versions.kubernetes.source.line,
    });
    expect(v.stderr).not.toMatch(/\n\s+at /); // no stack trace
  }, 120_000);
});
