/** lib/safety: etcd quorum math, the health gates of rolling operations, and the one-node-at-a-time runner. */
export * from "./quorum.ts";
export * from "./gates.ts";
export * from "./rolling.ts";
export { clusterReader, nodeView, volumeView, waitForNodes, NODE_KIND, LONGHORN_VOLUME_KIND, LONGHORN_NAMESPACE } from "./kube-reader.ts";
export { LOCK_FLAGS } from "../cli/flags.ts";
export { withMaintenanceLock, MAINTENANCE_LEASE, LockHeldError, LockLostError, type MaintenanceLock } from "./lock.ts";
