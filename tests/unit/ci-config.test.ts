/**
 * The CI's own configuration, read from the repo: every script is a mise task, .mise.toml's [env] only sets defaults,
 * and every pinned tool is under a `# renovate:` comment (the built-in mise manager is off in .renovaterc.json5).
 * .ci/run checks the same with the real mise and renovate-config-validator; these catch it in `bun test` first.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

const ROOT = path.resolve(import.meta.dir, "../..");
const miseText = readFileSync(path.join(ROOT, ".mise.toml"), "utf8");
const mise = Bun.TOML.parse(miseText) as {
  tools: Record<string, string>;
  env: Record<string, unknown>;
  tasks: Record<string, { description?: string; run?: string }>;
};
const scripts = readdirSync(path.join(ROOT, "scripts")).filter((f) => f.endsWith(".ts"));

/** The line right above `key = ...` in .mise.toml. */
function lineAbove(key: string): string {
  const lines = miseText.split("\n");
  const i = lines.findIndex((l) => new RegExp(`^"?${key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}"? *=`).test(l));
  return i > 0 ? lines[i - 1]! : "";
}

describe(".mise.toml", () => {
  test("the repo has scripts and tasks to compare", () => {
    expect(scripts.length).toBeGreaterThan(0);
    expect(Object.keys(mise.tasks).length).toBeGreaterThan(0);
  });

  test("every scripts/*.ts is run by a task, with a description", () => {
    const runs = new Map(Object.entries(mise.tasks).map(([name, t]) => [t.run, name]));
    const missing = scripts.filter((f) => !runs.has(`bun scripts/${f}`));
    expect(missing).toEqual([]);
    const undescribed = Object.entries(mise.tasks).filter(([, t]) => !t.description?.trim()).map(([n]) => n);
    expect(undescribed).toEqual([]);
  });

  test("every task runs a script that exists", () => {
    const dangling = Object.entries(mise.tasks)
      .map(([name, t]) => [name, /^bun (scripts\/[\w.-]+\.ts)$/.exec(t.run ?? "")?.[1]] as const)
      .filter(([, file]) => !file || !scripts.includes(path.basename(file)));
    expect(dangling).toEqual([]);
  });

  test("[env] KUBECONFIG and TALOSCONFIG are defaults: a value set in the shell wins", () => {
    for (const name of ["KUBECONFIG", "TALOSCONFIG"]) {
      expect(String(mise.env[name])).toMatch(new RegExp(`get_env\\(name=['"]${name}['"], *default=`));
    }
  });

  test("every pinned tool has a # renovate: comment right above it", () => {
    const unmanaged = Object.keys(mise.tools).filter((k) => !/^# renovate: datasource=\S+ depName=\S+/.test(lineAbove(k)));
    expect(unmanaged).toEqual([]);
  });
});
