import { describe, expect, test } from "bun:test";
import {
  ConfigError,
  defineScript,
  OperationError,
  renderHelp,
  UsageError,
  type FlagDefs,
  type ScriptDef,
} from "../../lib/cli/index.ts";
import { colourEnabled, formatDuration, Output, renderTable } from "../../lib/cli/output.ts";

class Capture {
  text = "";
  isTTY: boolean;
  constructor(isTTY = false) {
    this.isTTY = isTTY;
  }
  write(t: string) {
    this.text += t;
    return true;
  }
}

function io(opts: { tty?: boolean; env?: Record<string, string | undefined>; stdinTTY?: boolean; answer?: string } = {}) {
  const stdout = new Capture(opts.tty);
  const stderr = new Capture(opts.tty);
  return {
    stdout,
    stderr,
    io: {
      stdout,
      stderr,
      env: opts.env ?? {},
      stdin: { isTTY: opts.stdinTTY ?? false },
      readLine: async () => opts.answer ?? null,
    },
  };
}

function script<F extends FlagDefs>(def: Partial<ScriptDef<F>> & Pick<ScriptDef<F>, "run">) {
  return defineScript<F>(null, { name: "demo", area: "dev", summary: "a demo", replaces: ["demo:task"], ...def });
}

describe("defineScript flags", () => {
  test("parses typed flags, defaults and positionals", async () => {
    let seen: unknown;
    const s = script({
      args: "[node...]",
      flags: {
        node: { type: "string", description: "node", multiple: true },
        mode: { type: "string", description: "mode", default: "auto", choices: ["auto", "reboot"] },
        force: { type: "boolean", description: "force" },
      },
      run: ({ flags, args }) => {
        seen = { flags, args };
      },
    });
    const { io: i } = io();
    expect(await s.main(["--node", "a", "--node", "b", "x"], i)).toBe(0);
    expect(seen).toMatchObject({ flags: { node: ["a", "b"], mode: "auto", force: false, json: false }, args: ["x"] });
  });

  test("unknown flag: exit 2 and one line naming it", async () => {
    let ran = false;
    const s = script({ run: () => void (ran = true) });
    const c = io();
    expect(await s.main(["--bogus"], c.io)).toBe(2);
    expect(ran).toBe(false);
    expect(c.stderr.text).toContain("error: Unknown option '--bogus'");
    expect(c.stderr.text).not.toContain("    at ");
  });

  test("a value outside choices is a usage error", async () => {
    const s = script({ flags: { mode: { type: "string", description: "m", choices: ["a", "b"] } }, run: () => {} });
    const c = io();
    expect(await s.main(["--mode", "c"], c.io)).toBe(2);
    expect(c.stderr.text).toContain("--mode must be one of a, b");
  });

  test("positional arguments are refused when the script takes none", async () => {
    const s = script({ run: () => {} });
    const c = io();
    expect(await s.main(["stray"], c.io)).toBe(2);
    expect(c.stderr.text).toContain('unexpected argument "stray"');
  });

  test("--help prints purpose, flags, examples and the replaced target, exit 0, without running", async () => {
    let ran = false;
    const s = script({ examples: ["bun scripts/demo.ts --json"], mutates: true, run: () => void (ran = true) });
    const c = io();
    expect(await s.main(["--help"], c.io)).toBe(0);
    expect(ran).toBe(false);
    expect(c.stdout.text).toContain("demo: a demo");
    expect(c.stdout.text).toContain("--dry-run");
    expect(c.stdout.text).toContain("--yes");
    expect(c.stdout.text).toContain("bun scripts/demo.ts --json");
    expect(c.stdout.text).toContain("Replaces: task demo:task");
  });

  test("--dry-run and --yes exist only on mutating scripts, --simulate only on live ones", () => {
    const ro = renderHelp({ name: "ro", area: "dev", summary: "s", replaces: [], run: () => {} });
    expect(ro).not.toContain("--dry-run");
    expect(ro).not.toContain("--simulate");
    const live = renderHelp({ name: "l", area: "dev", summary: "s", replaces: [], live: true, run: () => {} });
    expect(live).toContain("--simulate");
  });
});

describe("exit codes", () => {
  const cases: Array<[string, () => never, number, string]> = [
    ["usage", () => { throw new UsageError("bad flag", "see --help"); }, 2, "error: bad flag"],
    ["config", () => { throw new ConfigError("no talconfig", "run X"); }, 2, "error: no talconfig"],
    ["operation", () => { throw new OperationError("etcd unhealthy"); }, 1, "error: etcd unhealthy"],
    ["unexpected", () => { throw new TypeError("boom"); }, 1, "error: boom"],
  ];
  for (const [name, thrower, code, message] of cases) {
    test(`${name} error -> exit ${code}, one sentence, no stack`, async () => {
      const c = io();
      expect(await script({ run: thrower }).main([], c.io)).toBe(code);
      expect(c.stderr.text).toContain(message);
      expect(c.stderr.text).not.toMatch(/\n\s+at /);
    });
  }

  test("--verbose adds the stack trace", async () => {
    const c = io();
    const s = script({ run: () => { throw new TypeError("boom"); } });
    expect(await s.main(["--verbose"], c.io)).toBe(1);
    expect(c.stderr.text).toMatch(/\n\s+at /);
  });

  test("run() returning 1 is passed through", async () => {
    expect(await script({ run: () => 1 }).main([], io().io)).toBe(1);
  });

  test("an interrupted run exits 130", async () => {
    const { InterruptedError } = await import("../../lib/cli/errors.ts");
    const c = io();
    const s = script({
      run: () => {
        throw new InterruptedError();
      },
    });
    expect(await s.main([], c.io)).toBe(130);
  });
});

describe("confirmation", () => {
  const destructive = () =>
    script({
      mutates: true,
      run: async ({ confirm }) => {
        await confirm("wipe STATE and EPHEMERAL on 3 nodes", "home-ops");
        return 0;
      },
    });

  test("refuses with exit 2 without a TTY and without --yes", async () => {
    const c = io({ stdinTTY: false });
    expect(await destructive().main([], c.io)).toBe(2);
    expect(c.stderr.text).toContain("refusing to wipe STATE and EPHEMERAL on 3 nodes without confirmation");
  });

  test("--yes passes", async () => {
    expect(await destructive().main(["--yes"], io().io)).toBe(0);
  });

  test("typed name on a TTY passes, a wrong one refuses", async () => {
    expect(await destructive().main([], io({ stdinTTY: true, answer: "home-ops" }).io)).toBe(0);
    const c = io({ stdinTTY: true, answer: "homeops" });
    expect(await destructive().main([], c.io)).toBe(2);
    expect(c.stderr.text).toContain('confirmation did not match "home-ops"');
  });
});

describe("output", () => {
  test("--json: stdout holds exactly one JSON document, human lines go to stderr", async () => {
    const c = io();
    const s = script({
      run: ({ out }) => {
        out.line("human text");
        out.result({ ok: true });
      },
    });
    expect(await s.main(["--json"], c.io)).toBe(0);
    expect(JSON.parse(c.stdout.text)).toEqual({ ok: true });
    expect(c.stderr.text).toContain("human text");
  });

  test("colour only on a TTY and never with NO_COLOR", () => {
    expect(colourEnabled({ write: () => 0, isTTY: true }, {})).toBe(true);
    expect(colourEnabled({ write: () => 0, isTTY: false }, {})).toBe(false);
    expect(colourEnabled({ write: () => 0, isTTY: true }, { NO_COLOR: "1" })).toBe(false);
    const tty = new Capture(true);
    const out = new Output({ stdout: tty, stderr: tty, env: { NO_COLOR: "1" } });
    out.line(`${out.mark("ok")} ${out.bold("done")}`);
    expect(tty.text).toBe("ok done\n");
    expect(tty.text).not.toContain("\x1b[");
  });

  test("progress is drawn only on a TTY stderr", () => {
    const pipe = new Capture(false);
    new Output({ stdout: pipe, stderr: pipe, env: {} }).progress("waiting for etcd");
    expect(pipe.text).toBe("");
    const tty = new Capture(true);
    new Output({ stdout: tty, stderr: tty, env: {} }).progress("waiting for etcd");
    expect(tty.text).toContain("waiting for etcd");
  });

  test("tables render every cell, missing values as '-'", () => {
    const t = renderTable(["node", "ready"], [["mini01", true], ["mini02", null]]);
    expect(t).toContain("mini01");
    expect(t).toContain("true");
    expect(t).toMatch(/mini02\s+│\s+-/);
  });

  test("redaction applies to every line written", () => {
    const c = new Capture();
    const out = new Output({ stdout: c, stderr: c, env: {}, redact: (t) => t.replaceAll("hunter2", "[redacted]") });
    out.line("token=hunter2");
    out.log("again hunter2");
    out.result({ t: "hunter2" });
    expect(c.text).not.toContain("hunter2");
  });

  test("durations", () => {
    expect(formatDuration(120)).toBe("120ms");
    expect(formatDuration(3200)).toBe("3.2s");
    expect(formatDuration(65_000)).toBe("1m 05s");
  });
});
