/**
 * The errors a script may throw. Each maps to one exit code; the message is one sentence the user can act on,
 * and `hint` says what to do next. Anything else thrown is an internal error (exit 1, stack only with --verbose).
 */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  interrupted: 130,
  /** SIGTERM: stopped from outside, after the same cleanup as Ctrl-C */
  terminated: 143,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export class ToolkitError extends Error {
  readonly exitCode: number;
  readonly hint?: string;
  /** the tool's raw words behind a translated message: shown only with --verbose */
  readonly detail?: string;
  constructor(message: string, opts: { exitCode: number; hint?: string; cause?: unknown; detail?: string }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.exitCode = opts.exitCode;
    this.hint = opts.hint;
    this.detail = opts.detail;
  }
}

/** Bad flags or arguments: exit 2. */
export class UsageError extends ToolkitError {
  constructor(message: string, hint?: string) {
    super(message, { exitCode: ExitCode.usage, hint });
  }
}

/** The repo, .env or a tool is not set up as required: exit 2. */
export class ConfigError extends ToolkitError {
  constructor(message: string, hint?: string, cause?: unknown) {
    super(message, { exitCode: ExitCode.usage, hint, cause });
  }
}

/** A check found problems or an operation on the cluster failed: exit 1. */
export class OperationError extends ToolkitError {
  constructor(message: string, hint?: string, cause?: unknown, detail?: string) {
    super(message, { exitCode: ExitCode.failed, hint, cause, detail });
  }
}

/** The user pressed Ctrl-C or a wait was aborted: exit 130 (143 for SIGTERM). */
export class InterruptedError extends ToolkitError {
  constructor(message = "interrupted", exitCode: number = ExitCode.interrupted) {
    super(message, { exitCode });
  }
}
