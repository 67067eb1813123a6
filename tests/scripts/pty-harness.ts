/**
 * Runs a script in a real pseudo-terminal (util-linux `script`, with `stty cols`) and replays what it wrote the way a
 * terminal would: carriage returns, erase-line, colour codes taking no room, wide characters two columns. What a
 * person would see is then checkable: lines wider than the terminal (they would wrap), progress lines left behind,
 * and what the screen showed while the script was silent.
 */
import path from "node:path";

const ROOT = path.resolve(import.meta.dir, "../..");

export interface PtyRun {
  code: number;
  /** every line the terminal ended with (the scrollback), colour removed */
  lines: string[];
  /** lines that were wider than the terminal when written (a terminal wraps them) */
  overflow: string[];
  /** progress lines drawn in place (`\r\x1b[2K…` then text, no newline) */
  progressDraws: number;
  /** for each silence longer than `silenceMs`: what the current line showed */
  silences: Array<{ ms: number; showing: string }>;
}

/** A progress line of lib/cli (Output.wait): "… what (elapsed, deadline)". */
export const PROGRESS = /^\s*… /;

export class Screen {
  lines: string[] = [];
  cur = "";
  col = 0;
  overflow: string[] = [];
  progressDraws = 0;
  private pendingClear = false;
  constructor(private readonly cols: number) {}

  /** the start of an escape sequence a chunk ended in (the pty splits output anywhere, even inside `\x1b[90m`) */
  private partial = "";

  feed(chunk: string): void {
    const text = this.partial + chunk;
    this.partial = "";
    let i = 0;
    while (i < text.length) {
      const ch = text[i]!;
      if (ch === "\x1b") {
        const rest = text.slice(i);
        const m = /^\x1b\[[0-9;?]*[A-Za-z]/.exec(rest);
        if (!m && /^\x1b(\[[0-9;?]*)?$/.test(rest)) {
          this.partial = rest; // the rest of it comes with the next chunk
          return;
        }
        if (m) {
          if (m[0] === "\x1b[2K") {
            this.cur = "";
            this.pendingClear = true;
          }
          i += m[0].length;
          continue;
        }
        i += 1;
        continue;
      }
      if (ch === "\r") {
        this.col = 0;
        i += 1;
        continue;
      }
      if (ch === "\n") {
        this.lines.push(this.cur);
        this.cur = "";
        this.col = 0;
        this.pendingClear = false;
        i += 1;
        continue;
      }
      const cp = text.codePointAt(i)!;
      const s = String.fromCodePoint(cp);
      const w = Bun.stringWidth(s);
      if (this.pendingClear && this.col === 0 && s === "…") this.progressDraws += 1;
      this.pendingClear = false;
      if (this.col + w > this.cols) this.overflow.push(this.cur + s);
      // overwrite at the cursor (a line redrawn after \r replaces what was there)
      const chars = [...this.cur];
      const before = chars.slice(0, this.col).join("").padEnd(this.col, " ");
      this.cur = before + s + chars.slice(this.col + 1).join("");
      this.col += w;
      i += s.length;
    }
  }

  /** the line the cursor is on, as shown */
  showing(): string {
    return this.cur;
  }

  all(): string[] {
    return this.cur ? [...this.lines, this.cur] : this.lines;
  }
}

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** Runs `bun scripts/<name>.ts args` at `cols` columns in a pseudo-terminal. */
export async function runInPty(
  name: string,
  args: string[],
  opts: { cols: number; env?: Record<string, string>; timeoutMs?: number; silenceMs?: number },
): Promise<PtyRun> {
  const command = `stty cols ${opts.cols} rows 50; exec ${shellQuote(process.execPath)} ${["scripts/" + name + ".ts", ...args].map(shellQuote).join(" ")}`;
  const env: Record<string, string> = { ...(process.env as Record<string, string>), ...(opts.env ?? {}) };
  delete env.COLUMNS; // the width must come from the terminal itself
  delete env.NO_COLOR;
  const proc = Bun.spawn(["script", "-q", "-e", "-c", command, "/dev/null"], { cwd: ROOT, env, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
  const screen = new Screen(opts.cols);
  const silences: PtyRun["silences"] = [];
  const silenceMs = opts.silenceMs ?? 4000;
  const decoder = new TextDecoder();
  let last = performance.now();
  let started = false;
  for await (const chunk of proc.stdout) {
    const now = performance.now();
    // a silence is judged once the script has written something (bun's own start-up is not a wait)
    if (started && now - last > silenceMs) silences.push({ ms: Math.round(now - last), showing: screen.showing() });
    started = true;
    last = now;
    screen.feed(decoder.decode(chunk, { stream: true }));
  }
  const code = await proc.exited;
  clearTimeout(timer);
  const strip = (l: string) => l.replace(/\s+$/, "");
  return { code, lines: screen.all().map(strip), overflow: screen.overflow, progressDraws: screen.progressDraws, silences };
}
