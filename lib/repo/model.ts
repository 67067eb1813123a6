/**
 * The ClusterModel: everything the toolkit knows about the cluster, read from talos/ and kubernetes/ (and .mise.toml)
 * by `loadRepo(root)`. Every fact keeps the repo-relative file and 1-based line it came from, so checks and scripts
 * can point at it. Nothing in lib/ or scripts/ repeats these facts as constants.
 *
 * The schemas are zod so a model can be validated (tests, `--json` consumers) and so the types come from one place.
 */
import { z } from "zod";
import type { Document, LineCounter } from "yaml";

// ---------------------------------------------------------------------------------------------------------------
// Sources
// ---------------------------------------------------------------------------------------------------------------

/** Where a fact came from: a repo-relative path (always forward slashes) and a 1-based line. */
export const SourceSchema = z.object({ file: z.string(), line: z.number().int().nonnegative() });
export type Source = z.infer<typeof SourceSchema>;

/** A scalar fact with its source. */
export const sourced = <T extends z.ZodType>(value: T) => z.object({ value, source: SourceSchema });
export type Sourced<T> = { value: T; source: Source };

const SourcedString = sourced(z.string());
const SourcedNumber = sourced(z.number());

/** Kubernetes label selector (matchLabels + matchExpressions), as used by Cilium and everything else. */
export const LabelSelectorRequirementSchema = z.object({
  key: z.string(),
  operator: z.string(), // In | NotIn | Exists | DoesNotExist (validated by checks, not here)
  values: z.array(z.string()).optional(),
});
export const LabelSelectorSchema = z.object({
  matchLabels: z.record(z.string(), z.string()).optional(),
  matchExpressions: z.array(LabelSelectorRequirementSchema).optional(),
});
export type LabelSelector = z.infer<typeof LabelSelectorSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Documents
// ---------------------------------------------------------------------------------------------------------------

/**
 * One YAML document of a file under kubernetes/ or talos/. `object` is the parsed value (usually a Kubernetes
 * object); `doc` is the yaml Document so nested paths can be located with `lineOf(doc, path)`.
 */
export const RepoDocumentSchema = z.object({
  file: z.string(),
  /** Line of the document's first content (after `---`). */
  line: z.number().int(),
  /** Index of the document in its file (0-based). */
  index: z.number().int(),
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  name: z.string().optional(),
  namespace: z.string().optional(),
  object: z.unknown(),
  doc: z.custom<Document.Parsed>(() => true),
  lineCounter: z.custom<LineCounter>(() => true),
});
export type RepoDocument = z.infer<typeof RepoDocumentSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Cluster, versions, nodes, networks (talos/)
// ---------------------------------------------------------------------------------------------------------------

export const VersionsSchema = z.object({
  talos: SourcedString,
  kubernetes: SourcedString,
  /** Cilium Helm chart version (HelmRelease kube-system/cilium). */
  cilium: SourcedString,
  /** Flux version the manifests target (the `flux2` pin in .mise.toml, else the flux-system comment). */
  flux: SourcedString,
  /** [tools] of .mise.toml: tool name (as written, e.g. "talosctl", "aqua:siderolabs/talos") -> version. */
  tools: z.record(z.string(), SourcedString),
  /** Every `# renovate:` comment found (file, line, datasource, depName, the version on the next line). */
  renovate: z.array(
    z.object({
      datasource: z.string(),
      depName: z.string(),
      version: z.string().optional(),
      source: SourceSchema,
    }),
  ),
});
export type Versions = z.infer<typeof VersionsSchema>;

export const SchematicSchema = z.object({
  /** Image Factory schematic id (sha256 hex), when pinned in talenv.yaml / talconfig. */
  id: z.string().optional(),
  extensions: z.array(z.string()),
  extraKernelArgs: z.array(z.string()),
  source: SourceSchema,
});
export type Schematic = z.infer<typeof SchematicSchema>;

export const InstallDiskSchema = z.object({
  /** `installDisk` when a device path is given. */
  disk: z.string().optional(),
  /** `installDiskSelector` (size, model, type, busPath, ...). */
  selector: z.record(z.string(), z.unknown()).optional(),
  source: SourceSchema,
});

export const NodeSchema = z.object({
  hostname: z.string(),
  ipv4: z.string(),
  ipv6: z.string().optional(),
  controlPlane: z.boolean(),
  /** "controlplane" | "worker" (the same fact as controlPlane, in Talos' words). */
  role: z.enum(["controlplane", "worker"]),
  /** Pods scheduled here (control planes only when allowSchedulingOnControlPlanes). */
  schedulable: z.boolean(),
  installDisk: InstallDiskSchema,
  schematic: SchematicSchema,
  /** Installer image after talenv substitution, e.g. factory.talos.dev/installer/<id>:v1.10.5. */
  installerImage: z.string(),
  /** Interface addresses as written (CIDR notation). */
  addresses: z.array(z.string()),
  /** Labels the node registers with (kubelet, Talos, talconfig nodeLabels, patches' machine.nodeLabels): node-labels.ts. */
  labels: z.record(z.string(), z.string()),
  source: SourceSchema,
});
export type ClusterNode = z.infer<typeof NodeSchema>;

export const NetworksSchema = z.object({
  /** Node VLAN prefixes (kubelet.nodeIP.validSubnets, else the interface addresses). */
  nodeV4: SourcedString,
  nodeV6: SourcedString.optional(),
  podCidrs: z.array(SourcedString),
  serviceCidrs: z.array(SourcedString),
  /** The Talos shared VIP of the API endpoint. */
  vip: SourcedString,
  /** The router: the BGP peer and default gateway (UDM Pro). */
  router: z.object({ ipv4: SourcedString.optional(), ipv6: SourcedString.optional() }),
});
export type Networks = z.infer<typeof NetworksSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Cilium LB-IPAM and BGP (kubernetes/apps/kube-system/cilium)
// ---------------------------------------------------------------------------------------------------------------

export const PoolBlockSchema = z.union([
  z.object({ cidr: z.string(), source: SourceSchema }),
  z.object({ start: z.string(), stop: z.string(), source: SourceSchema }),
]);
export type PoolBlock = z.infer<typeof PoolBlockSchema>;

export const PoolSchema = z.object({
  name: z.string(),
  apiVersion: z.string(),
  blocks: z.array(PoolBlockSchema),
  serviceSelector: LabelSelectorSchema.optional(),
  disabled: z.boolean(),
  allowFirstLastIPs: z.enum(["Yes", "No"]).optional(),
  /** Namespace set in the manifest (meaningless: the kind is cluster-scoped; checks warn). */
  namespace: z.string().optional(),
  source: SourceSchema,
});
export type Pool = z.infer<typeof PoolSchema>;

/** A Cilium BGP object: the typed-enough spec (raw, as written) with metadata and source. */
const bgpObject = <T extends z.ZodType>(spec: T) =>
  z.object({
    name: z.string(),
    apiVersion: z.string(),
    namespace: z.string().optional(),
    labels: z.record(z.string(), z.string()),
    spec,
    source: SourceSchema,
  });

export const BgpPeerSchema = z.object({
  name: z.string(),
  peerAddress: z.string().optional(),
  peerASN: z.number().optional(),
  peerConfigRef: z.object({ name: z.string(), kind: z.string().optional(), group: z.string().optional() }).optional(),
});
export const BgpInstanceSchema = z.object({
  name: z.string(),
  localASN: z.number().optional(),
  localPort: z.number().optional(),
  peers: z.array(BgpPeerSchema).optional(),
});
export const BgpClusterConfigSpecSchema = z.looseObject({
  nodeSelector: LabelSelectorSchema.optional(),
  bgpInstances: z.array(BgpInstanceSchema),
});
export const BgpFamilySchema = z.object({
  afi: z.string(),
  safi: z.string(),
  advertisements: LabelSelectorSchema.optional(),
});
export const BgpPeerConfigSpecSchema = z.looseObject({
  authSecretRef: z.string().optional(),
  ebgpMultihop: z.number().optional(),
  families: z.array(BgpFamilySchema).optional(),
  gracefulRestart: z.object({ enabled: z.boolean(), restartTimeSeconds: z.number().optional() }).optional(),
  timers: z.record(z.string(), z.number()).optional(),
  transport: z.record(z.string(), z.unknown()).optional(),
});
export const BgpAdvertisementEntrySchema = z.looseObject({
  advertisementType: z.string(),
  selector: LabelSelectorSchema.optional(),
  service: z.object({ addresses: z.array(z.string()) }).optional(),
  attributes: z.record(z.string(), z.unknown()).optional(),
});
export const BgpAdvertisementSpecSchema = z.looseObject({
  advertisements: z.array(BgpAdvertisementEntrySchema),
});

export const BgpClusterConfigSchema = bgpObject(BgpClusterConfigSpecSchema);
export const BgpPeerConfigSchema = bgpObject(BgpPeerConfigSpecSchema);
export const BgpAdvertisementSchema = bgpObject(BgpAdvertisementSpecSchema);
export const BgpRawObjectSchema = bgpObject(z.record(z.string(), z.unknown()));
export type BgpClusterConfig = z.infer<typeof BgpClusterConfigSchema>;
export type BgpPeerConfig = z.infer<typeof BgpPeerConfigSchema>;
export type BgpAdvertisement = z.infer<typeof BgpAdvertisementSchema>;
export type BgpRawObject = z.infer<typeof BgpRawObjectSchema>;

/** A peer as flattened from every ClusterConfig instance (convenience for router config / verification). */
export const BgpPeerViewSchema = z.object({
  clusterConfig: z.string(),
  instance: z.string(),
  name: z.string(),
  localASN: z.number().optional(),
  peerAddress: z.string().optional(),
  peerASN: z.number().optional(),
  /** "ipv4" | "ipv6" from peerAddress. */
  family: z.enum(["ipv4", "ipv6"]).optional(),
  peerConfigRef: z.string().optional(),
  source: SourceSchema,
});
export type BgpPeerView = z.infer<typeof BgpPeerViewSchema>;

export const BgpSchema = z.object({
  clusterConfigs: z.array(BgpClusterConfigSchema),
  peerConfigs: z.array(BgpPeerConfigSchema),
  advertisements: z.array(BgpAdvertisementSchema),
  nodeConfigOverrides: z.array(BgpRawObjectSchema),
  /** Legacy v1 CiliumBGPPeeringPolicy objects (should be none). */
  peeringPolicies: z.array(BgpRawObjectSchema),
  /** The single local ASN when every instance agrees (else the first). */
  localASN: SourcedNumber.optional(),
  peers: z.array(BgpPeerViewSchema),
  /** `bgpControlPlane.enabled` of the Cilium HelmRelease values. */
  controlPlaneEnabled: sourced(z.boolean()).optional(),
});
export type Bgp = z.infer<typeof BgpSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Kubernetes objects (kubernetes/)
// ---------------------------------------------------------------------------------------------------------------

export const ServiceSchema = z.object({
  name: z.string(),
  namespace: z.string().optional(),
  /** "manifest" = a `kind: Service` document; "helm-values" = a Service a chart renders from known values keys. */
  origin: z.enum(["manifest", "helm-values"]),
  type: z.string(),
  labels: z.record(z.string(), z.string()),
  annotations: z.record(z.string(), z.string()),
  loadBalancerClass: z.string().optional(),
  ipFamilyPolicy: z.string().optional(),
  ipFamilies: z.array(z.string()),
  externalTrafficPolicy: z.string().optional(),
  /** IPs asked for: `lbipam.cilium.io/ips` (comma separated) plus the deprecated spec.loadBalancerIP. */
  requestedIPs: z.array(z.string()),
  /** `lbipam.cilium.io/sharing-key`, when set. */
  sharingKey: z.string().optional(),
  source: SourceSchema,
});
export type Service = z.infer<typeof ServiceSchema>;

export const SourceRefSchema = z.object({
  kind: z.string(),
  name: z.string(),
  namespace: z.string().optional(),
});

export const FluxKustomizationSchema = z.object({
  name: z.string(),
  namespace: z.string().optional(),
  apiVersion: z.string(),
  /** `spec.path` as written (relative to the source root, e.g. ./kubernetes/apps/...). */
  path: z.string().optional(),
  /** `spec.path` resolved to a repo-relative directory (no leading ./), when the source is this repo. */
  resolvedPath: z.string().optional(),
  dependsOn: z.array(z.object({ name: z.string(), namespace: z.string().optional() })),
  sourceRef: SourceRefSchema.optional(),
  targetNamespace: z.string().optional(),
  prune: z.boolean().optional(),
  wait: z.boolean().optional(),
  interval: z.string().optional(),
  postBuild: z
    .object({
      substitute: z.record(z.string(), z.string()).optional(),
      substituteFrom: z.array(z.object({ kind: z.string(), name: z.string(), optional: z.boolean().optional() })).optional(),
    })
    .optional(),
  source: SourceSchema,
});
export type FluxKustomization = z.infer<typeof FluxKustomizationSchema>;

export const HelmReleaseSchema = z.object({
  name: z.string(),
  namespace: z.string().optional(),
  apiVersion: z.string(),
  /** Directory of the HelmRelease file (repo-relative). */
  dir: z.string(),
  chart: z.string(),
  version: z.string().optional(),
  sourceRef: SourceRefSchema,
  releaseName: z.string().optional(),
  targetNamespace: z.string().optional(),
  /** spec.values deep-merged over the valuesFrom ConfigMaps and Secrets the repo makes (Flux's merge order). */
  values: z.record(z.string(), z.unknown()),
  /** spec.install.crds: Skip leaves the chart's crds/ folder out of the install (Create, the default, and CreateReplace do not) */
  installCrds: z.string().optional(),
  valuesFrom: z.array(z.object({ kind: z.string(), name: z.string(), valuesKey: z.string().optional() })),
  dependsOn: z.array(z.object({ name: z.string(), namespace: z.string().optional() })),
  source: SourceSchema,
  /** Line of `spec.values` in the file (for findings inside values: combine with lineOf on the document). */
  valuesSource: SourceSchema.optional(),
});
export type HelmRelease = z.infer<typeof HelmReleaseSchema>;

/** HelmRepository / OCIRepository / GitRepository. */
export const FluxSourceSchema = z.object({
  kind: z.string(),
  apiVersion: z.string(),
  name: z.string(),
  namespace: z.string().optional(),
  url: z.string(),
  type: z.string().optional(),
  ref: z.record(z.string(), z.unknown()).optional(),
  source: SourceSchema,
});
export type FluxSource = z.infer<typeof FluxSourceSchema>;

export const ExternalSecretSchema = z.object({
  kind: z.string(), // ExternalSecret | ClusterExternalSecret
  apiVersion: z.string(),
  name: z.string(),
  namespace: z.string().optional(),
  storeRef: z.object({ kind: z.string(), name: z.string() }).optional(),
  /** Name of the Secret it creates (target.name, default metadata.name). */
  targetName: z.string(),
  /** 1Password items referenced (remoteRef.key of data[] and extract of dataFrom[]). */
  remoteKeys: z.array(z.string()),
  source: SourceSchema,
});
export type ExternalSecret = z.infer<typeof ExternalSecretSchema>;

export const SecretStoreSchema = z.object({
  kind: z.string(), // ClusterSecretStore | SecretStore
  apiVersion: z.string(),
  name: z.string(),
  namespace: z.string().optional(),
  provider: z.string().optional(),
  source: SourceSchema,
});
export type SecretStore = z.infer<typeof SecretStoreSchema>;

export const NamespaceSchema = z.object({
  name: z.string(),
  labels: z.record(z.string(), z.string()),
  annotations: z.record(z.string(), z.string()),
  source: SourceSchema,
});
export type Namespace = z.infer<typeof NamespaceSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Talos (talhelper input)
// ---------------------------------------------------------------------------------------------------------------

export const TalosPatchSchema = z.object({
  file: z.string(),
  /** global | controller | worker | <hostname>, from the folder under talos/patches/. */
  scope: z.string(),
  /**
   * Where talconfig.yaml applies it (`@./patches/...` references): "global", "controlPlane", "worker" or
   * "node:<hostname>". Empty = the file is never applied (validate may warn).
   */
  appliedTo: z.array(z.string()),
  docs: z.array(RepoDocumentSchema),
});
export type TalosPatch = z.infer<typeof TalosPatchSchema>;

export const TalosSchema = z.object({
  /** talconfig.yaml after ${VAR} substitution from talenv.yaml (raw passthrough of talhelper's format). */
  config: z.record(z.string(), z.unknown()),
  configFile: z.string(),
  /** The talconfig document (unsubstituted) for line lookups. */
  configDocument: RepoDocumentSchema,
  env: z.record(z.string(), SourcedString),
  patches: z.array(TalosPatchSchema),
});
export type TalosModel = z.infer<typeof TalosSchema>;

// ---------------------------------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------------------------------

/** Something missing or malformed found while loading (strict mode throws malformed files as RepoError instead). */
export const RepoProblemSchema = z.object({ file: z.string(), line: z.number().int(), message: z.string() });
export type RepoProblem = z.infer<typeof RepoProblemSchema>;

export const ClusterModelSchema = z.object({
  /** Absolute path of the repo root it was loaded from. */
  root: z.string(),
  documents: z.array(RepoDocumentSchema),
  /** Repo-relative directories that hold a kustomization.yaml (kubectl kustomize targets). */
  kustomizeDirs: z.array(z.string()),
  cluster: z.object({ name: SourcedString, endpoint: SourcedString, vip: SourcedString, domain: SourcedString.optional() }),
  versions: VersionsSchema,
  nodes: z.array(NodeSchema),
  schematic: SchematicSchema,
  installerImage: SourcedString,
  networks: NetworksSchema,
  pools: z.array(PoolSchema),
  bgp: BgpSchema,
  services: z.array(ServiceSchema),
  kustomizations: z.array(FluxKustomizationSchema),
  helmReleases: z.array(HelmReleaseSchema),
  fluxSources: z.array(FluxSourceSchema),
  externalSecrets: z.array(ExternalSecretSchema),
  secretStores: z.array(SecretStoreSchema),
  namespaces: z.array(NamespaceSchema),
  talos: TalosSchema,
  /** Missing facts (always) and malformed files (lenient mode), in file order. Empty for a healthy repo. */
  problems: z.array(RepoProblemSchema),
  /**
   * Set when the model was built from the render stage (loadRenderedRepo): the Kubernetes facts are what Flux
   * would apply to this cluster. Absent for loadRepo's as-written reading.
   */
  render: z
    .object({
      /** this model's cluster (kubernetes/clusters/<name>, else the root folder's name) */
      cluster: z.string(),
      /** every cluster of the repo */
      clusters: z.array(z.string()),
      rootPath: z.string(),
      /** folders Flux builds for this cluster */
      paths: z.array(z.string()),
      fromCache: z.boolean(),
    })
    .optional(),
});
export type ClusterModel = z.infer<typeof ClusterModelSchema>;

export interface LoadRepoOptions {
  /**
   * "strict" (default): a missing core fact (no talconfig, no Cilium HelmRelease, ...) throws RepoError.
   * "lenient": load what is there and fill missing facts with empty values and `source.line = 0` — for validate,
   * which reports problems as findings instead of stopping at the first.
   */
  mode?: "strict" | "lenient";
}

export { loadRepo, lineOf, sourceOf, RepoError } from "./load.ts";
export type { PathSeg } from "./yaml.ts";
export {
  matchesSelector,
  ciliumServiceLabels,
  poolFamilies,
  serviceFamilies,
  poolsForService,
  poolContaining,
  isLoadBalancerService,
  advertisementsForFamily,
  advertisesService,
} from "./select.ts";
export { schematicId, schematicYaml } from "./schematic.ts";
