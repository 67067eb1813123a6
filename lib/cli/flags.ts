import { UsageError } from "./errors.ts";

/**
 * The flag vocabulary of home-ops, typed once: every script's flags are one of these types, and the flags more
 * than one script takes (node selection, the snapshot folder, the rolling-operation timeouts) are defined here as
 * groups so they read the same everywhere.
 */

export type FlagDef =
  | { type: "boolean"; short?: string; description: string; default?: boolean }
  | {
      type: "string";
      short?: string;
      description: string;
      default?: string;
      /** shown in --help: `--node <name>` */
      placeholder?: string;
      /** allowed values, checked before run() */
      choices?: readonly string[];
      /** older names still accepted, e.g. etcd-snapshot's --dir for --snapshot-dir */
      aliases?: readonly string[];
      multiple?: false;
    }
  | { type: "string"; short?: string; description: string; placeholder?: string; multiple: true; default?: string[] }
  | {
      /** a duration that names its unit: 90s, 10m, 1h30m, 500ms */
      type: "duration";
      short?: string;
      description: string;
      default?: string;
      placeholder?: string;
    }
  | {
      /** a release version: 1.10.6 or v1.10.6 (a pre-release suffix allowed) */
      type: "version";
      short?: string;
      description: string;
      default?: string;
      placeholder?: string;
    }
  | {
      /** a whole number in decimal within [min, max] */
      type: "integer";
      short?: string;
      description: string;
      default?: number;
      min: number;
      max: number;
      placeholder?: string;
    };

export type FlagDefs = Record<string, FlagDef>;

/** A parsed duration flag: the text as typed (for talosctl's --timeout) and milliseconds. */
export interface Duration {
  text: string;
  ms: number;
}

type FlagValue<D extends FlagDef> = D extends { type: "boolean" }
  ? boolean
  : D extends { type: "duration" }
    ? D extends { default: string }
      ? Duration
      : Duration | undefined
    : D extends { type: "integer" }
      ? D extends { default: number }
        ? number
        : number | undefined
      : D extends { type: "version" }
        ? D extends { default: string }
          ? string
          : string | undefined
      : D extends { multiple: true }
        ? string[]
        : D extends { default: string }
          ? string
          : string | undefined;

export type FlagValues<F extends FlagDefs> = { [K in keyof F]: FlagValue<F[K]> };

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/**
 * Parses a duration that names its unit ("90s", "10m", "1h30m", "500ms"); null otherwise. A bare number is not a
 * duration: `--node-timeout 10` could mean seconds or minutes, so it is refused rather than guessed.
 */
export function parseDurationText(text: string): number | null {
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(text)) return null;
  let ms = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) ms += Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  return Math.round(ms);
}

export function durationValue(name: string, value: string): Duration {
  if (value === "") throw new UsageError(`--${name} needs a value, a duration like 90s, 10m or 1h`);
  if (/^\d+(\.\d+)?$/.test(value))
    throw new UsageError(`--${name} needs a unit: ${value}s or ${value}m, not "${value}"`, "durations are written like 90s, 10m or 1h30m");
  const ms = parseDurationText(value);
  if (ms === null || ms <= 0) throw new UsageError(`--${name} must be a duration like 90s, 10m or 1h, not "${value}"`);
  return { text: value, ms };
}

export function versionValue(name: string, value: string): string {
  if (!/^v?\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?$/.test(value))
    throw new UsageError(`--${name} must be a version like 1.10.6 or v1.10.6, not "${value}"`);
  return value;
}

export function integerValue(name: string, value: string, range: { min: number; max: number }): number {
  const stated = `a whole number from ${range.min} to ${range.max}`;
  if (value === "") throw new UsageError(`--${name} needs a value, ${stated}`);
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < range.min || n > range.max)
    throw new UsageError(`--${name} must be ${stated}, not "${value}"`);
  return n;
}

/** Node selection, repeatable: `--node mini01 --node 172.29.51.12`. */
export function nodesFlag(description: string) {
  return { node: { type: "string", multiple: true, placeholder: "host|ip", description } } as const satisfies FlagDefs;
}

/** One node: `--node mini01`. */
export function nodeFlag(description: string) {
  return { node: { type: "string", placeholder: "host|ip", description } } as const satisfies FlagDefs;
}

/** Where etcd snapshots live; any folder, also outside the repo (a NAS mount). */
export function snapshotDirFlag(description: string, aliases: readonly string[] = []) {
  return {
    "snapshot-dir": { type: "string", default: "backups/etcd", placeholder: "dir", description, aliases },
  } as const satisfies FlagDefs;
}

/**
 * The flags of a rolling operation (reboot, upgrade): which nodes, how long one node may take, how long the health
 * gates may take to pass again before the next node.
 */
export function rollingFlags<T extends string>(verb: string, nodeTimeout: T) {
  return {
    ...nodesFlag(`${verb} only this node`),
    "node-timeout": {
      type: "duration",
      default: nodeTimeout,
      placeholder: "duration",
      description: `how long a node may take to ${verb === "reboot" ? "come back" : `${verb} and come back`}`,
    },
    "gate-timeout": {
      type: "duration",
      default: "15m",
      placeholder: "duration",
      description: "how long the gates may take to pass again after a node",
    },
  } as const satisfies FlagDefs;
}

/** The flag every script that takes the maintenance lock (lib/safety/lock.ts) offers. */
export const LOCK_FLAGS = {
  "break-lock": {
    type: "boolean",
    description: "take the maintenance lock even though another operation holds it (asks for a typed confirmation)",
  },
} as const satisfies FlagDefs;

/**
 * The waits of a bootstrap step: each Kubernetes wait (rollouts, nodes Ready, CRDs, Kustomizations) and the Talos
 * waits (nodes answering, etcd bootstrapping).
 */
export const WAIT_FLAGS = {
  timeout: {
    type: "duration",
    placeholder: "duration",
    default: "15m",
    description: "deadline of each wait (rollouts, nodes Ready, CRDs, Kustomizations), like 90s, 10m",
  },
  "talos-timeout": {
    type: "duration",
    placeholder: "duration",
    default: "10m",
    description: "deadline for Talos nodes to answer and etcd to bootstrap (polled with backoff)",
  },
} as const satisfies FlagDefs;
