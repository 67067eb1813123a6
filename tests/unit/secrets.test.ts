import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, chmodSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Exec } from "../../lib/exec.ts";
import { classifyOpError, fileMode, isSecretReference, opErrorText, opRead, writeSecretFile } from "../../lib/secrets/op.ts";

let dir: string;
let bin: string;
const VALUE = "s3cr3t-value-Zq9";

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "secrets-test-"));
  bin = path.join(dir, "bin");
  mkdirSync(bin);
  // a stand-in `op` that prints a value on stdout, or fails like the real one when OP_TEST_MODE says so
  writeFileSync(
    path.join(bin, "op"),
    `#!/bin/sh
case "$OP_TEST_MODE" in
  signedout) echo "[ERROR] 2026/01/01 00:00:00 You are not currently signed in. Please run \\\`op signin --help\\\` for instructions" >&2; exit 1;;
  missing) echo "[ERROR] 2026/01/01 00:00:00 \\"nope\\" isn't an item in the \\"home\\" vault. Specify the item with its UUID, name, or domain." >&2; exit 1;;
esac
printf '%s' "${VALUE}"
`,
  );
  chmodSync(path.join(bin, "op"), 0o755);
  const repo = path.join(dir, "repo");
  mkdirSync(repo);
  await Bun.$`git init -q ${repo}`.quiet();
  writeFileSync(path.join(repo, ".gitignore"), "talsecret.yaml\n");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env = (mode = "") => ({ PATH: `${bin}:${process.env.PATH}`, OP_TEST_MODE: mode });

describe("op", () => {
  test("references", () => {
    expect(isSecretReference("op://home/talos/talsecret")).toBe(true);
    expect(isSecretReference("op://home/talos/section/field")).toBe(true);
    expect(isSecretReference("home/talos")).toBe(false);
  });
  test("reads into a redacted Secret; the value never prints", async () => {
    const exec = new Exec({ env: env() });
    const s = await opRead(exec, "op://home/talos/talsecret");
    expect(s.reveal()).toBe(VALUE);
    expect(String(s)).not.toContain(VALUE);
    expect(JSON.stringify({ s })).not.toContain(VALUE);
    expect(exec.redact(`x ${VALUE} y`)).toBe("x [redacted] y");
    expect(exec.history.map((h) => h.command).join()).not.toContain(VALUE);
    // and it can never be passed on a command line afterwards
    await expect(exec.run("echo", [VALUE])).rejects.toThrow(/refusing to pass a secret on the command line/);
  });
  test("signed out is a configuration error with what to do", async () => {
    const p = opRead(new Exec({ env: env("signedout") }), "op://home/talos/talsecret");
    await expect(p).rejects.toThrow(/signed out/);
    await expect(p).rejects.toMatchObject({ exitCode: 2, hint: expect.stringContaining("op signin") });
  });
  test("missing item", async () => {
    await expect(opRead(new Exec({ env: env("missing") }), "op://home/nope/x")).rejects.toThrow(/1Password has no op:\/\/home\/nope\/x/);
  });
  test("bad reference is refused before running op", async () => {
    const exec = new Exec({ env: env() });
    await expect(opRead(exec, "talsecret")).rejects.toMatchObject({ exitCode: 2 });
    expect(exec.history).toEqual([]);
  });
  test("error classification", () => {
    expect(classifyOpError("[ERROR] 2026/01/01 00:00:00 account is not signed in")).toBe("signed-out");
    expect(opErrorText("[ERROR] 2026/01/01 00:00:00 boom")).toBe("boom");
  });
});

describe("secret files", () => {
  test("written 0600 only to a git-ignored path", async () => {
    const repo = path.join(dir, "repo");
    const exec = new Exec({ env: env() });
    const s = exec.secret(VALUE, "talsecret");
    const r = await writeSecretFile(exec, repo, "talsecret.yaml", s);
    expect(r.written).toBe(true);
    expect(readFileSync(path.join(repo, "talsecret.yaml"), "utf8")).toBe(VALUE);
    expect(fileMode(path.join(repo, "talsecret.yaml"))).toBe(0o600);
    await expect(writeSecretFile(exec, repo, "committed.yaml", s)).rejects.toThrow(/git does not ignore it/);
    expect(existsSync(path.join(repo, "committed.yaml"))).toBe(false);
    // a path outside the repository (the simulation's temp folder) cannot be committed: allowed, still 0600
    const outside = path.join(dir, "sim-talsecret.yaml");
    expect((await writeSecretFile(exec, repo, outside, s)).written).toBe(true);
    expect(fileMode(outside)).toBe(0o600);
  });
  test("dry run writes nothing", async () => {
    const repo = path.join(dir, "repo");
    rmSync(path.join(repo, "talsecret.yaml"), { force: true });
    const exec = new Exec({ env: env(), dryRun: true });
    const r = await writeSecretFile(exec, repo, "talsecret.yaml", exec.secret(VALUE));
    expect(r.written).toBe(false);
    expect(existsSync(path.join(repo, "talsecret.yaml"))).toBe(false);
  });
});

describe("talsecret reference", () => {
  test("explicit reference, then the vault, then the cluster name", async () => {
    const { talsecretRef } = await import("../../lib/secrets/op.ts");
    expect(talsecretRef({ TALSECRET_OP_REF: "op://a/b/c", OP_VAULT: "v" }, "home")).toBe("op://a/b/c");
    expect(talsecretRef({ OP_VAULT: "v" }, "home")).toBe("op://v/talos/talsecret");
    expect(talsecretRef({}, "home")).toBe("op://home/talos/talsecret");
  });
});
