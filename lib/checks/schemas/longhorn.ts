import { z } from "zod";

/**
 * Longhorn settings as home-ops sets them: the chart's `defaultSettings` (HelmRelease values) and `Setting` objects
 * (longhorn.io/v1beta2). Unknown setting names are errors: Longhorn ignores them, so a typo silently keeps the
 * default (e.g. the replica-replenishment wait that matters for Talos reboots).
 */
const SETTINGS = [
  "allowRecurringJobWhileVolumeDetached", "allowVolumeCreationWithDegradedAvailability", "autoCleanupSystemGeneratedSnapshot",
  "autoCleanupRecurringJobBackupSnapshot", "autoDeletePodWhenVolumeDetachedUnexpectedly", "autoSalvage",
  "backingImageCleanupWaitInterval", "backingImageRecoveryWaitInterval", "backupCompressionMethod", "backupConcurrentLimit",
  "backupTarget", "backupTargetCredentialSecret", "backupstorePollInterval", "concurrentAutomaticEngineUpgradePerNodeLimit",
  "concurrentReplicaRebuildPerNodeLimit", "concurrentVolumeBackupRestorePerNodeLimit", "createDefaultDiskLabeledNodes",
  "defaultDataLocality", "defaultDataPath", "defaultLonghornStaticStorageClass", "defaultReplicaCount",
  "deletingConfirmationFlag", "detachManuallyAttachedVolumesWhenCordoned", "disableRevisionCounter",
  "disableSchedulingOnCordonedNode", "disableSnapshotPurge", "engineReplicaTimeout", "failedBackupTTL", "fastReplicaRebuildEnabled",
  "freezeFilesystemForSnapshot", "guaranteedInstanceManagerCPU", "kubernetesClusterAutoscalerEnabled",
  "logLevel", "nodeDownPodDeletionPolicy", "nodeDrainPolicy", "offlineReplicaRebuilding", "orphanAutoDeletion",
  "priorityClass", "recurringFailedJobsHistoryLimit", "recurringJobMaxRetention", "recurringSuccessfulJobsHistoryLimit",
  "removeSnapshotsDuringFilesystemTrim", "replicaAutoBalance", "replicaDiskSoftAntiAffinity", "replicaFileSyncHttpClientTimeout",
  "replicaReplenishmentWaitInterval", "replicaSoftAntiAffinity", "replicaZoneSoftAntiAffinity", "restoreConcurrentLimit",
  "restoreVolumeRecurringJobs", "snapshotDataIntegrity", "snapshotDataIntegrityCronjob", "snapshotDataIntegrityImmediateCheckAfterSnapshotCreation",
  "snapshotMaxCount", "storageMinimalAvailablePercentage", "storageNetwork", "storageOverProvisioningPercentage",
  "storageReservedPercentageForDefaultDisk", "supportBundleFailedHistoryLimit", "systemManagedComponentsNodeSelector",
  "systemManagedPodsImagePullPolicy", "taintToleration", "upgradeChecker", "v1DataEngine", "v2DataEngine",
  "v2DataEngineGuaranteedInstanceManagerCPU", "v2DataEngineHugepageLimit", "volumeAttachmentRecoveryPolicy",
  "allowEmptyNodeSelectorVolume", "allowEmptyDiskSelectorVolume", "defaultReplicaAutoBalance", "autoCleanupSnapshotWhenDeleteBackup",
  "allowCollectingLonghornUsageMetrics", "rwxVolumeFastFailover", "defaultMinNumberOfBackingImageCopies",
] as const;

const value = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const longhornDefaultSettings = z.strictObject(Object.fromEntries(SETTINGS.map((s) => [s, value.optional()])));

/** Kebab-case names of `Setting` objects (metadata.name), derived from the camelCase chart keys. */
export const LONGHORN_SETTING_NAMES = new Set(SETTINGS.map((s) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)));

export const longhornSettingObject = z.strictObject({
  apiVersion: z.string(),
  kind: z.literal("Setting"),
  metadata: z.looseObject({ name: z.string(), namespace: z.string().optional() }),
  value: z.string(),
});
