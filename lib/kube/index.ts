export {
  FIELD_MANAGER,
  KubeClient,
  type KindSpec,
  type KubeObject,
  type ListOptions,
  type MergePatchType,
  type ObjectRef,
  type WaitForOptions,
  type WatchEvent,
} from "./client.ts";
export { condition, conditions, conditionTrue, crdEstablished, nodeReady, rolloutState, type Condition, type ObjectLike, type RolloutState } from "./conditions.ts";
export { isConflict, isNotFound, KubeApiError, toKubeError, type KubeStatus } from "./errors.ts";
export { waitForCrdsEstablished, waitForNodesReady, waitForRollout, type WaitCommon } from "./wait.ts";
