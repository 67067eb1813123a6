import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { FlagDef, Script, FlagDefs } from "../../lib/cli/index.ts";
import { allFlags } from "../../lib/cli/index.ts";
import { scriptFiles } from "../../lib/cli/registry.ts";

/**
 * The contract every script keeps with programs and people, checked over all of scripts/: one JSON document on
 * stdout that survives a slow reader and always says `ok` (with the error object when the run failed), one flag
 * vocabulary (the same name means the same type everywhere; durations name their unit; whole numbers are decimal
 * and within a stated range), exit 2 for bad input, and 130 / 143 on SIGINT / SIGTERM after cleanup.
 */
const root = path.resolve(import.meta.dir, "../..");
const modules = await Promise.all(
  scriptFiles(root).map(async (file) => ({
    file: `scripts/${file}`,
    script: (await import(path.join(root, "scripts", file))).default as Script<FlagDefs>,
  })),
);
// A world with no cluster, no tools and no kubeconfig: every script must still answer in JSON, whatever it finds.
const home = mkdtempSync(path.join(tmpdir(), "home-ops-contract-"));
// afterAll, not process.on("exit"): under `bun test --parallel` a worker process outlives this file
afterAll(() => rmSync(home, { recursive: true, force: true }));
// bun, git and a shell; not the pinned cluster tools (talosctl, op, helm): scripts must say they are missing.
// Nothing real within reach: on its owner's machine the repo's clusterconfig/ holds the real cluster's kubeconfig
// and talosconfig, and its .env (which Bun loads from the working directory) the router's SSH address; every script
// runs here without --simulate, so each of those points into the empty temp home, and the scripts run from there.
const bareEnv = {
  PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`,
  HOME: home,
  NO_COLOR: "1",
  KUBECONFIG: path.join(home, "no-kubeconfig"),
  TALOSCONFIG: path.join(home, "no-talosconfig"),
  HOMEOPS_CLUSTERCONFIG_DIR: path.join(home, "clusterconfig"),
  HOMEOPS_TALSECRET_FILE: path.join(home, "no-talsecret.yaml"),
  HOMEOPS_BACKUP_ROOT: home,
  HOMEOPS_STATE_DIR: path.join(home, "state"),
};

/** Runs a command and reads its stdout only after a pause, as a slow consumer (`| (sleep 1; wc -c)`) would. */
async function runSlowReader(cmd: string[], env: Record<string, string> = bareEnv) {
  const args = cmd.slice(1).map((a) => (/^(scripts|tests)\//.test(a) ? path.join(root, a) : a));
  const proc = Bun.spawn([process.execPath, ...args], { cwd: env === bareEnv ? home : root, env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const stderr = new Response(proc.stderr).text();
  await Bun.sleep(300);
  const stdout = await new Response(proc.stdout).text();
  return { stdout, stderr: await stderr, code: await proc.exited };
}

interface JsonDoc {
  ok: unknown;
  error?: { message?: unknown; hint?: unknown; exitCode?: unknown };
}

function expectContract(r: { stdout: string; code: number }, where: string) {
  let doc: JsonDoc;
  try {
    doc = JSON.parse(r.stdout) as JsonDoc;
  } catch {
    throw new Error(`${where}: stdout is not one JSON document (${r.stdout.length} bytes): ${r.stdout.slice(0, 200)}`);
  }
  expect(typeof doc.ok, `${where}: ok`).toBe("boolean");
  if (r.code === 0) expect(doc.error, `${where}: no error object on success`).toBeUndefined();
  else {
    expect(doc.ok, `${where}: ok on exit ${r.code}`).toBe(false);
    expect(typeof doc.error?.message, `${where}: error.message`).toBe("string");
    expect(doc.error?.exitCode, `${where}: error.exitCode`).toBe(r.code);
  }
  return doc;
}

describe("JSON output", () => {
  test("a document larger than the pipe buffer reaches a slow reader whole", async () => {
    const r = await runSlowReader(["bun", "tests/fixtures/cli/big-json.ts", "--json"]);
    expect(r.stdout.length).toBeGreaterThan(65_536);
    const doc = expectContract(r, "big-json") as JsonDoc & { items: unknown[] };
    expect(doc.items).toHaveLength(5000);
  }, 30_000);

  test("an error after the result joins the one document: the result, ok false and the error object", async () => {
    const r = await runSlowReader(["bun", "tests/fixtures/cli/big-json.ts", "--json", "--fail"]);
    expect(r.code).toBe(1);
    const doc = expectContract(r, "big-json --fail") as JsonDoc & { items: unknown[] };
    expect(doc.items).toHaveLength(5000);
    expect(doc.error?.message).toBe("failed after the result");
  }, 30_000);

  for (const { file, script } of modules) {
    if (script.def.untilStopped) continue; // simulate prints its document and runs on (tests/scripts/simulate.test.ts)
    test(`${file} --json: one parseable document with ok, and the error object when it fails`, async () => {
      const r = await runSlowReader(["bun", file, "--json"]);
      expectContract(r, file);
    }, 60_000);
  }

  for (const { file, script } of modules) {
    test(`${file} --json with a bad flag: the error object and exit 2`, async () => {
      const stdout = new Capture();
      const code = await script.main(["--json", "--no-such-flag"], { stdout, stderr: new Capture(), env: bareEnv });
      expect(code).toBe(2);
      const doc = expectContract({ stdout: stdout.text, code }, file);
      expect(String(doc.error?.message)).toContain("--no-such-flag");
      expect(typeof doc.error?.hint).toBe("string");
    });
  }
});

/**
 * One word for one idea in every script's JSON, the word its table uses: an address family is `family` (never
 * `afi`), the outcome of a step of an operation (a bootstrap phase, a node of a rolling or apply run) is `result`,
 * the observed state of a thing (an etcd member, a session, a node's mode) is `state`, a check's verdict `status`.
 */
const RETIRED: Record<string, string> = { afi: "family", outcome: "result", was: "state" };

function keysOf(v: unknown, at = "", out: Array<{ path: string; key: string }> = []) {
  if (Array.isArray(v)) v.forEach((x) => keysOf(x, `${at}[]`, out));
  else if (v !== null && typeof v === "object")
    for (const [k, x] of Object.entries(v)) {
      out.push({ path: `${at}.${k}`, key: k });
      keysOf(x, `${at}.${k}`, out);
    }
  return out;
}

// a simulated cluster, without the knobs a developer's shell may have set
const simEnv = { ...process.env, HOMEOPS_SIM_STATE: "", HOMEOPS_SIM_FAULTS: "", HOMEOPS_SIM_POPULATE: "", ROUTER_SSH: "", NO_COLOR: "1" } as Record<string, string>;

describe("a failure in JSON mode, read slowly: the result so far, ok false and the error object", () => {
  test("a failed check (cluster-status, a node's Talos API not answering): exit 1", async () => {
    const r = await runSlowReader(["bun", "scripts/cluster-status.ts", "--simulate", "--sim-fault", "unreachable=mini02", "--json"], simEnv);
    expect(r.code).toBe(1);
    const doc = expectContract(r, "cluster-status") as JsonDoc & { groups: unknown[] };
    expect(doc.groups.length).toBeGreaterThan(0);
  }, 120_000);

  test("a failed operation (talos-reboot stopped by its etcd gate): exit 1, where it stopped and why", async () => {
    const r = await runSlowReader(["bun", "scripts/talos-reboot.ts", "--simulate", "--yes", "--sim-fault", "unreachable=mini02", "--json"], simEnv);
    expect(r.code).toBe(1);
    const doc = expectContract(r, "talos-reboot") as JsonDoc & { stopped: { node: string; message: string } | null };
    expect(doc.stopped?.message).toContain("etcd");
    expect(String(doc.error?.message)).toContain(doc.stopped!.message);
    expect(typeof doc.error?.hint).toBe("string");
  }, 120_000);
});

describe("one vocabulary in JSON", () => {
  const runs: Array<{ args: string[]; items: (doc: any) => unknown[]; key: string }> = [
    { args: ["bgp-verify", "--simulate", "--sim-fault", "partitioned=mini02"], items: (d) => [...d.rows, ...d.missing], key: "family" },
    { args: ["bootstrap-phased", "--simulate", "--status"], items: (d) => d.phases, key: "result" },
    { args: ["talos-reboot", "--simulate", "--dry-run"], items: (d) => d.nodes, key: "result" },
    { args: ["talos-apply-config", "--simulate", "--dry-run"], items: (d) => d.nodes, key: "result" },
  ];
  for (const { args, items, key } of runs)
    test(`${args.join(" ")} --json: each item says \`${key}\`, and no retired word is a key`, async () => {
      const r = await runSlowReader(["bun", `scripts/${args[0]}.ts`, ...args.slice(1), "--json"], simEnv);
      const doc = expectContract(r, args.join(" "));
      const list = items(doc);
      expect(list.length, `${args.join(" ")}: items to check`).toBeGreaterThan(0);
      for (const item of list) expect(Object.keys(item as object), args.join(" ")).toContain(key);
      const retired = keysOf(doc).filter((k) => k.key in RETIRED).map((k) => `${k.path} (say ${RETIRED[k.key]})`);
      expect(retired, args.join(" ")).toEqual([]);
    }, 120_000);
});

class Capture {
  text = "";
  isTTY = false;
  write(t: string) {
    this.text += t;
    return true;
  }
}

const every = modules.flatMap(({ file, script }) =>
  Object.entries(allFlags(script.def)).map(([name, def]) => ({ file, script, name, def })),
);

describe("one flag vocabulary", () => {
  test("a flag name means the same type and repetition in every script", () => {
    const seen = new Map<string, { file: string; shape: string }>();
    const clashes: string[] = [];
    for (const { file, name, def } of every) {
      const shape = `${def.type}${"multiple" in def && def.multiple ? "[]" : ""}`;
      const first = seen.get(name);
      // --node is one node where the script acts on one, repeatable where it acts on several; --only selects
      // what the script has (a phase number in bootstrap-phased, check families in validate)
      if (first && first.shape !== shape && name !== "node" && name !== "only") clashes.push(`--${name}: ${first.shape} in ${first.file}, ${shape} in ${file}`);
      if (!first) seen.set(name, { file, shape });
    }
    expect(clashes).toEqual([]);
  });

  test("timeouts are durations, counts are whole numbers, snapshot folders are --snapshot-dir", () => {
    const wrong: string[] = [];
    for (const { file, name, def } of every) {
      if (/(^|-)timeout$/.test(name) && def.type !== "duration") wrong.push(`${file} --${name} is ${def.type}`);
      if (["keep", "retries", "nodes", "sim-nodes", "cert-days", "from"].includes(name) && def.type !== "integer")
        wrong.push(`${file} --${name} is ${def.type}`);
      if (name === "dir") wrong.push(`${file} has --dir (the vocabulary says --snapshot-dir)`);
    }
    expect(wrong).toEqual([]);
  });

  const badDurations = ["10", "", "10x", "-5m", "0s", "m"];
  for (const { file, script, name } of every.filter((f) => f.def.type === "duration")) {
    test(`${file} --${name}: a duration without a unit or otherwise malformed is exit 2 before anything runs`, async () => {
      for (const bad of badDurations) {
        const stdout = new Capture();
        const stderr = new Capture();
        const code = await script.main([`--${name}=${bad}`, "--json"], { stdout, stderr, env: bareEnv });
        expect(code, `--${name}=${JSON.stringify(bad)}`).toBe(2);
        expect(String(expectContract({ stdout: stdout.text, code }, file).error?.message)).toContain(`--${name}`);
      }
    });
  }

  const badIntegers = ["0x10", "1e3", " 3", "-1", "", "3.0", "99999999999999999999"];
  for (const { file, script, name, def } of every.filter((f) => f.def.type === "integer")) {
    test(`${file} --${name}: only a decimal whole number in its range is accepted`, async () => {
      const range = def as Extract<FlagDef, { type: "integer" }>;
      for (const bad of [...badIntegers, String(range.max + 1), ...(range.min > 0 ? [String(range.min - 1)] : [])]) {
        const stdout = new Capture();
        const code = await script.main([`--${name}=${bad}`, "--json"], { stdout, stderr: new Capture(), env: bareEnv });
        expect(code, `--${name}=${JSON.stringify(bad)}`).toBe(2);
        const message = String(expectContract({ stdout: stdout.text, code }, file).error?.message);
        expect(message).toContain(`--${name}`);
      }
    });
  }

  test("an empty value of a string flag is exit 2, not a silent default", async () => {
    const withString = every.filter((f) => f.def.type === "string");
    expect(withString.length).toBeGreaterThan(0);
    for (const { file, script, name } of withString) {
      const stdout = new Capture();
      const code = await script.main([`--${name}=`, "--json"], { stdout, stderr: new Capture(), env: bareEnv });
      expect(code, `${file} --${name}=`).toBe(2);
    }
  });
});

describe("signals", () => {
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    test(`${signal} stops a script after its cleanup with exit ${code}`, async () => {
      const proc = Bun.spawn([process.execPath, "tests/fixtures/cli/wait-forever.ts", "--json"], { cwd: root, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
      const reader = proc.stderr.getReader();
      let seen = "";
      while (!seen.includes("waiting")) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += new TextDecoder().decode(value);
      }
      proc.kill(signal);
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += new TextDecoder().decode(value);
      }
      expect(await proc.exited).toBe(code);
      expect(seen).toContain("cleaned up");
      const doc = expectContract({ stdout: await new Response(proc.stdout).text(), code }, "wait-forever");
      expect(doc.error?.message).toBe(signal === "SIGINT" ? "interrupted" : "terminated");
    }, 30_000);
  }
});
