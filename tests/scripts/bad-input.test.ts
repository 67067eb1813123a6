/**
 * The bad-input corpus: inputs a cluster would reject, that escape the repo, or that are not text at all, and bad
 * flags and files given to the operational scripts. Each case gives its finding (validate: at the file and line
 * it names) or, for a script, one error line (and a hint) with exit 2 — never a stack trace, a hang or exit 0.
 * The repo cases are built from a temporary copy of this repo; the app they break is picked from the repo's own
 * Flux Kustomizations, so the corpus follows the repo as it changes.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { validateRepo } from "../../lib/checks/index.ts";
import type { Script, FlagDefs } from "../../lib/cli/index.ts";
import { loadRepo } from "../../lib/repo/load.ts";
import { cleanup, copyRepo } from "../fixtures/broken/harness.ts";
import { ROOT } from "./talos-sim-harness.ts";

const model = loadRepo(ROOT);
/** an app: its Flux Kustomization (ks.yaml) points at a folder with a kustomization.yaml and a helmrelease.yaml */
const app = model.kustomizations.find(
  (k) =>
    k.source.file.endsWith("/ks.yaml") &&
    k.resolvedPath !== undefined &&
    existsSync(path.join(ROOT, k.resolvedPath, "kustomization.yaml")) &&
    existsSync(path.join(ROOT, k.resolvedPath, "helmrelease.yaml")),
)!;
const KS = app.source.file;
const DIR = app.resolvedPath!;
const APPK = `${DIR}/kustomization.yaml`;
const HR = `${DIR}/helmrelease.yaml`;

type Mutate = (dir: string) => void;

function editDoc(file: string, kind: string, change: (o: any) => void): Mutate {
  return (dir) => {
    const abs = path.join(dir, file);
    const docs = parseAllDocuments(readFileSync(abs, "utf8")).map((d) => d.toJS());
    const target = docs.find((d) => d?.kind === kind);
    if (!target) throw new Error(`no ${kind} in ${file}`);
    change(target);
    writeFileSync(abs, docs.map((d) => "---\n" + stringify(d)).join(""));
  };
}
const ks = (change: (spec: any) => void) => editDoc(KS, "Kustomization", (o) => change(o.spec));
const hr = (change: (spec: any) => void) => editDoc(HR, "HelmRelease", (o) => change(o.spec));
const kustomization = (change: (o: any) => void): Mutate => (dir) => {
  const abs = path.join(dir, APPK);
  const o = parseAllDocuments(readFileSync(abs, "utf8"))[0]!.toJS();
  change(o);
  writeFileSync(abs, stringify(o));
};
const addResource = (entry: string) => kustomization((o) => (o.resources = [...(o.resources ?? []), entry]));
const write = (file: string, content: string | Uint8Array): Mutate => (dir) => writeFileSync(path.join(dir, file), content);
const append = (file: string, content: string | Uint8Array): Mutate => (dir) =>
  writeFileSync(path.join(dir, file), Buffer.concat([readFileSync(path.join(dir, file)), Buffer.from(content)]));
const both = (...m: Mutate[]): Mutate => (dir) => m.forEach((f) => f(dir));
const symlink = (target: string, at: string): Mutate => (dir) => symlinkSync(target, path.join(dir, at));
const fifo = (at: string): Mutate => (dir) => execFileSync("mkfifo", [path.join(dir, at)]);

interface RepoCase {
  name: string;
  mutate: Mutate;
  id: string | RegExp;
  file?: string;
  /** the finding carries a real line (not 0) */
  line?: boolean;
}

const CASES: RepoCase[] = [
  // Flux: paths and durations the API or the controller rejects
  { name: "Flux spec.path climbing out to /etc", mutate: ks((s) => (s.path = "../../../../../../etc")), id: "flux/path-outside-repo", file: KS, line: true },
  { name: "Flux spec.path ../outside", mutate: ks((s) => (s.path = "../outside")), id: "flux/path-outside-repo", file: KS, line: true },
  { name: "Flux spec.path in and out again", mutate: ks((s) => (s.path = "./kubernetes/../../x")), id: "flux/path-outside-repo", file: KS, line: true },
  { name: "Flux spec.path to nowhere", mutate: ks((s) => (s.path = "./kubernetes/no/such/folder")), id: "flux/path-missing", file: KS, line: true },
  { name: "interval: banana", mutate: ks((s) => (s.interval = "banana")), id: "flux/bad-duration", file: KS, line: true },
  { name: "interval as a bare number", mutate: ks((s) => (s.interval = 5)), id: "flux/bad-duration", file: KS, line: true },
  { name: "interval with a space", mutate: ks((s) => (s.interval = "1 h")), id: "flux/bad-duration", file: KS, line: true },
  { name: "negative retryInterval", mutate: ks((s) => (s.retryInterval = "-5m")), id: "flux/bad-duration", file: KS, line: true },
  { name: "empty timeout", mutate: ks((s) => (s.timeout = "")), id: "flux/bad-duration", file: KS, line: true },
  { name: "days are not a Go duration", mutate: ks((s) => (s.interval = "1d")), id: "flux/bad-duration", file: KS, line: true },
  { name: "HelmRelease interval: forever", mutate: hr((s) => (s.interval = "forever")), id: "flux/bad-duration", file: HR, line: true },
  { name: "HelmRelease install.timeout in words", mutate: hr((s) => (s.install = { ...(s.install ?? {}), timeout: "ten minutes" })), id: "flux/bad-duration", file: HR, line: true },
  { name: "dependsOn a Kustomization that does not exist", mutate: ks((s) => (s.dependsOn = [{ name: "no-such-ks" }])), id: "flux/depends-on-missing", file: KS, line: true },

  // kustomization structure
  { name: "resources: a string, not a list", mutate: kustomization((o) => (o.resources = "./helmrelease.yaml")), id: "kustomize/not-a-list", file: APPK, line: true },
  { name: "resources: a mapping", mutate: kustomization((o) => (o.resources = { a: "./helmrelease.yaml" })), id: "kustomize/not-a-list", file: APPK, line: true },
  { name: "patches: a string", mutate: kustomization((o) => (o.patches = "./patch.yaml")), id: "kustomize/not-a-list", file: APPK, line: true },
  { name: "components: a number", mutate: kustomization((o) => (o.components = 3)), id: "kustomize/not-a-list", file: APPK, line: true },
  { name: "lists itself", mutate: addResource("./kustomization.yaml"), id: "kustomize/lists-itself", file: APPK, line: true },
  { name: "lists its own folder", mutate: addResource("."), id: "kustomize/lists-itself", file: APPK, line: true },
  { name: "lists its own folder with a slash", mutate: addResource("./"), id: "kustomize/lists-itself", file: APPK, line: true },
  {
    name: "a cycle through a sub-kustomization",
    mutate: both(addResource("./sub"), (dir) => {
      mkdirSync(path.join(dir, DIR, "sub"));
      writeFileSync(path.join(dir, DIR, "sub", "kustomization.yaml"), stringify({ apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", resources: [".."] }));
    }),
    id: "kustomize/cycle",
    line: true,
  },
  {
    name: "two sibling kustomizations including each other",
    mutate: both(addResource("./a"), (dir) => {
      for (const [me, other] of [["a", "b"], ["b", "a"]] as const) {
        mkdirSync(path.join(dir, DIR, me));
        writeFileSync(path.join(dir, DIR, me, "kustomization.yaml"), stringify({ apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", resources: [`../${other}`] }));
      }
    }),
    id: "kustomize/cycle",
    line: true,
  },
  { name: "an empty kustomization.yaml", mutate: write(APPK, ""), id: "kustomize/empty", file: APPK },
  { name: "a kustomization.yaml of comments only", mutate: write(APPK, "# nothing here yet\n"), id: "kustomize/empty", file: APPK },
  { name: "a kustomization that is a list", mutate: write(APPK, "- ./helmrelease.yaml\n"), id: "kustomize/not-an-object", file: APPK },
  { name: "an entry that does not exist", mutate: addResource("./nope.yaml"), id: "kustomize/missing-entry", file: APPK, line: true },
  { name: "an entry listed twice", mutate: addResource("./helmrelease.yaml"), id: "kustomize/duplicate-entry", file: APPK, line: true },
  { name: "an absolute entry", mutate: addResource("/etc/passwd"), id: "kustomize/missing-entry", file: APPK, line: true },
  { name: "an entry climbing out of the repo", mutate: addResource("../../../../../../../../etc/passwd"), id: /kustomize\/(unsafe|missing)-entry/, file: APPK, line: true },

  // what a listed entry is: never opened when it is not a regular file inside the repo
  { name: "a listed symlink to /etc/passwd", mutate: both(symlink("/etc/passwd", `${DIR}/pw.yaml`), addResource("./pw.yaml")), id: "kustomize/unsafe-entry", file: APPK, line: true },
  { name: "a listed symlink to /dev/zero", mutate: both(symlink("/dev/zero", `${DIR}/zero.yaml`), addResource("./zero.yaml")), id: "kustomize/unsafe-entry", file: APPK, line: true },
  { name: "a listed FIFO (never opened: it would block)", mutate: both(fifo(`${DIR}/pipe.yaml`), addResource("./pipe.yaml")), id: "kustomize/unsafe-entry", file: APPK, line: true },
  { name: "a listed symlink to a folder outside", mutate: both(symlink("/etc", `${DIR}/etc`), addResource("./etc")), id: "kustomize/unsafe-entry", file: APPK, line: true },
  { name: "a listed dangling symlink", mutate: both(symlink("/nonexistent/x.yaml", `${DIR}/gone.yaml`), addResource("./gone.yaml")), id: "kustomize/missing-entry", file: APPK, line: true },
  { name: "an unlisted symlink to /etc/passwd named like YAML", mutate: symlink("/etc/passwd", `${DIR}/passwd.yaml`), id: "yaml/unreadable", file: `${DIR}/passwd.yaml` },
  { name: "an unlisted FIFO named like YAML", mutate: fifo(`${DIR}/fifo.yaml`), id: "yaml/unreadable", file: `${DIR}/fifo.yaml` },
  { name: "an unlisted symlink to /dev/zero", mutate: symlink("/dev/zero", `${DIR}/dev.yaml`), id: "yaml/unreadable", file: `${DIR}/dev.yaml` },

  // bytes that are not YAML text
  { name: "invalid UTF-8 (0xff)", mutate: append(APPK, Buffer.from([0x23, 0x20, 0xff, 0xfe, 0x0a])), id: "yaml/unreadable", file: APPK, line: true },
  { name: "a NUL byte in a comment", mutate: append(APPK, "# \0\n"), id: /^yaml\/(parse|unreadable)$/, file: APPK, line: true },
  { name: "Latin-1 text", mutate: append(HR, Buffer.from([0x23, 0x20, 0x63, 0x61, 0x66, 0xe9, 0x0a])), id: "yaml/unreadable", file: HR, line: true },
  { name: "an overlong UTF-8 sequence", mutate: append(HR, Buffer.from([0x23, 0xc0, 0xaf, 0x0a])), id: "yaml/unreadable", file: HR, line: true },
  { name: "a UTF-8 encoded surrogate", mutate: append(HR, Buffer.from([0x23, 0xed, 0xa0, 0x80, 0x0a])), id: "yaml/unreadable", file: HR, line: true },
  { name: "a truncated UTF-8 sequence at the end", mutate: append(HR, Buffer.from([0x23, 0xe2, 0x82])), id: "yaml/unreadable", file: HR, line: true },
  { name: "UTF-16 text", mutate: write(APPK, Buffer.from("\ufeffresources: []\n", "utf16le")), id: /^yaml\/(parse|unreadable)$/, file: APPK },
  { name: "a large binary saved as kustomization.yaml", mutate: write(APPK, Buffer.alloc(20 * 1024 * 1024, 0x41)), id: "yaml/unreadable", file: APPK },
  { name: "more YAML documents than a file may hold", mutate: write(`${DIR}/many.yaml`, "---\na: 1\n".repeat(50_001)), id: "yaml/unreadable", file: `${DIR}/many.yaml`, line: true },

  // YAML that cannot become data
  { name: "a merge key into its own anchor (<<: *self)", mutate: append(HR, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: &self\n  name: loop\n  <<: *self\n"), id: /^yaml\//, file: HR, line: true },
  { name: "a sequence holding its own alias", mutate: append(HR, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: loop\ndata: &a\n  x: *a\n"), id: /^yaml\//, file: HR, line: true },
  { name: "an alias to an anchor that does not exist", mutate: append(HR, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: *nothing\n"), id: /^yaml\//, file: HR, line: true },
  { name: "a tab as indentation", mutate: append(HR, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: tabbed\n"), id: /^yaml\//, file: HR, line: true },
  { name: "a broken document separator", mutate: append(HR, "--- -\napiVersion: v1\n"), id: /^yaml\//, file: HR, line: true },
];

describe("bad input to validate: a finding at file:line, never a crash or a hang", () => {
  test("the corpus is built from a real app of the repo", () => {
    expect(app).toBeDefined();
    expect(CASES.length).toBeGreaterThanOrEqual(45);
  });

  for (const c of CASES)
    test(c.name, async () => {
      const dir = copyRepo();
      try {
        c.mutate(dir);
        const r = await validateRepo(dir);
        const internal = r.findings.filter((f) => f.id.endsWith("/internal") || f.id === "repo/load");
        expect(internal.map((f) => `${f.id} ${f.message}`)).toEqual([]);
        const hit = r.findings.filter((f) => (typeof c.id === "string" ? f.id === c.id : c.id.test(f.id)) && (!c.file || f.file === c.file));
        expect(hit.length, `expected ${c.id} in ${c.file ?? "any file"}, got:\n${r.findings.map((f) => `${f.id} ${f.file}:${f.line} ${f.message}`).join("\n")}`).toBeGreaterThan(0);
        expect(hit[0]!.severity).toBe("error");
        if (c.line) expect(hit[0]!.line).toBeGreaterThan(0);
        // the file is never "." with line 0: every finding names where it is
        for (const f of r.findings) expect(f.file === "." && f.line === 0).toBe(false);
      } finally {
        cleanup(dir);
      }
    }, 60_000);

  test("an unreadable folder is reported as unreadable, not as a folder without a kustomization.yaml", async () => {
    if (process.getuid?.() === 0) {
      // root reads every folder: run the check as an unprivileged user instead
      const dir = mkdtempSync(path.join(os.tmpdir(), "home-ops-perm-"));
      try {
        chmodSync(dir, 0o755);
        mkdirSync(path.join(dir, "locked"));
        chmodSync(path.join(dir, "locked"), 0o000);
        const probe = `import { inspectEntry } from ${JSON.stringify(path.join(ROOT, "lib/repo/safe-read.ts"))}; console.log(JSON.stringify(inspectEntry(${JSON.stringify(dir)}, "locked")));`;
        let out: string;
        try {
          out = execFileSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "-e", probe], { encoding: "utf8", env: { PATH: process.env.PATH ?? "" } });
        } catch (e) {
          // no setpriv or the runtime is not readable by nobody: the check cannot run here
          console.warn(`skipped the unprivileged probe: ${(e as Error).message.split("\n")[0]}`);
          return;
        }
        const r = JSON.parse(out);
        expect(r.kind).toBe("unsafe");
        expect(r.why).toContain("folder that cannot be read");
      } finally {
        chmodSync(path.join(dir, "locked"), 0o755);
        rmSync(dir, { recursive: true, force: true });
      }
      return;
    }
    const dir = copyRepo();
    try {
      chmodSync(path.join(dir, DIR), 0o000);
      const r = await validateRepo(dir);
      expect(r.findings.some((f) => f.id === "kustomize/unsafe-entry" && /cannot be read/.test(f.message))).toBe(true);
      expect(r.findings.some((f) => /without a kustomization\.yaml/.test(f.message))).toBe(false);
    } finally {
      chmodSync(path.join(dir, DIR), 0o755);
      cleanup(dir);
    }
  }, 60_000);
});

// ---- scripts given bad flags or files: exit 2, one error line (and a hint), no stack trace --------------------------

interface ScriptCase {
  name: string;
  script: string;
  argv: string[] | ((tmp: string) => string[]);
  /** the error line says this */
  says: RegExp;
}

const tmp = mkdtempSync(path.join(os.tmpdir(), "home-ops-bad-input-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const made = (name: string, make: (p: string) => void) => (dir: string) => {
  const p = path.join(dir, name);
  if (!existsSync(p)) make(p);
  return p;
};
const textFile = made("notes.txt", (p) => writeFileSync(p, "this is not an etcd snapshot\n"));
const pipe = made("snapshot.fifo", (p) => execFileSync("mkfifo", [p]));
const aFolder = made("a-folder", (p) => mkdirSync(p));

const SCRIPT_CASES: ScriptCase[] = [
  { name: "validate: a root that does not exist", script: "validate", argv: ["--root", "/nonexistent/home-ops"], says: /is not a directory/ },
  { name: "validate: a root that is a file", script: "validate", argv: (t) => ["--root", textFile(t)], says: /is not a directory/ },
  { name: "validate: an unknown check family", script: "validate", argv: ["--only", "bogus"], says: /unknown check family "bogus"/ },
  { name: "validate: an unknown flag", script: "validate", argv: ["--frobnicate"], says: /frobnicate/ },
  { name: "validate: a stray argument", script: "validate", argv: ["extra"], says: /unexpected argument "extra"/ },
  { name: "talos-reboot: --node-timeout banana", script: "talos-reboot", argv: ["--node-timeout", "banana"], says: /--node-timeout must be a duration/ },
  { name: "talos-reboot: --gate-timeout 0", script: "talos-reboot", argv: ["--gate-timeout", "0"], says: /--gate-timeout needs a unit/ },
  { name: "talos-reboot: --break-lock with a value", script: "talos-reboot", argv: ["--break-lock=yes"], says: /break-lock/ },
  { name: "talos-upgrade: --node-timeout soon", script: "talos-upgrade", argv: ["--node-timeout", "soon"], says: /--node-timeout must be a duration/ },
  { name: "etcd-snapshot: --keep 0", script: "etcd-snapshot", argv: ["--keep", "0"], says: /--keep must be a whole number from 1 to 1000/ },
  { name: "etcd-snapshot: --keep many", script: "etcd-snapshot", argv: ["--keep", "many"], says: /--keep must be a whole number/ },
  { name: "cluster-safe-reset: --timeout whenever", script: "cluster-safe-reset", argv: ["--timeout", "whenever"], says: /--timeout must be a duration/ },
  { name: "cluster-safe-reset: --keep 1.5", script: "cluster-safe-reset", argv: ["--keep", "1.5"], says: /--keep must be a whole number/ },
  { name: "recovery: a snapshot that does not exist", script: "cluster-emergency-recovery", argv: ["--snapshot", "/nonexistent/db.snapshot"], says: /does not exist/ },
  { name: "recovery: /dev/zero as the snapshot", script: "cluster-emergency-recovery", argv: ["--snapshot", "/dev/zero"], says: /not a regular file.*nothing was wiped/ },
  { name: "recovery: a FIFO as the snapshot (never opened)", script: "cluster-emergency-recovery", argv: (t) => ["--snapshot", pipe(t)], says: /not a regular file.*nothing was wiped/ },
  { name: "recovery: a text file as the snapshot", script: "cluster-emergency-recovery", argv: (t) => ["--snapshot", textFile(t)], says: /no sha256 trailer.*nothing was wiped/ },
  { name: "recovery: a folder as the snapshot", script: "cluster-emergency-recovery", argv: (t) => ["--snapshot", aFolder(t)], says: /not a regular file.*nothing was wiped/ },
  { name: "recovery: --timeout forever", script: "cluster-emergency-recovery", argv: ["--timeout", "forever"], says: /--timeout must be a duration/ },
  { name: "flux-reconcile: --suspend with --resume", script: "flux-reconcile", argv: ["--suspend", "--resume"], says: /cannot be used together/ },
  { name: "talos-apply-config: --mode sideways", script: "talos-apply-config", argv: ["--mode", "sideways"], says: /--mode must be one of/ },
  { name: "talos-apply-config: --node-timeout x", script: "talos-apply-config", argv: ["--node-timeout", "x"], says: /--node-timeout must be a duration/ },
  { name: "bootstrap-phased: --from 9", script: "bootstrap-phased", argv: ["--from", "9"], says: /--from must be a whole number from 1 to 6/ },
  { name: "bootstrap-phased: --only first", script: "bootstrap-phased", argv: ["--only", "first"], says: /--only must be a whole number from 1 to 6/ },
  { name: "talos-bootstrap: --timeout someday", script: "talos-bootstrap", argv: ["--timeout", "someday"], says: /--timeout must be a duration/ },
];

describe("bad flags and files to the scripts: exit 2 with one clear line", () => {
  test("the corpus has at least 60 cases in all", () => {
    expect(CASES.length + SCRIPT_CASES.length).toBeGreaterThanOrEqual(60);
  });

  for (const c of SCRIPT_CASES)
    test(c.name, async () => {
      const mod = (await import(path.join(ROOT, "scripts", `${c.script}.ts`))) as { default: Script<FlagDefs> };
      let stdout = "";
      let stderr = "";
      const argv = typeof c.argv === "function" ? c.argv(tmp) : c.argv;
      const code = await mod.default.main(argv, {
        stdout: { write: (t: string) => ((stdout += t), true) },
        stderr: { write: (t: string) => ((stderr += t), true) },
        stdin: { isTTY: false },
        env: { ...process.env, NO_COLOR: "1", KUBECONFIG: "/nonexistent/kubeconfig", TALOSCONFIG: "/nonexistent/talosconfig" },
        cwd: ROOT,
      });
      expect(code, stderr).toBe(2);
      const lines = stderr.trimEnd().split("\n");
      expect(lines[0]).toMatch(/^error: /);
      expect(lines[0]).toMatch(c.says);
      // one error line, at most one hint line under it
      expect(lines.filter((l) => /^error: /.test(l)).length).toBe(1);
      expect(lines.length).toBeLessThanOrEqual(3);
      expect(stderr).not.toMatch(/\n\s+at /);
      expect(stdout).toBe("");
    }, 30_000);
});

describe("validate --build with a listed FIFO and a link to /dev/zero", () => {
  test("reports both and finishes: kubectl never gets those kustomizations", async () => {
    const { runScript } = await import("./talos-sim-harness.ts");
    const dir = copyRepo();
    try {
      both(fifo(`${DIR}/pipe.yaml`), symlink("/dev/zero", `${DIR}/zero.yaml`), addResource("./pipe.yaml"), addResource("./zero.yaml"))(dir);
      const r = await runScript("validate", ["--root", dir, "--build", "--json", "--no-cache"], { timeoutMs: 120_000 });
      expect(r.code, r.stderr).toBe(1);
      const findings = r.json().findings as Array<{ id: string; file: string; message: string }>;
      const unsafe = findings.filter((f) => f.id === "kustomize/unsafe-entry" && f.file === APPK);
      expect(unsafe.map((f) => f.message).join("\n")).toMatch(/pipe\.yaml.*FIFO[\s\S]*zero\.yaml.*\/dev\/zero/);
      // the folder was not built (its build would hang on the FIFO or read /dev/zero forever)
      expect(findings.filter((f) => f.id === "kustomize/build" && f.file === APPK)).toEqual([]);
    } finally {
      cleanup(dir);
    }
  }, 150_000);
});

describe("a link out of the repo is never read", () => {
  test("a token in a file outside, linked from the repo, is not scanned (nor its content shown)", async () => {
    const outside = mkdtempSync(path.join(os.tmpdir(), "home-ops-outside-"));
    const dir = copyRepo();
    try {
      const token = "ghp" + "_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8";
      writeFileSync(path.join(outside, "host-notes.txt"), `token: ${token}\n`);
      symlinkSync(path.join(outside, "host-notes.txt"), path.join(dir, DIR, "notes.txt"));
      const r = await validateRepo(dir);
      expect(r.findings.filter((f) => f.file.endsWith("notes.txt"))).toEqual([]);
      // the same token in a real file of the repo is found: the scan itself works
      writeFileSync(path.join(dir, DIR, "real-notes.txt"), `token: ${token}\n`);
      const r2 = await validateRepo(dir);
      expect(r2.findings.some((f) => f.file.endsWith("real-notes.txt") && f.id.startsWith("secrets/"))).toBe(true);
    } finally {
      cleanup(dir);
      rmSync(outside, { recursive: true, force: true });
    }
  }, 60_000);
});
