import type TableType from "cli-table3";

/**
 * Everything a script shows a person. Human output goes to stdout; progress, warnings and logs go to stderr, so
 * `--json` leaves stdout holding exactly one JSON document. Colour only when the stream is a TTY and NO_COLOR is unset.
 */
export interface Stream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export type Status = "ok" | "warn" | "fail" | "skip" | "info";

const MARKS: Record<Status, { plain: string; colour: string }> = {
  ok: { plain: "ok", colour: "\x1b[32m✓\x1b[0m" },
  warn: { plain: "warn", colour: "\x1b[33m!\x1b[0m" },
  fail: { plain: "FAIL", colour: "\x1b[31m✗\x1b[0m" },
  skip: { plain: "skip", colour: "\x1b[90m-\x1b[0m" },
  info: { plain: "info", colour: "\x1b[36mi\x1b[0m" },
};

export function colourEnabled(stream: Stream, env: Record<string, string | undefined> = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "" && env.FORCE_COLOR !== "0") return true;
  return stream.isTTY === true;
}

export interface OutputOptions {
  stdout?: Stream;
  stderr?: Stream;
  json?: boolean;
  verbose?: boolean;
  env?: Record<string, string | undefined>;
  /** Redacts secret values from every line written (lib/exec's redactor). */
  redact?: (text: string) => string;
}

export class Output {
  readonly stdout: Stream;
  readonly stderr: Stream;
  readonly json: boolean;
  readonly verbose: boolean;
  readonly colour: boolean;
  private readonly progressOnTTY: boolean;
  private progressShown = false;
  private readonly redact: (text: string) => string;

  constructor(opts: OutputOptions = {}) {
    this.stdout = opts.stdout ?? process.stdout;
    this.stderr = opts.stderr ?? process.stderr;
    this.json = opts.json ?? false;
    this.verbose = opts.verbose ?? false;
    this.colour = colourEnabled(this.stdout, opts.env);
    this.progressOnTTY = this.stderr.isTTY === true;
    this.redact = opts.redact ?? ((t) => t);
  }

  /** A line of human output (suppressed in --json mode, where it goes to stderr instead). */
  line(text = ""): void {
    this.clearProgress();
    (this.json ? this.stderr : this.stdout).write(this.redact(text) + "\n");
  }

  /** A log line on stderr, always. */
  log(text: string): void {
    this.clearProgress();
    this.stderr.write(this.redact(text) + "\n");
  }

  debug(text: string): void {
    if (this.verbose) this.log(this.dim(text));
  }

  warn(text: string): void {
    this.log(`${this.mark("warn")} ${text}`);
  }

  /** The one JSON document of a --json run. */
  result(value: unknown): void {
    this.clearProgress();
    this.stdout.write(this.redact(JSON.stringify(value, null, 2)) + "\n");
  }

  mark(status: Status): string {
    const m = MARKS[status];
    return this.colour ? m.colour : m.plain;
  }

  bold(text: string): string {
    return this.colour ? `\x1b[1m${text}\x1b[0m` : text;
  }

  dim(text: string): string {
    return this.colour ? `\x1b[90m${text}\x1b[0m` : text;
  }

  table(head: string[], rows: Array<Array<string | number | boolean | null | undefined>>): string {
    return renderTable(head, rows, this.colour);
  }

  /** Prints a table as human output. */
  printTable(head: string[], rows: Array<Array<string | number | boolean | null | undefined>>): void {
    this.line(this.table(head, rows));
  }

  /**
   * A progress line for long waits: rewritten in place on a TTY, silent otherwise (the final outcome is
   * always printed by the caller as a normal line).
   */
  progress(text: string): void {
    if (!this.progressOnTTY) return;
    this.stderr.write(`\r\x1b[2K${this.redact(text)}`);
    this.progressShown = true;
  }

  clearProgress(): void {
    if (!this.progressShown) return;
    this.stderr.write("\r\x1b[2K");
    this.progressShown = false;
  }
}

export function renderTable(
  head: string[],
  rows: Array<Array<string | number | boolean | null | undefined>>,
  colour = false,
): string {
  // loaded on first table, not at start: --help and --json runs never draw one
  const Table = require("cli-table3") as typeof TableType;
  const table = new Table({
    head,
    style: { head: colour ? ["bold"] : [], border: colour ? ["grey"] : [], compact: true },
    chars: { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" },
  });
  for (const row of rows) table.push(row.map((cell) => (cell === null || cell === undefined ? "-" : String(cell))));
  return table.toString();
}

/** "1m 05s", "3.2s", "120ms": durations as a person reads them. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return `${m}m ${String(s).padStart(2, "0")}s`;
}
