import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import path from "node:path";
import { loadScripts, taskName } from "../../lib/cli/registry.ts";

/**
 * The toolkit's surface stays whole: every script answers --help and refuses unknown flags, is listed by help.ts,
 * has a mise task of its own name, and a row in the README's migration table; every mise task runs a script.
 */
const root = path.resolve(import.meta.dir, "../..");
const scripts = await loadScripts(root);
const mise = Bun.TOML.parse(readFileSync(path.join(root, ".mise.toml"), "utf8")) as {
  tasks?: Record<string, { run?: string; description?: string }>;
};
const readme = readFileSync(path.join(root, "README.md"), "utf8");
/** What defineScript needs to answer --help (bench/startup.ts measures it): no parseArgs, no Output, no run code. */
const HELP_FILES = ["lib/cli/index.ts", "lib/cli/errors.ts", "lib/cli/flags.ts", "lib/cli/text.ts", "lib/sim/fault-help.ts", "lib/sim/states.ts"];

async function run(args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn(["bun", ...args], {
    cwd: root,
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { stdout, stderr, code };
}

describe("every script", () => {
  test("there are scripts to check", () => {
    expect(scripts.length).toBeGreaterThan(0);
  });

  for (const s of scripts) {
    test(`${s.file}: --help exits 0 with purpose, flags and the replaced target`, async () => {
      const r = await run([s.file, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`${s.def.name}: ${s.def.summary}`);
      expect(r.stdout).toContain("--help");
      expect(r.stdout).toContain("Replaces:");
      expect(r.stderr).toBe("");
    }, 30_000);

    test(`${s.file}: --help loads lib/cli's help files and the script's own top-level imports, nothing of a run`, async () => {
      // what Bun loaded for one --help, read from require.cache (it lists ES modules too) in a fresh process
      const probe = `const s = (await import(${JSON.stringify(path.join(root, s.file))})).default;
        const sink = { text: "", write(t) { this.text += t; return true; } };
        if ((await s.main(["--help"], { stdout: sink, stderr: sink, env: {} })) !== 0) process.exit(3);
        console.log(JSON.stringify(Object.keys(require.cache)));`;
      const r = await run(["-e", probe]);
      expect(r.code, r.stderr).toBe(0);
      const loaded = (JSON.parse(r.stdout) as string[]).map((f) => path.relative(root, f)).sort();
      const own = [...readFileSync(path.join(root, s.file), "utf8").matchAll(/^import (?!type )[^;]*? from "(\.\.\/[^"]+)";$/gm)].map(
        (m) => path.join("scripts", m[1]!),
      );
      const allowed = new Set([s.file, ...HELP_FILES, ...own.map((f) => path.normalize(f))]);
      expect(loaded.filter((f) => !allowed.has(f))).toEqual([]);
      for (const f of ["lib/cli/run.ts", "lib/cli/output.ts", "lib/exec.ts"]) expect(loaded).not.toContain(f);
    }, 30_000);

    test(`${s.file}: an unknown flag exits 2 with a one-line error`, async () => {
      const r = await run([s.file, "--no-such-flag"]);
      expect(r.code).toBe(2);
      expect(r.stderr.split("\n")[0]).toBe("error: Unknown option '--no-such-flag'");
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stdout).toBe("");
    }, 30_000);

    test(`${s.file}: file name matches its definition and it has a mise task`, () => {
      expect(path.basename(s.file, ".ts")).toBe(s.def.name);
      const task = mise.tasks?.[taskName(s.def.name)];
      expect(task?.run).toBe(`bun ${s.file}`);
      expect(task?.description).toBe(s.def.summary);
    });

    test(`${s.file}: the README's migration table names it`, () => {
      expect(readme).toContain(`\`${s.file}\``);
    });
  }
});

test("every mise task runs a script that exists", () => {
  const files = new Set(scripts.map((s) => s.file));
  for (const [name, task] of Object.entries(mise.tasks ?? {})) {
    const m = /^bun (scripts\/[a-z0-9-]+\.ts)$/.exec(task.run ?? "");
    expect(m, `task ${name} runs "${task.run}"`).not.toBeNull();
    expect(files.has(m![1]!), `task ${name} names ${m![1]}, which does not exist`).toBe(true);
  }
});

test("help.ts lists every script, and --json lists them for programs", async () => {
  const human = await run(["scripts/help.ts"]);
  expect(human.code).toBe(0);
  for (const s of scripts) expect(human.stdout).toContain(s.file);
  const json = await run(["scripts/help.ts", "--json"]);
  const listed = (JSON.parse(json.stdout) as { ok: boolean; scripts: Array<{ script: string; task: string }> }).scripts;
  expect(listed.map((l) => l.script).sort()).toEqual(scripts.map((s) => s.file).sort());
}, 30_000);

test("Ctrl-C stops a script cleanly with exit 130", async () => {
  const proc = Bun.spawn(["bun", "tests/fixtures/cli/wait-forever.ts"], {
    cwd: root,
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
  });
  const reader = proc.stderr.getReader();
  let seen = "";
  while (!seen.includes("waiting")) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += new TextDecoder().decode(value);
  }
  proc.kill("SIGINT");
  expect(await proc.exited).toBe(130);
}, 30_000);

test("every script the README names exists", () => {
  const files = new Set(scripts.map((s) => s.file));
  const named = [...readme.matchAll(/`(scripts\/[a-z0-9-]+\.ts)/g)].map((m) => m[1]!);
  const missing = [...new Set(named)].filter((f) => !files.has(f));
  expect(missing).toEqual([]);
});

test("every Taskfile target a script replaces sits in the README row that names that script", () => {
  const rows = readme.split("\n").filter((l) => l.startsWith("| `"));
  const wrong: string[] = [];
  for (const s of scripts)
    for (const target of s.def.replaces) {
      const row = rows.find((r) => r.split("|")[1]!.includes(`\`${target}\``) || r.split("|")[1]!.includes(`\`task ${target}\``));
      if (!row?.includes(s.file)) wrong.push(`${target} -> ${s.file}`);
    }
  expect(wrong).toEqual([]);
});
