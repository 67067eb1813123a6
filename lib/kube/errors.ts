/**
 * Turns what @kubernetes/client-node throws (ApiException with a Status body, node-fetch FetchError, TLS errors)
 * into the toolkit's errors: one sentence saying what failed and what to do.
 */
import { ConfigError, OperationError, ToolkitError } from "../cli/errors.ts";

export interface KubeStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { name?: string; kind?: string; group?: string; causes?: { field?: string; message?: string; reason?: string }[] };
}

/** The API answered with an error Status (404, 409, 422, ...). */
export class KubeApiError extends OperationError {
  readonly code: number;
  readonly reason: string;
  readonly status: KubeStatus;
  constructor(message: string, status: KubeStatus, code: number, hint?: string, cause?: unknown) {
    super(message, hint, cause);
    this.code = code;
    this.reason = status.reason ?? "";
    this.status = status;
  }
}

export function isNotFound(e: unknown): boolean {
  return e instanceof KubeApiError && e.code === 404;
}
export function isConflict(e: unknown): boolean {
  return e instanceof KubeApiError && e.code === 409;
}

function errorCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 5 && cur && typeof cur === "object"; i++) {
    const c = cur as { code?: unknown; errno?: unknown; cause?: unknown };
    if (typeof c.code === "string") return c.code;
    if (typeof c.errno === "string") return c.errno;
    cur = c.cause;
  }
  return undefined;
}

function fullMessage(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let i = 0; i < 5 && cur; i++) {
    if (cur instanceof Error) parts.push(cur.message);
    else if (typeof cur === "string") parts.push(cur);
    cur = cur && typeof cur === "object" ? (cur as { cause?: unknown }).cause : undefined;
  }
  return parts.join(": ");
}

function parseBody(body: unknown): KubeStatus | undefined {
  if (body && typeof body === "object") return body as KubeStatus;
  if (typeof body === "string") {
    try {
      const parsed = JSON.parse(body) as unknown;
      if (parsed && typeof parsed === "object") return parsed as KubeStatus;
    } catch {
      return { message: body.trim().slice(0, 300) };
    }
  }
  return undefined;
}

/**
 * `action` says what was being done ("list nodes", "apply ConfigMap flux-system/x"); `server` is the API URL.
 * Returns the error to throw.
 */
export function toKubeError(e: unknown, server: string, action: string): ToolkitError {
  if (e instanceof ToolkitError) return e;
  const ex = e as { code?: unknown; body?: unknown; statusCode?: unknown } | undefined;
  const httpCode = typeof ex?.code === "number" ? ex.code : typeof ex?.statusCode === "number" ? ex.statusCode : undefined;
  if (httpCode !== undefined) {
    const status = parseBody(ex?.body) ?? {};
    const msg = status.message ?? `HTTP ${httpCode}`;
    const hint =
      httpCode === 401 || httpCode === 403
        ? "the credentials in KUBECONFIG are not allowed to do this: regenerate the kubeconfig (talosctl kubeconfig)"
        : undefined;
    return new KubeApiError(`cannot ${action}: ${msg}`, status, httpCode, hint, e);
  }
  const code = errorCode(e);
  const text = fullMessage(e);
  const unreachable: Record<string, string> = {
    ECONNREFUSED: "connection refused",
    ECONNRESET: "connection reset",
    EHOSTUNREACH: "host unreachable",
    ENETUNREACH: "network unreachable",
    ETIMEDOUT: "connection timed out",
    ENOTFOUND: "host not found",
    EAI_AGAIN: "host not found",
    ConnectionRefused: "connection refused",
    FailedToOpenSocket: "connection refused",
  };
  const why = (code && unreachable[code]) ?? (/ECONNREFUSED|connection refused/i.test(text) ? "connection refused" : undefined);
  if (why) {
    return new OperationError(`cannot reach the Kubernetes API at ${server}: ${why} — is the cluster up? check KUBECONFIG`, undefined, e);
  }
  if (/certificate|self[- ]signed|SSL|TLS|handshake|UNABLE_TO_VERIFY|ERR_TLS|DEPTH_ZERO|alert/i.test(`${code ?? ""} ${text}`)) {
    return new ConfigError(
      `the Kubernetes API at ${server} refused the TLS connection (${text.split("\n")[0]}) — check that KUBECONFIG belongs to this cluster`,
      "regenerate it with `talosctl kubeconfig` after a cluster rebuild",
      e,
    );
  }
  return new OperationError(`cannot ${action}: ${text || String(e)}`, undefined, e);
}
