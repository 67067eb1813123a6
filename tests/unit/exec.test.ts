import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ConfigError, OperationError } from "../../lib/cli/errors.ts";
import { Output } from "../../lib/cli/output.ts";
import {
  checkTool,
  Exec,
  formatCommand,
  parseVersion,
  requireTool,
  satisfies,
  Secret,
} from "../../lib/exec.ts";

class Capture {
  text = "";
  write(t: string) {
    this.text += t;
    return true;
  }
}

let dir: string;
let env: Record<string, string | undefined>;

/** A fake tool on PATH: prints its version, records argv and stdin to files so tests can inspect them. */
function fakeTool(name: string, body: string) {
  const file = path.join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "home-ops-exec-"));
  env = { ...process.env, PATH: `${dir}:${process.env.PATH}` };
  fakeTool("talosctl", `case "$1" in version) echo "Client:"; echo "	Talos v1.9.2";; *) echo "$@" > "${dir}/argv"; cat > "${dir}/stdin"; echo done;; esac`);
  fakeTool("flux", `echo "flux: v2.4.0"`);
  fakeTool("failing", `echo "error: rpc error: code = Unavailable desc = connection refused" >&2; exit 3`);
  fakeTool("sleeper", `sleep 5`);
  fakeTool("echoer", `echo "token is $(cat)"`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function exec(opts: { dryRun?: boolean } = {}) {
  const stdout = new Capture();
  const stderr = new Capture();
  const e = new Exec({ dryRun: opts.dryRun, env });
  e.out = new Output({ stdout, stderr, env: {}, verbose: true, redact: (t) => e.redact(t) });
  return { e, stdout, stderr };
}

describe("Exec.run", () => {
  test("arguments are passed as an array, never re-split by a shell", async () => {
    const { e } = exec();
    const r = await e.run("talosctl", ["apply-config", "--file", "a b; rm -rf /", "$(id)"]);
    expect(r.exitCode).toBe(0);
    expect(readFileSync(path.join(dir, "argv"), "utf8").trim()).toBe("apply-config --file a b; rm -rf / $(id)");
  });

  test("--dry-run prints the exact command and runs nothing", async () => {
    rmSync(path.join(dir, "argv"), { force: true });
    const { e, stdout } = exec({ dryRun: true });
    const r = await e.run("talosctl", ["--nodes", "172.29.51.11", "reboot", "--wait=false"]);
    expect(r.dryRun).toBe(true);
    expect(stdout.text).toBe("[dry-run] talosctl --nodes 172.29.51.11 reboot --wait=false\n");
    expect(existsSync(path.join(dir, "argv"))).toBe(false);
    expect(e.history).toEqual([{ command: "talosctl --nodes 172.29.51.11 reboot --wait=false", dryRun: true }]);
  });

  test("read-only commands still run under --dry-run", async () => {
    const { e } = exec({ dryRun: true });
    const r = await e.run("flux", ["version", "--client"], { readOnly: true });
    expect(r.stdout.trim()).toBe("flux: v2.4.0");
  });

  test("a secret goes on stdin and never into any log line", async () => {
    const { e, stdout, stderr } = exec();
    const token = e.secret("ops_eyJhbGciOiJFUzI1NiJ9.very-secret-value", "connect token");
    const r = await e.run("echoer", [], { stdin: token });
    expect(r.stdout.trim()).toBe("token is ops_eyJhbGciOiJFUzI1NiJ9.very-secret-value");
    e.out!.line(`got ${r.stdout.trim()}`);
    e.out!.log(`token object: ${token} ${JSON.stringify({ token })}`);
    const all = stdout.text + stderr.text + JSON.stringify(e.history);
    expect(all).not.toContain("very-secret-value");
    expect(all).toContain("[redacted]");
  });

  test("a known secret in argv is refused before anything runs", async () => {
    const { e } = exec();
    e.secret("s3cr3t-passphrase-value");
    await expect(e.run("talosctl", ["--passphrase", "s3cr3t-passphrase-value"])).rejects.toBeInstanceOf(ConfigError);
    expect(e.history).toEqual([]);
  });

  test("a failing tool gives one sentence with the command, exit code and its error line", async () => {
    const { e } = exec();
    const err = await e.run("failing", ["get", "members"]).catch((x) => x);
    expect(err).toBeInstanceOf(OperationError);
    expect(err.message).toBe(
      "failing get members failed (exit 3): error: rpc error: code = Unavailable desc = connection refused",
    );
    const r = await e.run("failing", [], { allowFailure: true });
    expect(r.exitCode).toBe(3);
  });

  test("a timeout stops the process and says so", async () => {
    const { e } = exec();
    const started = performance.now();
    const err = await e.run("sleeper", [], { timeoutMs: 200 }).catch((x) => x);
    expect(err).toBeInstanceOf(OperationError);
    expect(err.message).toContain("sleeper did not finish within 200ms and was stopped");
    expect(performance.now() - started).toBeLessThan(4000);
  });

  test("a missing tool is a configuration error naming it", async () => {
    const { e } = exec();
    const err = await e.run("no-such-tool-home-ops", []).catch((x) => x);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain("no-such-tool-home-ops not found on PATH");
  });

  test("formatCommand quotes what a shell would split", () => {
    expect(formatCommand("kubectl", ["get", "nodes", "-l", "a=b c", "it's"])).toBe(
      `kubectl get nodes -l 'a=b c' 'it'\\''s'`,
    );
  });

  test("Secret prints as its label", () => {
    const s = new Secret("value-123456", "deploy key");
    expect(`${s}`).toBe("[redacted:deploy key]");
    expect(JSON.stringify({ s })).toBe('{"s":"[redacted:deploy key]"}');
    expect(s.reveal()).toBe("value-123456");
  });
});

describe("versions", () => {
  test("parseVersion reads the first version in a tool's output", () => {
    expect(parseVersion("Client:\n\tTalos v1.10.5\n")).toEqual([1, 10, 5]);
    expect(parseVersion("flux: v2.4.0")).toEqual([2, 4, 0]);
    expect(parseVersion("v3.16.1+g5a5449d")).toEqual([3, 16, 1]);
    expect(parseVersion("no version here")).toBeNull();
  });

  test("satisfies ranges", () => {
    expect(satisfies([1, 10, 5], "1.10.5")).toBe(true);
    expect(satisfies([1, 10, 4], "1.10.5")).toBe(false);
    expect(satisfies([1, 31, 9], "1.31")).toBe(true);
    expect(satisfies([1, 32, 0], "1.31.x")).toBe(false);
    expect(satisfies([2, 30, 0], "2.x")).toBe(true);
    expect(satisfies([1, 30, 0], ">=1.30 <1.33")).toBe(true);
    expect(satisfies([1, 33, 0], ">=1.30 <1.33")).toBe(false);
    expect(() => satisfies([1, 0, 0], "latest")).toThrow(ConfigError);
  });

  test("requireTool: wrong version names both and the fix", async () => {
    const err = await requireTool("talosctl", "1.10.5", { env }).catch((x) => x);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe("talosctl 1.9.2 found, 1.10.5 required");
    expect(err.hint).toBe("run `mise install`");
  });

  test("requireTool: missing tool", async () => {
    const check = await checkTool("talhelper", "3.0.30", { env: { PATH: dir } });
    expect(check).toMatchObject({ found: false, ok: false });
    expect(check.message).toBe("talhelper not found on PATH, 3.0.30 required: run `mise install`");
  });

  test("requireTool: matching version passes", async () => {
    expect(await requireTool("flux", "2.4.0", { env })).toBe("2.4.0");
  });
});
