import { z } from "zod";

/**
 * talhelper's talconfig.yaml and Talos 1.10 machine-config patches, written from the documented fields (talhelper's
 * schema and the Talos v1.10 configuration reference). Strict where home-ops writes fields: an unknown key is an
 * error, because Talos rejects it only when the config is applied to a node — too late. Sub-trees home-ops never
 * writes are accepted as any value (`open`).
 */
const open = z.unknown();
const strs = z.array(z.string());
const strMap = z.record(z.string(), z.string());

const installDiskSelector = z.strictObject({
  size: z.union([z.string(), z.number()]).optional(),
  name: z.string().optional(),
  model: z.string().optional(),
  serial: z.string().optional(),
  modalias: z.string().optional(),
  uuid: z.string().optional(),
  wwid: z.string().optional(),
  type: z.enum(["ssd", "hdd", "nvme", "sd"]).optional(),
  busPath: z.string().optional(),
});

const encryptionKey = z.strictObject({
  slot: z.number().int().min(0),
  nodeID: z.strictObject({}).optional(),
  static: z.strictObject({ passphrase: z.string() }).optional(),
  kms: z.strictObject({ endpoint: z.string() }).optional(),
  tpm: z.strictObject({ checkSecurebootStatusOnEnroll: z.boolean().optional() }).optional(),
});

const encryption = z.strictObject({
  provider: z.literal("luks2"),
  keys: z.array(encryptionKey).optional(),
  cipher: z.string().optional(),
  keySize: z.number().int().optional(),
  blockSize: z.number().int().optional(),
  options: strs.optional(),
});

const extraMount = z.strictObject({
  destination: z.string(),
  type: z.string().optional(),
  source: z.string().optional(),
  options: strs.optional(),
  uidMappings: open.optional(),
  gidMappings: open.optional(),
});

const machine = z.strictObject({
  type: z.string().optional(),
  token: z.string().optional(),
  ca: open.optional(),
  acceptedCAs: open.optional(),
  certSANs: strs.optional(),
  controlPlane: open.optional(),
  kubelet: z
    .strictObject({
      image: z.string().optional(),
      clusterDNS: strs.optional(),
      extraArgs: strMap.optional(),
      extraMounts: z.array(extraMount).optional(),
      extraConfig: z.record(z.string(), open).optional(),
      credentialProviderConfig: open.optional(),
      defaultRuntimeSeccompProfileEnabled: z.boolean().optional(),
      registerWithFQDN: z.boolean().optional(),
      nodeIP: z.strictObject({ validSubnets: strs.optional() }).optional(),
      skipNodeRegistration: z.boolean().optional(),
      disableManifestsDirectory: z.boolean().optional(),
    })
    .optional(),
  pods: open.optional(),
  network: z
    .strictObject({
      hostname: z.string().optional(),
      interfaces: z.array(open).optional(),
      nameservers: strs.optional(),
      searchDomains: strs.optional(),
      extraHostEntries: open.optional(),
      kubespan: open.optional(),
      disableSearchDomain: z.boolean().optional(),
    })
    .optional(),
  disks: open.optional(),
  install: z
    .strictObject({
      disk: z.string().optional(),
      diskSelector: installDiskSelector.optional(),
      extraKernelArgs: strs.optional(),
      image: z.string().optional(),
      extensions: open.optional(),
      wipe: z.boolean().optional(),
      legacyBIOSSupport: z.boolean().optional(),
    })
    .optional(),
  files: open.optional(),
  env: strMap.optional(),
  time: z.strictObject({ disabled: z.boolean().optional(), servers: strs.optional(), bootTimeout: z.string().optional() }).optional(),
  sysctls: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
  sysfs: z.record(z.string(), z.string()).optional(),
  registries: open.optional(),
  systemDiskEncryption: z.strictObject({ state: encryption.optional(), ephemeral: encryption.optional() }).optional(),
  features: z
    .strictObject({
      rbac: z.boolean().optional(),
      stableHostname: z.boolean().optional(),
      kubernetesTalosAPIAccess: open.optional(),
      apidCheckExtKeyUsage: z.boolean().optional(),
      diskQuotaSupport: z.boolean().optional(),
      kubePrism: z.strictObject({ enabled: z.boolean().optional(), port: z.number().int().optional() }).optional(),
      hostDNS: z
        .strictObject({ enabled: z.boolean().optional(), forwardKubeDNSToHost: z.boolean().optional(), resolveMemberNames: z.boolean().optional() })
        .optional(),
      imageCache: open.optional(),
      nodeAddressSortAlgorithm: z.string().optional(),
    })
    .optional(),
  udev: z.strictObject({ rules: strs.optional() }).optional(),
  logging: open.optional(),
  kernel: z.strictObject({ modules: z.array(z.strictObject({ name: z.string(), parameters: strs.optional() })).optional() }).optional(),
  seccompProfiles: open.optional(),
  baseRuntimeSpecOverrides: open.optional(),
  nodeLabels: strMap.optional(),
  nodeAnnotations: strMap.optional(),
  nodeTaints: strMap.optional(),
});

const cluster = z.strictObject({
  id: z.string().optional(),
  secret: z.string().optional(),
  controlPlane: z.strictObject({ endpoint: z.string().optional(), localAPIServerPort: z.number().int().optional() }).optional(),
  clusterName: z.string().optional(),
  network: z
    .strictObject({
      cni: z.strictObject({ name: z.enum(["flannel", "custom", "none"]), urls: strs.optional(), flannel: open.optional() }).optional(),
      dnsDomain: z.string().optional(),
      podSubnets: strs.optional(),
      serviceSubnets: strs.optional(),
    })
    .optional(),
  token: z.string().optional(),
  aescbcEncryptionSecret: z.string().optional(),
  secretboxEncryptionSecret: z.string().optional(),
  ca: open.optional(),
  acceptedCAs: open.optional(),
  aggregatorCA: open.optional(),
  serviceAccount: open.optional(),
  apiServer: open.optional(),
  controllerManager: open.optional(),
  proxy: z
    .strictObject({ disabled: z.boolean().optional(), image: z.string().optional(), mode: z.string().optional(), extraArgs: strMap.optional() })
    .optional(),
  scheduler: open.optional(),
  discovery: open.optional(),
  etcd: open.optional(),
  coreDNS: z.strictObject({ disabled: z.boolean().optional(), image: z.string().optional() }).optional(),
  externalCloudProvider: open.optional(),
  extraManifests: strs.optional(),
  extraManifestHeaders: strMap.optional(),
  inlineManifests: open.optional(),
  adminKubeconfig: open.optional(),
  allowSchedulingOnControlPlanes: z.boolean().optional(),
});

/** A v1alpha1 machine-config patch (strategic merge): any subset of the config. */
export const machineConfigPatch = z.strictObject({
  version: z.literal("v1alpha1").optional(),
  debug: z.boolean().optional(),
  persist: z.boolean().optional(),
  machine: machine.optional(),
  cluster: cluster.optional(),
});

// Name rules (1-34 of [A-Za-z0-9-]) and required talhelper fields are the talos family's findings, not schema's.
const volumeName = z.string();

export const userVolumeConfig = z.strictObject({
  apiVersion: z.literal("v1alpha1"),
  kind: z.literal("UserVolumeConfig"),
  name: volumeName.optional(),
  provisioning: z.strictObject({
    diskSelector: z.strictObject({ match: z.string() }).optional(),
    minSize: z.string().optional(),
    maxSize: z.string().optional(),
    grow: z.boolean().optional(),
  }).optional(),
  filesystem: z.strictObject({ type: z.enum(["xfs", "ext4"]).optional() }).optional(),
  encryption: encryption.optional(),
});

export const extensionServiceConfig = z.strictObject({
  apiVersion: z.literal("v1alpha1"),
  kind: z.literal("ExtensionServiceConfig"),
  name: z.string().min(1),
  configFiles: z.array(z.strictObject({ content: z.string(), mountPath: z.string() })).optional(),
  environment: strs.optional(),
});

/** Talos multi-doc kinds home-ops uses; other documented kinds are accepted without field checks. */
export const TALOS_DOC_SCHEMAS: Record<string, z.ZodType> = {
  UserVolumeConfig: userVolumeConfig,
  ExtensionServiceConfig: extensionServiceConfig,
};
export const TALOS_OTHER_KINDS = new Set([
  "VolumeConfig", "PCIDriverRebindConfig", "NetworkDefaultActionConfig", "EthernetConfig", "KubespanEndpointsConfig",
  "NetworkRuleConfig", "EventSinkConfig", "KmsgLogConfig", "WatchdogTimerConfig", "TrustedRootsConfig", "SideroLinkConfig",
]);

// ---------------------------------------------------------------------------------------------------------------
// talhelper talconfig.yaml
// ---------------------------------------------------------------------------------------------------------------

const schematic = z.strictObject({
  customization: z
    .strictObject({
      extraKernelArgs: strs.optional(),
      meta: z.array(z.strictObject({ key: z.number().int(), value: z.string() })).optional(),
      systemExtensions: z.strictObject({ officialExtensions: strs.optional() }).optional(),
      secureboot: open.optional(),
      bootloader: z.string().optional(),
    })
    .optional(),
  overlay: open.optional(),
});

const userVolume = z.strictObject({
  name: volumeName,
  volumeType: z.string().optional(),
  provisioning: z
    .strictObject({
      diskSelector: z.strictObject({ match: z.string().min(1) }).optional(),
      minSize: z.string().optional(),
      maxSize: z.string().optional(),
      grow: z.boolean().optional(),
    })
    .optional(),
  filesystem: z.strictObject({ type: z.string().optional() }).optional(),
  encryption: encryption.optional(),
});

const nodeCommon = {
  certSANs: strs.optional(),
  disableSearchDomain: z.boolean().optional(),
  extensionServices: z.array(z.strictObject({ name: z.string(), configFiles: z.array(open).optional(), environment: strs.optional() })).optional(),
  extraManifests: strs.optional(),
  filenameTmpl: z.string().optional(),
  imageSchematic: open.optional(),
  ingressFirewall: open.optional(),
  kernelModules: z.array(z.strictObject({ name: z.string(), parameters: strs.optional() })).optional(),
  machineDisks: open.optional(),
  machineFiles: open.optional(),
  machineSpec: open.optional(),
  nameservers: strs.optional(),
  networkInterfaces: z.array(open).optional(),
  noSchematicValidate: z.boolean().optional(),
  nodeAnnotations: strMap.optional(),
  nodeLabels: strMap.optional(),
  nodeTaints: strMap.optional(),
  patches: z.array(z.union([z.string(), open])).optional(),
  schematic: schematic.optional(),
  talosImageURL: z.string().optional(),
  userVolumes: z.array(userVolume).optional(),
  volumes: open.optional(),
};

export const talconfigNode = z.strictObject({
  ...nodeCommon,
  hostname: z.string().optional(),
  ipAddress: z.string().optional(),
  controlPlane: z.boolean().optional(),
  ignoreHostname: z.boolean().optional(),
  installDisk: z.string().optional(),
  installDiskSelector: installDiskSelector.optional(),
  overrideExtraManifests: z.boolean().optional(),
  overrideMachineCertSANs: z.boolean().optional(),
  overridePatches: z.boolean().optional(),
});

export const talconfig = z.strictObject({
  clusterName: z.string().optional(),
  talosVersion: z.string().optional(),
  kubernetesVersion: z.string().optional(),
  endpoint: z.string().optional(),
  domain: z.string().optional(),
  allowSchedulingOnControlPlanes: z.boolean().optional(),
  allowSchedulingOnMasters: z.boolean().optional(),
  additionalApiServerCertSans: strs.optional(),
  additionalMachineCertSans: strs.optional(),
  clusterPodNets: strs.optional(),
  clusterSvcNets: strs.optional(),
  cniConfig: z.strictObject({ name: z.string(), urls: strs.optional(), flannel: open.optional() }).optional(),
  patches: z.array(z.union([z.string(), open])).optional(),
  controlPlane: z.strictObject(nodeCommon).optional(),
  worker: z.strictObject(nodeCommon).optional(),
  nodes: z.array(talconfigNode).optional(),
  imageFactory: open.optional(),
  inlineManifests: open.optional(),
});
