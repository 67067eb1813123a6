/**
 * lib/talos: talosctl/talhelper wrappers with typed results, parsers for their real output formats, and the Talos
 * operations the scripts (and lib/bootstrap) share. See each module for details.
 */
export * from "./parse.ts";
export * from "./errors.ts";
export * from "./poll.ts";
export * from "./versions.ts";
export { Talosctl, TalosctlError, APPLY_MODES, MAINTENANCE_APPLY_MODES, durationToMs } from "./talosctl.ts";
export type { ApplyMode, NodeMode, TalosctlOptions, CallOptions, ResetOptions } from "./talosctl.ts";
export { genconfig, genconfigArgs, gencommand, verifyGenerated } from "./talhelper.ts";
export { generateClusterConfig } from "./generate.ts";
export type { GenerateOptions, GenerateResult } from "./generate.ts";
export type { GenconfigOptions, GenconfigResult, ExpectedConfig } from "./talhelper.ts";
export {
  loadCluster,
  inventoryFromModel,
  talosconfigPath,
  kubeconfigPath,
  clusterconfigDir,
  talsecretFile,
  makeTalosctl,
  selectNodes,
  extendInventory,
  withDiscoveredNodes,
  talosconfigNodes,
  timestamp,
} from "./cluster.ts";
export type { TalosNode, TalosCluster } from "./cluster.ts";
export { applyToNodes, configFileFor, isTransient } from "./apply.ts";
export type { ApplyNodeResult } from "./apply.ts";
export { bootstrapEtcd, waitConfiguredRunning, fetchKubeconfig, deadlineIn, remaining } from "./bootstrap.ts";
export type { Deadline, BootstrapOutcome } from "./bootstrap.ts";
export { takeSnapshot, listSnapshots, snapshotsToPrune, deleteSnapshots, pickSnapshotSource, verifySnapshot, snapshotName } from "./snapshot.ts";
export type { TakenSnapshot, SnapshotFile } from "./snapshot.ts";
export { planReset, checkSingleReset, resetNode } from "./reset.ts";
export { waitEtcdPreparing, waitRecovered, requireReachable } from "./recovery.ts";
export { rollingReboot, rollingUpgrade, nodeRuns, waitRunning } from "./rolling-ops.ts";
export { compareExtensions, shortExtensionName } from "./extensions.ts";
export { collectStatus, buildReport } from "./status.ts";
export type { StatusReport, NodeStatus } from "./status.ts";
