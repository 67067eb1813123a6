/**
 * A diagnosis: one numbered cause (causes.ts), the rule that found it, the objects it is about (the first one is
 * where validate reports it; `path` points inside that object), what is wrong in words, and the fix.
 */
import { causeInfo, ruleInfo, type CauseId, type RuleId } from "./causes.ts";
import type { ObjectRef } from "./types.ts";

export interface Diagnosis {
  cause: CauseId;
  /** the rulebook rule; undefined for what only a live cluster or the router shows (session, 11, unexplained) */
  rule?: RuleId;
  title: string;
  /** what is wrong, naming the objects */
  message: string;
  fix: string;
  objects: ObjectRef[];
  /** where in objects[0] (YAML path) */
  path?: Array<string | number>;
}

export function diagnose(rule: RuleId, message: string, objects: ObjectRef[], opts: { path?: Array<string | number>; fix?: string } = {}): Diagnosis {
  const r = ruleInfo(rule);
  const info = causeInfo(r.cause);
  return { cause: r.cause, rule, title: info.title, message, fix: opts.fix ?? r.fix ?? info.fix, objects, ...(opts.path ? { path: opts.path } : {}) };
}

/** A diagnosis outside the rulebook's configuration rules (the session, the router, a shortfall). */
export function diagnosis(cause: CauseId, message: string, fix?: string): Diagnosis {
  const info = causeInfo(cause);
  return { cause, title: info.title, message, fix: fix ?? info.fix, objects: [] };
}
