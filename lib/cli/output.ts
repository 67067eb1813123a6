import type TableType from "cli-table3";
import { formatDuration, outputWidth, textWidth, truncateText, wrapLine, type Stream } from "./text.ts";
export { formatDuration, outputWidth, plural, ProcessStream, textWidth, truncateText, wrapLine, type Stream } from "./text.ts";

/**
 * Everything a script shows a person. Human output goes to stdout; progress, warnings and logs go to stderr, so
 * `--json` leaves stdout holding exactly one JSON document. Colour only when the stream is a TTY and NO_COLOR is unset.
 */
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
  /**
   * Keep the --json document until the run ends (defineScript does): an error after it is merged into the one
   * document instead of a second one, and `ok` is added where a script left it out.
   */
  deferResult?: boolean;
}

type Cell = string | number | boolean | null | undefined;

/** A cell longer than this goes below the table as a numbered note. */
const LONG_CELL = 120;

export class Output {
  readonly stdout: Stream;
  readonly stderr: Stream;
  readonly json: boolean;
  readonly verbose: boolean;
  readonly colour: boolean;
  /** columns of the stream human output goes to; undefined = unlimited (a pipe) */
  readonly width: number | undefined;
  /** columns of stderr, where progress and logs go */
  readonly logWidth: number | undefined;
  private readonly progressOnTTY: boolean;
  private progressShown = false;
  private readonly redact: (text: string) => string;
  private readonly deferResult: boolean;
  private pendingResult: { value: unknown } | undefined;
  /** a document was already written with result(value, { now: true }) */
  resultWritten = false;
  private readonly said = new Set<string>();
  /** the progress line of the wait under way: drawn again below each line printed meanwhile */
  private redrawWait: (() => void) | undefined;

  constructor(opts: OutputOptions = {}) {
    this.stdout = opts.stdout ?? process.stdout;
    this.stderr = opts.stderr ?? process.stderr;
    this.json = opts.json ?? false;
    this.verbose = opts.verbose ?? false;
    this.colour = colourEnabled(this.stdout, opts.env);
    this.progressOnTTY = this.stderr.isTTY === true;
    this.redact = opts.redact ?? ((t) => t);
    this.deferResult = opts.deferResult ?? false;
    const env = opts.env ?? process.env;
    this.logWidth = outputWidth(this.stderr, env);
    this.width = this.json ? this.logWidth : outputWidth(this.stdout, env);
  }

  private writeLines(stream: Stream, width: number | undefined, text: string): void {
    // a dry run's commands stay whole, one per line, so they can be copied and run as printed
    const lines = this.redact(text)
      .split("\n")
      .flatMap((l) => (l.startsWith("[dry-run] ") ? [l] : wrapLine(l, width)));
    stream.write(lines.join("\n") + "\n");
  }

  /** A line of human output (suppressed in --json mode, where it goes to stderr instead). */
  line(text = ""): void {
    this.clearProgress();
    this.writeLines(this.json ? this.stderr : this.stdout, this.width, text);
    this.redrawWait?.();
  }

  /** A log line on stderr, always. */
  log(text: string): void {
    this.clearProgress();
    this.writeLines(this.stderr, this.logWidth, text);
    this.redrawWait?.();
  }

  debug(text: string): void {
    if (this.verbose) this.log(this.dim(text));
  }

  warn(text: string): void {
    this.log(`${this.mark("warn")} ${text}`);
  }

  /** A warning said once per run, however many places find the same thing. */
  warnOnce(text: string): void {
    if (this.said.has(text)) return;
    this.said.add(text);
    this.warn(text);
  }

  /**
   * The one JSON document of a --json run. Under defineScript it is written when the run ends (so a later error
   * joins it); `now` writes it at once, for a script that keeps running after it (simulate).
   */
  result(value: unknown, opts: { now?: boolean } = {}): void {
    if (opts.now) {
      this.resultWritten = true;
      this.writeResult(value);
      return;
    }
    if (this.deferResult) {
      this.pendingResult = { value };
      return;
    }
    this.clearProgress();
    this.stdout.write(this.redact(JSON.stringify(value, null, 2)) + "\n");
  }

  /** The JSON document the run set aside with result(), if any. */
  takeResult(): { value: unknown } | undefined {
    const r = this.pendingResult;
    this.pendingResult = undefined;
    return r;
  }

  /** Writes the run's JSON document now (used by defineScript at the end of a run). */
  writeResult(value: unknown): void {
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

  table(head: string[], rows: Cell[][]): string {
    return renderTable(head, rows, this.colour, this.width);
  }

  /**
   * Prints a table as human output, fitted to the terminal. A cell holding long text (a raw error, a list) shows
   * a note number and the text follows the table, so the table keeps its shape at any width.
   */
  printTable(head: string[], rows: Cell[][]): void {
    const notes: string[] = [];
    const shaped = rows.map((row) =>
      row.map((cell) => {
        if (typeof cell !== "string" || Math.max(...cell.split("\n").map(textWidth)) <= LONG_CELL) return cell;
        notes.push(cell);
        return `see [${notes.length}]`;
      }),
    );
    this.line(this.table(head, shaped));
    notes.forEach((n, i) => this.line(`[${i + 1}] ${n}`));
  }

  /**
   * A progress line for long waits: rewritten in place on a TTY, silent otherwise (the final outcome is
   * always printed by the caller as a normal line). Cut to one column less than the terminal, so clearing it
   * never leaves a wrapped half behind.
   */
  progress(text: string): void {
    if (!this.progressOnTTY) return;
    const flat = this.redact(text).replace(/\s*\n\s*/g, " ");
    const width = this.logWidth ?? 80;
    this.stderr.write(`\r\x1b[2K${truncateText(flat, Math.max(width - 1, 10))}`);
    this.progressShown = true;
  }

  clearProgress(): void {
    if (!this.progressShown) return;
    this.stderr.write("\r\x1b[2K");
    this.progressShown = false;
  }

  /**
   * A wait the user should see: on a TTY a line redrawn every second with what is awaited, the time so far and
   * the deadline; elsewhere (a pipe, a log file) one line, once the wait has lasted two seconds, so short waits
   * stay silent. update() changes the detail; done() clears the line.
   */
  wait(what: string, opts: { deadlineMs?: number; now?: () => number } = {}): Waiting {
    const now = opts.now ?? (() => performance.now());
    const started = now();
    let detail = "";
    const deadline = opts.deadlineMs === undefined ? "" : `, deadline ${formatDuration(opts.deadlineMs)}`;
    const draw = () => {
      const elapsed = formatDuration(Math.max(0, now() - started));
      this.progress(`… ${what} (${elapsed}${deadline})${detail ? `: ${detail}` : ""}`);
    };
    let timer: ReturnType<typeof setInterval> | undefined;
    let announce: ReturnType<typeof setTimeout> | undefined;
    if (this.progressOnTTY) {
      draw();
      this.redrawWait = draw;
      timer = setInterval(draw, 1000);
      (timer as { unref?: () => void }).unref?.();
    } else {
      announce = setTimeout(() => this.log(`… ${what}${deadline ? ` (${deadline.slice(2)})` : ""}`), 2000);
      (announce as { unref?: () => void }).unref?.();
    }
    return {
      update: (d: string) => {
        detail = d;
        if (this.progressOnTTY) draw();
      },
      done: () => {
        if (this.redrawWait === draw) this.redrawWait = undefined;
        if (timer) clearInterval(timer);
        if (announce) clearTimeout(announce);
        timer = announce = undefined;
        this.clearProgress();
      },
    };
  }
}

export interface Waiting {
  update(detail: string): void;
  done(): void;
}

/**
 * Column widths (each including one space of padding either side) that fit `width` columns. Every column first
 * gets room for its longest word (names and addresses stay whole); what is left goes to the columns that want
 * more, narrowest want first, so prose wraps before identifiers are cut. When even the words do not fit, the
 * widest columns shrink and their words end in an ellipsis.
 */
export function fitColumns(natural: number[], width: number | undefined, longestWord: number[] = natural): number[] | undefined {
  const borders = natural.length + 1;
  const total = natural.reduce((a, b) => a + b, 0) + borders;
  if (width === undefined || total <= width) return undefined;
  const budget = Math.max(width - borders, natural.length * 5);
  const share = (wants: number[], room: number): number[] => {
    const out = new Array<number>(wants.length).fill(0);
    const order = wants.map((w, i) => [w, i] as const).sort((a, b) => a[0] - b[0]);
    let left = wants.length;
    for (const [w, i] of order) {
      out[i] = Math.min(w, Math.floor(room / left));
      room -= out[i]!;
      left -= 1;
    }
    return out;
  };
  const mins = natural.map((n, i) => Math.max(5, Math.min(n, (longestWord[i] ?? n))));
  const minSum = mins.reduce((a, b) => a + b, 0);
  if (minSum >= budget) return share(mins, budget).map((w) => Math.max(5, w));
  const extra = share(
    natural.map((n, i) => n - mins[i]!),
    budget - minSum,
  );
  return mins.map((m, i) => m + extra[i]!);
}

export function renderTable(head: string[], rows: Cell[][], colour = false, width?: number): string {
  // loaded on first table, not at start: --help and --json runs never draw one
  const Table = require("cli-table3") as typeof TableType;
  const text = rows.map((row) => row.map((cell) => (cell === null || cell === undefined ? "-" : String(cell))));
  const natural = head.map(
    (h, i) => Math.max(textWidth(h), ...text.map((r) => Math.max(0, ...(r[i] ?? "").split("\n").map(textWidth)))) + 2,
  );
  const words = head.map(
    (h, i) => Math.max(textWidth(h), ...text.map((r) => Math.max(0, ...(r[i] ?? "").split(/\s+/).map(textWidth)))) + 2,
  );
  const colWidths = fitColumns(natural, width, words);
  const table = new Table({
    head,
    style: { head: colour ? ["bold"] : [], border: colour ? ["grey"] : [], compact: true },
    chars: { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" },
    ...(colWidths ? { colWidths, wordWrap: true, wrapOnWordBoundary: true } : {}),
  });
  for (const row of text) table.push(row);
  return table.toString();
}
