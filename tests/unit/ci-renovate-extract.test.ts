/**
 * .ci/renovate-extract.ts reads Renovate's extract log: a pin two managers read (the built-in mise manager and the
 * regex manager on one .mise.toml line) and a renovate: comment the regex manager did not read both fail it. The
 * real extract runs in .ci/run; here the log is written by hand in the shape Renovate 44 logs it.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const ROOT = path.resolve(import.meta.dir, "../..");
const dir = mkdtempSync(path.join(tmpdir(), "home-ops-renovate-extract-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The first `# renovate:` pin of .mise.toml: its depName and the version on the next line. */
function firstMisePin(): { depName: string; version: string; tool: string } {
  const lines = readFileSync(path.join(ROOT, ".mise.toml"), "utf8").split("\n");
  const i = lines.findIndex((l) => /^# renovate: datasource=\S+ depName=\S+/.test(l));
  const depName = /depName=(\S+)/.exec(lines[i]!)![1]!;
  const [, tool, version] = /^"?([\w.-]+)"? *= *"([^"]+)"/.exec(lines[i + 1]!)!;
  return { depName, version: version!, tool: tool! };
}

function run(log: object[]): { code: number; out: string } {
  const file = path.join(dir, `log-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, log.map((l) => JSON.stringify(l)).join("\n"));
  const p = Bun.spawnSync(["bun", path.join(ROOT, ".ci/renovate-extract.ts"), file], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode, out: p.stdout.toString() + p.stderr.toString() };
}

describe(".ci/renovate-extract.ts", () => {
  test("one .mise.toml pin read by the mise and the regex manager is reported", () => {
    const pin = firstMisePin();
    const r = run([
      {
        msg: "Extracted dependencies",
        packageFiles: {
          mise: [{ packageFile: ".mise.toml", deps: [{ depName: pin.tool, currentValue: pin.version, datasource: "github-tags" }] }],
          regex: [{ packageFile: ".mise.toml", deps: [{ depName: pin.depName, currentValue: pin.version, datasource: "github-releases" }] }],
        },
      },
    ]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`.mise.toml: ${pin.version.replace(/^v/, "")} is extracted by 2 managers: mise (${pin.tool}), regex (${pin.depName})`);
    // the other comments of the repo were not in this log: each is named
    expect(r.out).toMatch(/the renovate: comment for \S+ was not extracted/);
  });

  test("a log without the extract result is an error, not a pass", () => {
    const r = run([{ msg: "Repository finished" }]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('no "Extracted dependencies" line');
  });
});
