/**
 * Faults injected into the simulated cluster, so every failure path of a live script can be tested. A fault is
 * given as text (`--fault unreachable=mini02`, also the tests' `faults: [...]`) or set on `cluster.faults` while a
 * simulation runs. Node references match a hostname or an IP address.
 *
 * The known faults (FAULT_HELP lists them with their syntax):
 *   unreachable=<node>            the node's Talos API answers nothing (Unavailable / no route to host); etcd and
 *                                 the kubelet keep working (an apid/firewall problem)
 *   partitioned=<node>            the node is cut off the network: Talos API unreachable, its etcd member unhealthy
 *                                 for its peers, its kubelet stops reporting (Node Ready Unknown)
 *   apply-config-fails-once=<node>  the next apply-config on it fails with an EOF, later ones work
 *   bootstrap-not-ready=<n>       the next n bootstrap calls answer `bootstrap is not available yet`
 *   time-not-in-sync=<n>          the next n bootstrap calls answer `time is not in sync yet`
 *   crds-slow=<ms>                CRDs take this long (real ms, scaled by timing) to become Established (sim-controllers)
 *   op-signed-out                 `op` is not signed in
 *   reboot-never-returns=<node>   the node goes down on its next reboot/upgrade and never comes back
 *   router-rejects-routes         the router's inbound policy rejects every route (vtysh shows `(Policy)`)
 * Unknown names are kept (other parts of lib/sim may read them with `get`/`has`), but `parseFault` rejects them
 * unless they are registered with `registerFaultName` first, so a typo on the command line is an error.
 */

// the names and their help live in a file of their own: every live script's --help lists them without this module
import { FAULT_HELP } from "./fault-help.ts";
export { FAULT_HELP };

const NODE_FAULTS = new Set(["unreachable", "partitioned", "apply-config-fails-once", "reboot-never-returns"]);
const COUNT_FAULTS = new Set(["bootstrap-not-ready", "time-not-in-sync", "crds-slow"]);
const FLAG_FAULTS = new Set(["op-signed-out", "router-rejects-routes"]);
const extraNames = new Set<string>();

/** Lets another part of lib/sim accept its own fault name on the command line. */
export function registerFaultName(name: string, help: string): void {
  extraNames.add(name);
  FAULT_HELP[name] = help;
}

export class FaultError extends Error {}

export interface NodeRef {
  hostname: string;
  ipv4: string;
  ipv6?: string;
}

export class Faults {
  /** hostnames or IPs */
  readonly unreachable = new Set<string>();
  readonly partitioned = new Set<string>();
  readonly applyConfigFailsOnce = new Set<string>();
  readonly rebootNeverReturns = new Set<string>();
  bootstrapNotReady = 0;
  timeNotInSync = 0;
  /** real milliseconds a CRD takes to become Established (read by sim-controllers; scaled by timing) */
  crdsSlowMs = 0;
  opSignedOut = false;
  routerRejectsRoutes = false;
  /** faults other parts of lib/sim define, by name -> value ("" for a flag) */
  readonly other = new Map<string, string>();
  private readonly listeners = new Set<() => void>();

  constructor(specs: readonly string[] = []) {
    for (const s of specs) this.add(s);
  }

  /** Adds one fault from its text form; throws FaultError on an unknown name or a bad value. */
  add(spec: string): this {
    const { name, value } = parseFault(spec);
    switch (name) {
      case "unreachable":
        this.unreachable.add(value);
        break;
      case "partitioned":
        this.partitioned.add(value);
        break;
      case "apply-config-fails-once":
        this.applyConfigFailsOnce.add(value);
        break;
      case "reboot-never-returns":
        this.rebootNeverReturns.add(value);
        break;
      case "bootstrap-not-ready":
        this.bootstrapNotReady = Number(value);
        break;
      case "time-not-in-sync":
        this.timeNotInSync = Number(value);
        break;
      case "crds-slow":
        this.crdsSlowMs = Number(value);
        break;
      case "op-signed-out":
        this.opSignedOut = true;
        break;
      case "router-rejects-routes":
        this.routerRejectsRoutes = true;
        break;
      default:
        this.other.set(name, value);
    }
    this.changed();
    return this;
  }

  /** Whether a fault (by name) is active; for node faults, optionally for that node. */
  has(name: string, node?: NodeRef): boolean {
    switch (name) {
      case "unreachable":
        return node ? matches(this.unreachable, node) : this.unreachable.size > 0;
      case "partitioned":
        return node ? matches(this.partitioned, node) : this.partitioned.size > 0;
      case "apply-config-fails-once":
        return node ? matches(this.applyConfigFailsOnce, node) : this.applyConfigFailsOnce.size > 0;
      case "reboot-never-returns":
        return node ? matches(this.rebootNeverReturns, node) : this.rebootNeverReturns.size > 0;
      case "bootstrap-not-ready":
        return this.bootstrapNotReady > 0;
      case "time-not-in-sync":
        return this.timeNotInSync > 0;
      case "crds-slow":
        return this.crdsSlowMs > 0;
      case "op-signed-out":
        return this.opSignedOut;
      case "router-rejects-routes":
        return this.routerRejectsRoutes;
      default:
        return this.other.has(name);
    }
  }

  get(name: string): string | undefined {
    return this.other.get(name);
  }

  /** Removes a fault (all of its nodes, or one node). */
  clear(name: string, node?: string): void {
    const sets: Record<string, Set<string>> = {
      unreachable: this.unreachable,
      partitioned: this.partitioned,
      "apply-config-fails-once": this.applyConfigFailsOnce,
      "reboot-never-returns": this.rebootNeverReturns,
    };
    const set = sets[name];
    if (set) {
      if (node === undefined) set.clear();
      else set.delete(node);
    } else if (name === "bootstrap-not-ready") this.bootstrapNotReady = 0;
    else if (name === "time-not-in-sync") this.timeNotInSync = 0;
    else if (name === "crds-slow") this.crdsSlowMs = 0;
    else if (name === "op-signed-out") this.opSignedOut = false;
    else if (name === "router-rejects-routes") this.routerRejectsRoutes = false;
    else this.other.delete(name);
    this.changed();
  }

  /** The Talos API of the node does not answer (unreachable or partitioned). */
  isUnreachable(node: NodeRef): boolean {
    return matches(this.unreachable, node) || matches(this.partitioned, node);
  }

  /** The node is cut off the network entirely. */
  isPartitioned(node: NodeRef): boolean {
    return matches(this.partitioned, node);
  }

  /** True once for a node with apply-config-fails-once (and consumes it). */
  takeApplyConfigFailure(node: NodeRef): boolean {
    return take(this.applyConfigFailsOnce, node);
  }

  /** True once for a node with reboot-never-returns (and consumes it: the node stays down). */
  takeRebootNeverReturns(node: NodeRef): boolean {
    return take(this.rebootNeverReturns, node);
  }

  /** The error a bootstrap call gets from an injected fault, if any (consumes one count). */
  takeBootstrapFault(): "not-available-yet" | "time-not-in-sync" | undefined {
    if (this.bootstrapNotReady > 0) {
      this.bootstrapNotReady -= 1;
      return "not-available-yet";
    }
    if (this.timeNotInSync > 0) {
      this.timeNotInSync -= 1;
      return "time-not-in-sync";
    }
    return undefined;
  }

  /** Called whenever a fault changes (sim-controllers re-evaluate router policy, CRD lag...). */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The active faults in their text form. */
  list(): string[] {
    const out: string[] = [];
    for (const n of this.unreachable) out.push(`unreachable=${n}`);
    for (const n of this.partitioned) out.push(`partitioned=${n}`);
    for (const n of this.applyConfigFailsOnce) out.push(`apply-config-fails-once=${n}`);
    for (const n of this.rebootNeverReturns) out.push(`reboot-never-returns=${n}`);
    if (this.bootstrapNotReady) out.push(`bootstrap-not-ready=${this.bootstrapNotReady}`);
    if (this.timeNotInSync) out.push(`time-not-in-sync=${this.timeNotInSync}`);
    if (this.crdsSlowMs) out.push(`crds-slow=${this.crdsSlowMs}`);
    if (this.opSignedOut) out.push("op-signed-out");
    if (this.routerRejectsRoutes) out.push("router-rejects-routes");
    for (const [k, v] of this.other) out.push(v === "" ? k : `${k}=${v}`);
    return out;
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }
}

export function parseFault(spec: string): { name: string; value: string } {
  const eq = spec.indexOf("=");
  const name = (eq < 0 ? spec : spec.slice(0, eq)).trim();
  const value = eq < 0 ? "" : spec.slice(eq + 1).trim();
  const known = Object.keys(FAULT_HELP).join(", ");
  if (NODE_FAULTS.has(name)) {
    if (!value) throw new FaultError(`fault "${name}" needs a node: ${name}=<hostname or IP>`);
    return { name, value };
  }
  if (COUNT_FAULTS.has(name)) {
    const n = value === "" ? 1 : Number(value);
    if (!Number.isInteger(n) || n < 0) throw new FaultError(`fault "${name}" needs a whole number, not "${value}"`);
    return { name, value: String(n) };
  }
  if (FLAG_FAULTS.has(name)) {
    if (value) throw new FaultError(`fault "${name}" takes no value`);
    return { name, value };
  }
  if (extraNames.has(name)) return { name, value };
  throw new FaultError(`unknown fault "${name}" (known: ${known})`);
}

function matches(set: Set<string>, node: NodeRef): boolean {
  return set.has(node.hostname) || set.has(node.ipv4) || (node.ipv6 !== undefined && set.has(node.ipv6));
}

function take(set: Set<string>, node: NodeRef): boolean {
  for (const key of [node.hostname, node.ipv4, node.ipv6]) {
    if (key !== undefined && set.has(key)) {
      set.delete(key);
      return true;
    }
  }
  return false;
}
