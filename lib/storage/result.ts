/**
 * The result rows of the live storage and network checks: one line per subject (node, disk, volume, setting) and
 * check, with a status, what was seen, and the fix when it is not ok.
 */
import type { Output, Status } from "../cli/output.ts";

export type CheckStatus = "ok" | "warn" | "fail" | "info";

export interface CheckLine {
  subject: string;
  check: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

export function line(subject: string, check: string, status: CheckStatus, detail: string, fix?: string): CheckLine {
  return fix === undefined || status === "ok" || status === "info" ? { subject, check, status, detail } : { subject, check, status, detail, fix };
}

export interface CheckSummary {
  ok: boolean;
  failed: number;
  warnings: number;
  checks: CheckLine[];
}

export function summarize(checks: CheckLine[]): CheckSummary {
  const failed = checks.filter((c) => c.status === "fail").length;
  return { ok: failed === 0, failed, warnings: checks.filter((c) => c.status === "warn").length, checks };
}

/** A table of every check, then each failure's and warning's fix. */
export function printChecks(out: Output, title: string, s: CheckSummary): void {
  out.line(out.bold(title));
  out.printTable(
    ["", "subject", "check", "seen"],
    s.checks.map((c) => [out.mark(c.status as Status), c.subject, c.check, c.detail]),
  );
  const withFix = s.checks.filter((c) => c.fix);
  if (withFix.length) {
    out.line();
    for (const c of withFix) out.line(`${out.mark(c.status as Status)} ${c.subject} ${c.check}: ${c.fix}`);
  }
  out.line();
  out.line(
    s.ok
      ? `${out.mark("ok")} all ${s.checks.length} checks passed${s.warnings ? ` (${s.warnings} warning(s))` : ""}`
      : `${out.mark("fail")} ${s.failed} check(s) failed${s.warnings ? `, ${s.warnings} warning(s)` : ""}`,
  );
}
