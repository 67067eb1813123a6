/**
 * Text for a terminal or a pipe: the width human output may use, wrapping and shortening to it, the process's
 * stdout and stderr, and the words for durations and counts. --help needs only this; the Output of a run
 * (output.ts) builds on it and loads only for a run.
 */
export interface Stream {
  write(text: string, done?: (err?: Error | null) => void): unknown;
  isTTY?: boolean;
  /** a TTY's width (process.stdout.columns) */
  columns?: number;
}

/**
 * Columns human output may use: the TTY's width, else $COLUMNS, else unlimited (a pipe or file keeps every line
 * whole for grep).
 */
export function outputWidth(stream: Stream, env: Record<string, string | undefined> = process.env): number | undefined {
  if (stream.isTTY === true && typeof stream.columns === "number" && stream.columns > 0) return stream.columns;
  const cols = env.COLUMNS?.trim();
  if (cols && /^[1-9]\d*$/.test(cols)) return Number(cols);
  return undefined;
}

/** Display width of a line: colour codes take no room, wide characters two columns. */
export function textWidth(text: string): number {
  return Bun.stringWidth(text);
}

/**
 * Wraps one line to `width` columns at spaces; a word longer than the width is cut with an ellipsis. Continuation
 * lines keep the first line's indentation plus two spaces.
 */
export function wrapLine(text: string, width: number | undefined, hang = "  "): string[] {
  if (width === undefined || textWidth(text) <= width) return [text];
  const indent = /^\s*/.exec(text)![0];
  const next = indent + hang;
  const words = text.slice(indent.length).split(/ +/);
  const lines: string[] = [];
  let cur = indent;
  // widths add up across the spaces the line is split at, so each word is measured once, not the line so far
  let curWidth = textWidth(indent);
  const limit = Math.max(width, next.length + 8);
  for (const word of words) {
    const sep = cur.trim() === "" ? "" : " ";
    const wordWidth = textWidth(word);
    if (curWidth + sep.length + wordWidth <= limit) {
      cur += sep + word;
      curWidth += sep.length + wordWidth;
      continue;
    }
    if (cur.trim() !== "") lines.push(cur);
    cur = (lines.length ? next : indent) + word;
    curWidth = textWidth(cur);
    if (curWidth > limit) {
      cur = truncateText(cur, limit);
      curWidth = textWidth(cur);
    }
  }
  if (cur.trim() !== "") lines.push(cur);
  return lines;
}

/** Shortens text to `width` columns, ending in an ellipsis when cut. */
export function truncateText(text: string, width: number): string {
  if (textWidth(text) <= width) return text;
  const plain = text.replace(/\x1b\[[0-9;]*m/g, "");
  let cut = "";
  for (const ch of plain) {
    if (textWidth(cut + ch) > width - 1) break;
    cut += ch;
  }
  return cut + "…";
}

/**
 * stdout or stderr of this process, written through Bun's FileSink. Creating process.stdout costs Bun about 10 ms
 * (it builds Node's stream machinery), more than an empty script takes to run: --help and flag errors answer
 * without it. `drained()` lets the process wait for every byte to reach a slow reader before it exits
 * (process.exit drops what the pipe has not taken yet: JSON cut at 64 KiB). A reader that went away (EPIPE) gets
 * nothing more and is not an error.
 */
export class ProcessStream implements Stream {
  private sink: ReturnType<typeof Bun.stdout.writer> | undefined;
  private pending: Promise<unknown> = Promise.resolve();
  private closed = false;
  private tty: { getWindowSize(size: number[]): unknown } | null | undefined;
  readonly isTTY: boolean;
  constructor(private readonly fd: 1 | 2) {
    this.isTTY = ttyBinding()?.isTTY(fd) ?? (fd === 1 ? process.stdout : process.stderr).isTTY === true;
  }
  /** the terminal's width now (it follows a resize) */
  get columns(): number | undefined {
    if (!this.isTTY) return undefined;
    const size = [0, 0];
    try {
      this.tty ??= new (ttyBinding()!.TTY)(this.fd, {});
      this.tty.getWindowSize(size);
    } catch {
      this.tty = null;
      return (this.fd === 1 ? process.stdout : process.stderr).columns;
    }
    return size[0]! > 0 ? size[0] : undefined;
  }
  write(text: string, done?: (err?: Error | null) => void): boolean {
    if (text === "" || this.closed) {
      done?.();
      return true;
    }
    try {
      this.sink ??= (this.fd === 1 ? Bun.stdout : Bun.stderr).writer();
      this.sink.write(text);
      const flushed = this.sink.flush();
      if (flushed instanceof Promise) this.pending = flushed.catch(() => (this.closed = true));
    } catch {
      this.closed = true;
    }
    done?.();
    return true;
  }
  /** Resolves once everything written so far was taken by the reader (or the reader went away). */
  drained(): Promise<void> {
    return this.pending.then(() => undefined);
  }
}

/** Node's tty_wrap binding as Bun exposes it: isatty and the window size without building process.stdout. */
function ttyBinding():
  | { isTTY(fd: number): boolean; TTY: new (fd: number, ctx: object) => { getWindowSize(size: number[]): unknown } }
  | undefined {
  try {
    const b = (process as unknown as { binding(name: string): unknown }).binding("tty_wrap") as ReturnType<typeof ttyBinding>;
    return typeof b?.isTTY === "function" ? b : undefined;
  } catch {
    return undefined;
  }
}

/** "1m 05s", "3.2s", "120ms": durations as a person reads them. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return `${m}m ${String(s).padStart(2, "0")}s`;
}

/** "1 node", "3 nodes": a count with its noun (plural with -s, or as given). */
export function plural(n: number, noun: string, many = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : many}`;
}
