/**
 * A record of what bootstrap ran, in the git-ignored .home-ops/ folder. It is shown by `--status` as history and is
 * never read to decide anything: each phase's state comes from the cluster.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";

export interface JournalEntry {
  at: string;
  phase: number;
  event: "started" | "done" | "failed" | "interrupted" | "skipped";
  ms?: number;
  message?: string;
}

export class Journal {
  readonly file: string;
  /**
   * The journal of the repo at `root`: in its git-ignored .home-ops/, or in $HOMEOPS_STATE_DIR where --simulate
   * points it, so rehearsals never show up in the real cluster's history.
   */
  constructor(root: string, env: Record<string, string | undefined> = {}) {
    this.file = path.join(env.HOMEOPS_STATE_DIR || path.join(root, ".home-ops"), "bootstrap-journal.jsonl");
  }

  record(e: Omit<JournalEntry, "at">): void {
    try {
      mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
      appendFileSync(this.file, JSON.stringify({ at: new Date().toISOString(), ...e }) + "\n", { mode: 0o600 });
    } catch {
      /* the journal is a convenience: never fail a bootstrap over it */
    }
  }

  /** The last entry per phase. */
  last(): Map<number, JournalEntry> {
    const out = new Map<number, JournalEntry>();
    if (!existsSync(this.file)) return out;
    for (const line of readFileSync(this.file, "utf8").split("\n")) {
      if (!line.trim()) continue;
      try {
        const e = JSON.parse(line) as JournalEntry;
        out.set(e.phase, e);
      } catch {
        /* a torn last line after a kill */
      }
    }
    return out;
  }
}
