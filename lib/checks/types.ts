import type { ClusterModel } from "../repo/model.ts";

/**
 * A finding: one problem at one place. `id` is stable (`family/what`, e.g. `bgp/cause-3-advertisement-not-selected`)
 * so tests, `--json` consumers and suppressions can rely on it; `fix` says what to change.
 */
/** info: something was not checked and says why (a version newer than a table, no talhelper input); never fails a run. */
export type Severity = "error" | "warning" | "info";

export interface Finding {
  id: string;
  severity: Severity;
  /** repo-relative path, forward slashes */
  file: string;
  /** 1-based; 0 when the problem is a missing file or not tied to a line */
  line: number;
  message: string;
  fix: string;
}

export const FAMILIES = ["yaml", "schema", "kustomize", "flux", "ipam", "bgp", "talos", "versions", "secrets"] as const;
export type Family = (typeof FAMILIES)[number];

/** A check family: every check takes the loaded model and returns its findings; it never throws on bad input. */
export type Check = (model: ClusterModel) => Finding[];

export function finding(
  id: string,
  severity: Severity,
  at: { file: string; line: number },
  message: string,
  fix: string,
): Finding {
  return { id, severity, file: at.file, line: at.line, message, fix };
}

/** Sorts by file, line, id: the order humans and tests read. */
export function sortFindings(findings: Finding[]): Finding[] {
  return [...findings].sort(
    (a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.id.localeCompare(b.id) || a.message.localeCompare(b.message),
  );
}

export function familyOf(id: string): string {
  return id.split("/")[0] ?? id;
}
