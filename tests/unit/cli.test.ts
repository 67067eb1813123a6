import { describe, expect, test } from "bun:test";
import {
  allFlags,
  ConfigError,
  defineScript,
  helpAsked,
  OperationError,
  renderHelp,
  UsageError,
  type FlagDefs,
  type ScriptDef,
} from "../../lib/cli/index.ts";
import { colourEnabled, formatDuration, Output, renderTable } from "../../lib/cli/output.ts";
import { runScript } from "../../lib/cli/run.ts";

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

  describe("a help request is answered before parseArgs, and only a real one", () => {
    const flags = {
      node: { type: "string", short: "n", multiple: true, description: "node" },
      cmd: { type: "string", description: "command", aliases: ["command"] },
      timeout: { type: "duration", default: "10m", description: "timeout" },
    } as const satisfies FlagDefs;
    const def = { name: "demo", area: "dev", summary: "a demo", replaces: [], flags, run: () => {} } satisfies ScriptDef<typeof flags>;
    const withArgs = { ...def, args: "[node...]" };
    // [argv, takes positionals, a help request?]
    const cases: [string[], boolean, boolean][] = [
      [["--help"], false, true],
      [["-h"], false, true],
      [["-vh"], false, true],
      [["-hv"], false, true],
      [["--json", "--help", "-v"], false, true],
      [["--node", "mini01", "--help"], false, true],
      [["-n", "mini01", "-h"], false, true],
      [["--command", "ls", "--help"], false, true],
      [["mini01", "--help"], true, true],
      [["--help", "--"], false, true],
      // --help as a value, after --, or next to something parseArgs refuses: not answered early
      [["--cmd=--help"], false, false],
      [["--cmd", "--help"], false, false],
      [["-n-h"], false, false],
      [["-nh"], false, false],
      [["--", "--help"], true, false],
      [["--help", "--", "x"], false, false],
      [["--help=1"], false, false],
      [["--bogus", "--help"], false, false],
      [["-x", "-h"], false, false],
      [["stray", "--help"], false, false],
      [["--cmd"], false, false],
      [[], false, false],
    ];
    for (const [argv, positionals, expected] of cases)
      test(`${JSON.stringify(argv)}${positionals ? " (takes arguments)" : ""}: ${expected ? "help" : "not answered early"}`, () => {
        const d = positionals ? withArgs : def;
        expect(helpAsked(allFlags(d), argv, positionals)).toBe(expected);
      });

    test("every early answer is the one the full parse (parseArgs) gives", async () => {
      for (const [argv, positionals, expected] of cases) {
        if (!expected) continue;
        const c = io();
        expect(await runScript(positionals ? withArgs : def, null, argv, c.io), JSON.stringify(argv)).toBe(0);
        expect(c.stdout.text, JSON.stringify(argv)).toContain("demo: a demo");
      }
    });

    test("--help as the value of a string flag runs the script with that value", async () => {
      let seen: unknown;
      const s = script({ flags, run: ({ flags }) => void (seen = flags.cmd) });
      const c = io();
      expect(await s.main(["--cmd=--help"], c.io)).toBe(0);
      expect(seen).toBe("--help");
      expect(c.stdout.text).not.toContain("demo: a demo");
      const ambiguous = io();
      expect(await s.main(["--cmd", "--help"], ambiguous.io)).toBe(2);
      expect(ambiguous.stderr.text).toContain("error: Option '--cmd' argument is ambiguous");
    });

    test("--help after -- is an argument", async () => {
      let seen: unknown;
      const s = script({ flags, args: "[x...]", run: ({ args }) => void (seen = args) });
      expect(await s.main(["--", "--help"], io().io)).toBe(0);
      expect(seen).toEqual(["--help"]);
    });

    test("a help request with a bad value of a known flag gets the help (values are checked for a run)", async () => {
      const s = script({ flags, run: () => {} });
      const c = io();
      expect(await s.main(["--timeout", "10", "--help"], c.io)).toBe(0);
      expect(c.stdout.text).toContain("demo: a demo");
      expect(await s.main(["--timeout", "10"], io().io)).toBe(2);
    });
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

describe("fitting the terminal", () => {
  const { fitColumns, outputWidth, truncateText, wrapLine, plural } = require("../../lib/cli/output.ts") as typeof import("../../lib/cli/output.ts");
  const widest = (text: string) => Math.max(...text.split("\n").map((l) => Bun.stringWidth(l)));

  test("the width comes from the TTY, else $COLUMNS, else unlimited", () => {
    expect(outputWidth({ write: () => 0, isTTY: true, columns: 100 }, { COLUMNS: "60" })).toBe(100);
    expect(outputWidth({ write: () => 0, isTTY: false }, { COLUMNS: "60" })).toBe(60);
    expect(outputWidth({ write: () => 0, isTTY: false }, {})).toBeUndefined();
    expect(outputWidth({ write: () => 0, isTTY: false }, { COLUMNS: "wide" })).toBeUndefined();
  });

  test("a table fits the width: prose wraps, names stay whole where they can", () => {
    const rows = [
      ["mini01", "172.29.51.11", "a long explanation of what this node is doing right now, in several words"],
      ["mini02", "172.29.51.12", "short"],
    ];
    for (const width of [40, 60, 80]) {
      const t = renderTable(["node", "ip", "detail"], rows, false, width);
      expect(widest(t)).toBeLessThanOrEqual(width);
      expect(t).toContain("172.29.51.11");
    }
    // unlimited: one line per row
    expect(renderTable(["node", "ip", "detail"], rows).split("\n")).toHaveLength(5);
  });

  test("column widths: unchanged when they fit, never wider than the budget", () => {
    expect(fitColumns([10, 10], 80)).toBeUndefined();
    const w = fitColumns([20, 60, 30], 60, [10, 15, 12])!;
    expect(w.reduce((a, b) => a + b, 0) + 4).toBeLessThanOrEqual(60);
    expect(w[0]).toBeGreaterThanOrEqual(10);
  });

  test("a long cell goes below the table as a note; the table keeps its shape", () => {
    const c = new Capture();
    const out = new Output({ stdout: c, stderr: c, env: { COLUMNS: "80" } });
    const raw = `reboot failed: ${"rpc error: code = Unavailable desc = connection error ".repeat(4)}`;
    out.printTable(["node", "detail"], [["mini01", raw], ["mini02", "ok"]]);
    expect(c.text).toContain("see [1]");
    expect(c.text).toContain("[1] reboot failed:");
    expect(widest(c.text)).toBeLessThanOrEqual(80);
  });

  test("messages wrap at the width with an indented continuation; an unbreakable word is cut with …", () => {
    const lines = wrapLine("error: " + "word ".repeat(30), 40);
    expect(lines.length).toBeGreaterThan(1);
    for (const l of lines) expect(Bun.stringWidth(l)).toBeLessThanOrEqual(40);
    expect(lines[1]).toStartWith("  ");
    expect(truncateText("x".repeat(50), 10)).toBe("x".repeat(9) + "…");
  });

  test("a progress line is one column narrower than the terminal, so clearing it leaves nothing behind", () => {
    const tty = Object.assign(new Capture(true), { columns: 30 });
    const out = new Output({ stdout: tty, stderr: tty, env: {} });
    out.progress("x".repeat(30));
    const drawn = tty.text.replace("\r\x1b[2K", "");
    expect(Bun.stringWidth(drawn)).toBe(29);
    out.log("next");
    expect(tty.text.endsWith("\r\x1b[2Knext\n")).toBe(true);
  });

  test("a wait on a TTY says what, how long and the deadline; done() clears it", () => {
    const tty = Object.assign(new Capture(true), { columns: 120 });
    const out = new Output({ stdout: tty, stderr: tty, env: {} });
    let now = 0;
    const w = out.wait("mini01: rebooting", { deadlineMs: 600_000, now: () => now });
    now = 12_000;
    w.update("stage booting");
    w.done();
    expect(tty.text).toContain("… mini01: rebooting (12.0s, deadline 10m 00s): stage booting");
    expect(tty.text.endsWith("\r\x1b[2K")).toBe(true);
  });

  test("a short wait on a pipe writes nothing", () => {
    const pipe = new Capture(false);
    const out = new Output({ stdout: pipe, stderr: pipe, env: {} });
    out.wait("reading the cluster").done();
    expect(pipe.text).toBe("");
  });

  test("counts read as words", () => {
    expect(plural(1, "node")).toBe("1 node");
    expect(plural(3, "node")).toBe("3 nodes");
    expect(plural(2, "family", "families")).toBe("2 families");
  });

  test("--help fits 80 columns", () => {
    const help = renderHelp(
      {
        name: "demo",
        area: "dev",
        summary: "a summary that is long enough to need wrapping when the terminal is only eighty columns wide, as here",
        description: "A paragraph of description that goes on and on.\nIt was written at 120 columns and must be rewrapped to fit a narrower terminal without losing words.",
        replaces: [],
        mutates: true,
        live: true,
        run: () => {},
      },
      80,
    );
    expect(widest(help)).toBeLessThanOrEqual(80);
    expect(help).toContain("rewrapped");
  });
});

describe("typed flags", () => {
  const { durationValue, integerValue, parseDurationText, versionValue } = require("../../lib/cli/flags.ts") as typeof import("../../lib/cli/flags.ts");

  test("durations name their unit", () => {
    expect(durationValue("t", "90s")).toEqual({ text: "90s", ms: 90_000 });
    expect(parseDurationText("1h30m")).toBe(5_400_000);
    expect(parseDurationText("500ms")).toBe(500);
    expect(() => durationValue("node-timeout", "10")).toThrow('--node-timeout needs a unit: 10s or 10m, not "10"');
    for (const bad of ["", "10x", "-5m", "0s", "m", " 5m"]) expect(() => durationValue("t", bad)).toThrow(UsageError);
  });

  test("whole numbers are decimal and within their range", () => {
    expect(integerValue("n", "3", { min: 1, max: 5 })).toBe(3);
    for (const bad of ["0x10", "1e3", " 3", "-1", "", "3.0", "6", "0"]) expect(() => integerValue("n", bad, { min: 1, max: 5 })).toThrow(/--n/);
    expect(() => integerValue("sim-nodes", "0", { min: 1, max: 1000 })).toThrow("--sim-nodes must be a whole number from 1 to 1000");
  });

  test("versions look like versions", () => {
    expect(versionValue("to", "v1.10.6")).toBe("v1.10.6");
    expect(versionValue("to", "1.32.4")).toBe("1.32.4");
    expect(() => versionValue("to", "abc")).toThrow(UsageError);
  });

  test("an alias is the same flag; giving both is an error", async () => {
    let seen: unknown;
    const s = script({
      flags: { "snapshot-dir": { type: "string", default: "backups/etcd", description: "d", aliases: ["dir"] } },
      run: ({ flags }) => void (seen = flags["snapshot-dir"]),
    });
    expect(await s.main(["--dir", "/mnt/nas"], io().io)).toBe(0);
    expect(seen).toBe("/mnt/nas");
    expect(await s.main(["--dir", "a", "--snapshot-dir", "b"], io().io)).toBe(2);
  });
});

describe("--json contract", () => {
  test("an error is the JSON error object on stdout, as well as its exit code", async () => {
    const c = io();
    const s = script({ run: () => { throw new ConfigError("no talconfig", "run X"); } });
    expect(await s.main(["--json"], c.io)).toBe(2);
    expect(JSON.parse(c.stdout.text)).toEqual({ ok: false, error: { message: "no talconfig", hint: "run X", exitCode: 2 } });
  });

  test("a result without ok gets it from the exit code; a failed check says so in error", async () => {
    const c = io();
    expect(await script({ run: ({ out }) => { out.result({ items: [1] }); return 1; } }).main(["--json"], c.io)).toBe(1);
    const doc = JSON.parse(c.stdout.text);
    expect(doc.ok).toBe(false);
    expect(doc.items).toEqual([1]);
    expect(doc.error.exitCode).toBe(1);
  });

  test("a flag error in JSON mode is the error object too", async () => {
    const c = io();
    expect(await script({ run: () => {} }).main(["--json", "--bogus"], c.io)).toBe(2);
    expect(JSON.parse(c.stdout.text).error.message).toContain("--bogus");
  });
});
