/**
 * The faults --sim-fault accepts, with their syntax: read by every live script's --help (lib/cli), so it is kept
 * apart from the fault logic (faults.ts, which documents each one and adds names registered by other parts of
 * lib/sim).
 */
export const FAULT_HELP: Record<string, string> = {
  unreachable: "unreachable=<node>: the node's Talos API answers nothing",
  partitioned: "partitioned=<node>: the node is cut off the network (Talos API, etcd peers, kubelet)",
  "apply-config-fails-once": "apply-config-fails-once=<node>: the next apply-config on the node fails once",
  "bootstrap-not-ready": "bootstrap-not-ready=<n>: the next n bootstraps answer `bootstrap is not available yet`",
  "time-not-in-sync": "time-not-in-sync=<n>: the next n bootstraps answer `time is not in sync yet`",
  "crds-slow": "crds-slow=<ms>: CRDs take that long (before scaling) to become Established",
  "op-signed-out": "op-signed-out: the 1Password CLI is not signed in",
  "reboot-never-returns": "reboot-never-returns=<node>: the node never comes back from its next reboot or upgrade",
  "router-rejects-routes": "router-rejects-routes: the router's inbound policy rejects every route",
};
