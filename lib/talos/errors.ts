/**
 * What went wrong in a talosctl call, read from its stderr. talosctl prints errors on stderr and exits 1; per-node
 * errors look like `1 error occurred:\n\t* <node>: rpc error: code = <Code> desc = <text>`.
 */

export type TalosErrorKind =
  /** bootstrap on a bootstrapped cluster: `AlreadyExists desc = etcd data directory is not empty` (treat as done) */
  | "already-exists"
  /** bootstrap too early: `bootstrap is not available yet` (retry) */
  | "not-available-yet"
  /** `time is not in sync yet` (retry) */
  | "time-not-in-sync"
  /** a node in maintenance mode asked without --insecure: `x509: certificate signed by unknown authority` */
  | "maintenance-needs-insecure"
  /** `API is not implemented in maintenance mode` (version/upgrade/reset with --insecure) */
  | "not-implemented-in-maintenance"
  /** a configured node asked with --insecure answers `certificate required` (onedr0p treats it as "configured") */
  | "certificate-required"
  /** `command "X" is not supported with multiple nodes` */
  | "multiple-nodes"
  /** upgrade refusing to break quorum: `etcd member count(2) is insufficient to maintain quorum` */
  | "quorum"
  /** the node's certificate does not fit the address asked or has expired: `x509: certificate is valid for ...` */
  | "certificate-mismatch"
  /** the node does not answer: Unavailable, connection refused, deadline exceeded, no route, timeout */
  | "unreachable"
  /** Kubernetes version out of Talos' range / unsupported upgrade path */
  | "unsupported-version"
  | "other";

export interface NodeError {
  node?: string;
  code?: string;
  message: string;
}

/** Splits talosctl's multi-error block into per-node errors; a plain one-line error becomes one entry. */
export function parseNodeErrors(stderr: string): NodeError[] {
  const errs: NodeError[] = [];
  const bullets = stderr.split("\n").filter((l) => /^\s*\*\s/.test(l));
  const lines = bullets.length > 0 ? bullets.map((l) => l.replace(/^\s*\*\s/, "")) : stderr.split("\n").filter((l) => l.trim());
  for (const raw of lines) {
    const line = raw.trim();
    if (/^\d+ errors? occurred:?$/.test(line)) continue;
    if (/^WARNING:/.test(line)) continue;
    const m = /^(?:error [^:]*: )?([0-9a-fA-F.:\[\]]+|[A-Za-z0-9.-]+): (rpc error: .*)$/.exec(line);
    const text = m ? m[2]! : line;
    const code = /code = (\w+)/.exec(text)?.[1];
    errs.push({ node: m ? m[1] : undefined, code, message: text });
  }
  return errs;
}

const PATTERNS: Array<[TalosErrorKind, RegExp]> = [
  ["already-exists", /AlreadyExists|etcd data directory is not empty/],
  ["not-available-yet", /bootstrap is not available yet/],
  ["time-not-in-sync", /time is not in sync yet/],
  ["not-implemented-in-maintenance", /API is not implemented in maintenance mode/],
  ["maintenance-needs-insecure", /certificate signed by unknown authority/],
  ["certificate-required", /certificate required/],
  ["multiple-nodes", /is not supported with multiple nodes/],
  ["quorum", /insufficient to maintain quorum/],
  ["unsupported-version", /is too (old|new) to be used with Talos|unsupported upgrade path/],
  ["certificate-mismatch", /x509: certificate is valid for|x509: certificate has expired|certificate is not valid for any names/],
  [
    "unreachable",
    /code = Unavailable|code = DeadlineExceeded|connection refused|no route to host|i\/o timeout|context deadline exceeded|connection reset|network is unreachable|host is down/,
  ],
];

export function classifyTalosError(stderr: string): TalosErrorKind {
  for (const [kind, re] of PATTERNS) if (re.test(stderr)) return kind;
  return "other";
}

/**
 * What a classified talosctl error means for the person running the script, in place of the gRPC/TLS text (which is
 * kept for --verbose). Undefined where the tool's own words are the clearest.
 */
export function talosErrorMeaning(kind: TalosErrorKind, text = ""): string | undefined {
  switch (kind) {
    case "maintenance-needs-insecure":
      return "the node does not accept this talosconfig: it is in maintenance mode (no configuration yet) or was configured with other secrets";
    case "not-implemented-in-maintenance":
      return "the node is in maintenance mode and cannot do this before it is configured";
    case "certificate-required":
      return "the node is configured and refuses an --insecure connection";
    case "certificate-mismatch":
      return "the node's certificate does not match the address asked (talosconfig endpoints or node IPs out of date?)";
    case "unreachable":
      if (/connection refused/.test(text))
        return "the node refuses connections on the Talos API port 50000 (still booting, or not a Talos node)";
      if (/\bEOF\b|connection reset|transport is closing/.test(text))
        return "the connection to the node broke off mid-call (EOF: it may be rebooting or restarting its API)";
      return "the node does not answer (powered off, rebooting, or not reachable from here)";
    default:
      return undefined;
  }
}

/**
 * A few words for a table or a status line ("not answering", "in maintenance mode"), from any talosctl error text;
 * the text itself when it is not one of the known kinds.
 */
export function talosErrorShort(text: string): string {
  const kind = classifyTalosError(text);
  switch (kind) {
    case "unreachable":
      if (/connection refused/.test(text)) return "refuses connections on port 50000";
      if (/\bEOF\b|connection reset|transport is closing/.test(text)) return "connection broke off (EOF)";
      return "not answering";
    case "maintenance-needs-insecure":
      return "in maintenance mode, or configured with other secrets";
    case "not-implemented-in-maintenance":
      return "in maintenance mode";
    case "certificate-mismatch":
      return "certificate does not match its address";
    case "certificate-required":
      return "configured (refuses --insecure)";
    default:
      return text;
  }
}

/**
 * Why a node's service did not answer, for a line that already names the node and the service ("etcd on mini02
 * does not answer: its node is not answering"): talosctl's error read through talosErrorShort.
 */
export function whyNoAnswer(e: unknown): string {
  const raw = typeof e === "string" ? e : ((e as { stderr?: string }).stderr ?? (e instanceof Error ? e.message : String(e)));
  const short = talosErrorShort(raw);
  if (short === "not answering") return "its node is not answering";
  return short === raw && e instanceof Error ? e.message : short;
}

/** The line worth showing a person: the first `desc = ...` text, else the first non-empty non-warning line. */
export function talosErrorSummary(stderr: string): string {
  const errs = parseNodeErrors(stderr);
  const first = errs[0];
  if (!first) return "";
  const desc = /desc = (.*)$/.exec(first.message)?.[1];
  const text = desc ?? first.message;
  return first.node ? `${first.node}: ${text}` : text;
}
