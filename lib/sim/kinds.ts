/**
 * The kinds the simulated Kubernetes API knows: the built-in ones it serves from the start, and the third-party
 * ones (Cilium, Longhorn, Flux, External Secrets) that appear when their CustomResourceDefinition is created —
 * exactly as on a real cluster, where `kubectl get ciliumbgpnodeconfigs` fails until Cilium installed its CRDs.
 */
import { type ChartCrd, chartCrds } from "../repo/charts.ts";

export interface KindInfo {
  /** API group; "" for the core group. */
  group: string;
  /** Preferred (storage) version. */
  version: string;
  /** Every served version, preferred first. Objects are returned in the version they were asked for. */
  versions: string[];
  kind: string;
  listKind: string;
  /** Resource name in URLs: `nodes`, `ciliumbgpnodeconfigs`. */
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  /** Whether a `/status` subresource exists (then main-resource writes ignore status and vice versa). */
  statusSubresource: boolean;
  /** Field selector labels this kind accepts besides metadata.name and metadata.namespace. */
  fieldSelectors: string[];
  /** Set for kinds defined by a CRD (their objects go when the CRD goes). */
  crd?: string;
  /** A CRD's additionalPrinterColumns (what plain `kubectl get` shows after NAME). */
  printerColumns?: PrinterColumn[];
  /** A CRD's openAPIV3Schema when it comes with the kind (the chart CRDs of lib/repo/charts.ts) */
  schema?: Record<string, unknown>;
}

export interface PrinterColumn {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  jsonPath: string;
  priority?: number;
}

export type KindInput = Pick<KindInfo, "group" | "version" | "kind" | "plural" | "namespaced"> &
  Partial<Omit<KindInfo, "group" | "version" | "kind" | "plural" | "namespaced">>;

export function kindInfo(k: KindInput): KindInfo {
  return {
    group: k.group,
    version: k.version,
    versions: k.versions ?? [k.version],
    kind: k.kind,
    listKind: k.listKind ?? `${k.kind}List`,
    plural: k.plural,
    singular: k.singular ?? k.kind.toLowerCase(),
    namespaced: k.namespaced,
    shortNames: k.shortNames ?? [],
    categories: k.categories ?? [],
    statusSubresource: k.statusSubresource ?? false,
    fieldSelectors: k.fieldSelectors ?? [],
    ...(k.crd === undefined ? {} : { crd: k.crd }),
    ...(k.printerColumns === undefined ? {} : { printerColumns: k.printerColumns }),
    ...(k.schema === undefined ? {} : { schema: k.schema }),
  };
}

/** `v1` or `apps/v1`. */
export function apiVersionOf(k: Pick<KindInfo, "group" | "version">, version = k.version): string {
  return k.group === "" ? version : `${k.group}/${version}`;
}

/** `nodes` or `ciliumbgpnodeconfigs.cilium.io` — how Kubernetes names a resource in messages. */
export function groupResource(k: Pick<KindInfo, "group" | "plural">): string {
  return k.group === "" ? k.plural : `${k.plural}.${k.group}`;
}

const core = (kind: string, plural: string, namespaced: boolean, extra: Partial<KindInput> = {}): KindInfo =>
  kindInfo({ group: "", version: "v1", kind, plural, namespaced, ...extra });
const apps = (kind: string, plural: string, shortNames: string[]): KindInfo =>
  kindInfo({ group: "apps", version: "v1", kind, plural, namespaced: true, shortNames, statusSubresource: true, categories: ["all"] });

/** Served from the start, like a fresh kube-apiserver. */
export const BUILTIN_KINDS: readonly KindInfo[] = [
  core("Namespace", "namespaces", false, { shortNames: ["ns"], statusSubresource: true, fieldSelectors: ["status.phase"] }),
  core("Node", "nodes", false, { shortNames: ["no"], statusSubresource: true, fieldSelectors: ["spec.unschedulable"] }),
  core("Pod", "pods", true, {
    shortNames: ["po"],
    categories: ["all"],
    statusSubresource: true,
    fieldSelectors: [
      "spec.nodeName",
      "spec.restartPolicy",
      "spec.schedulerName",
      "spec.serviceAccountName",
      "spec.hostNetwork",
      "status.phase",
      "status.podIP",
      "status.nominatedNodeName",
    ],
  }),
  core("Service", "services", true, { shortNames: ["svc"], categories: ["all"], statusSubresource: true }),
  core("Secret", "secrets", true, { fieldSelectors: ["type"] }),
  core("ConfigMap", "configmaps", true, { shortNames: ["cm"] }),
  core("Event", "events", true, {
    shortNames: ["ev"],
    fieldSelectors: [
      "involvedObject.kind",
      "involvedObject.namespace",
      "involvedObject.name",
      "involvedObject.uid",
      "involvedObject.apiVersion",
      "involvedObject.resourceVersion",
      "involvedObject.fieldPath",
      "reason",
      "reportingComponent",
      "source",
      "type",
    ],
  }),
  core("ServiceAccount", "serviceaccounts", true, { shortNames: ["sa"] }),
  core("Endpoints", "endpoints", true, { shortNames: ["ep"] }),
  core("PersistentVolumeClaim", "persistentvolumeclaims", true, { shortNames: ["pvc"], statusSubresource: true }),
  core("PersistentVolume", "persistentvolumes", false, { shortNames: ["pv"], statusSubresource: true }),
  core("LimitRange", "limitranges", true, { shortNames: ["limits"] }),
  core("ResourceQuota", "resourcequotas", true, { shortNames: ["quota"], statusSubresource: true }),
  apps("Deployment", "deployments", ["deploy"]),
  apps("DaemonSet", "daemonsets", ["ds"]),
  apps("StatefulSet", "statefulsets", ["sts"]),
  apps("ReplicaSet", "replicasets", ["rs"]),
  kindInfo({ group: "apps", version: "v1", kind: "ControllerRevision", plural: "controllerrevisions", namespaced: true }),
  kindInfo({ group: "batch", version: "v1", kind: "Job", plural: "jobs", namespaced: true, statusSubresource: true, categories: ["all"] }),
  kindInfo({ group: "batch", version: "v1", kind: "CronJob", plural: "cronjobs", namespaced: true, shortNames: ["cj"], statusSubresource: true, categories: ["all"] }),
  kindInfo({ group: "networking.k8s.io", version: "v1", kind: "Ingress", plural: "ingresses", namespaced: true, shortNames: ["ing"], statusSubresource: true }),
  kindInfo({ group: "networking.k8s.io", version: "v1", kind: "IngressClass", plural: "ingressclasses", namespaced: false }),
  kindInfo({ group: "networking.k8s.io", version: "v1", kind: "NetworkPolicy", plural: "networkpolicies", namespaced: true, shortNames: ["netpol"] }),
  // kept for every Service with a selector by the simulated endpointslice controller (controllers/endpoints.ts)
  kindInfo({ group: "discovery.k8s.io", version: "v1", kind: "EndpointSlice", plural: "endpointslices", namespaced: true }),
  kindInfo({ group: "storage.k8s.io", version: "v1", kind: "StorageClass", plural: "storageclasses", namespaced: false, shortNames: ["sc"] }),
  kindInfo({ group: "storage.k8s.io", version: "v1", kind: "CSIDriver", plural: "csidrivers", namespaced: false }),
  kindInfo({ group: "storage.k8s.io", version: "v1", kind: "VolumeAttachment", plural: "volumeattachments", namespaced: false, statusSubresource: true }),
  // the maintenance lock (lib/safety/lock.ts) and leader election
  kindInfo({ group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases", namespaced: true }),
  kindInfo({ group: "policy", version: "v1", kind: "PodDisruptionBudget", plural: "poddisruptionbudgets", namespaced: true, shortNames: ["pdb"], statusSubresource: true }),
  kindInfo({ group: "scheduling.k8s.io", version: "v1", kind: "PriorityClass", plural: "priorityclasses", namespaced: false, shortNames: ["pc"] }),
  kindInfo({ group: "autoscaling", version: "v2", kind: "HorizontalPodAutoscaler", plural: "horizontalpodautoscalers", namespaced: true, shortNames: ["hpa"], statusSubresource: true, categories: ["all"] }),
  kindInfo({ group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRole", plural: "clusterroles", namespaced: false }),
  kindInfo({ group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRoleBinding", plural: "clusterrolebindings", namespaced: false }),
  kindInfo({ group: "rbac.authorization.k8s.io", version: "v1", kind: "Role", plural: "roles", namespaced: true }),
  kindInfo({ group: "rbac.authorization.k8s.io", version: "v1", kind: "RoleBinding", plural: "rolebindings", namespaced: true }),
  kindInfo({ group: "admissionregistration.k8s.io", version: "v1", kind: "MutatingWebhookConfiguration", plural: "mutatingwebhookconfigurations", namespaced: false }),
  kindInfo({ group: "admissionregistration.k8s.io", version: "v1", kind: "ValidatingWebhookConfiguration", plural: "validatingwebhookconfigurations", namespaced: false }),
  kindInfo({ group: "apiregistration.k8s.io", version: "v1", kind: "APIService", plural: "apiservices", namespaced: false, statusSubresource: true }),
  kindInfo({
    group: "apiextensions.k8s.io",
    version: "v1",
    kind: "CustomResourceDefinition",
    plural: "customresourcedefinitions",
    namespaced: false,
    shortNames: ["crd", "crds"],
    categories: ["api-extensions"],
    statusSubresource: true,
  }),
];

const crdKind = (k: KindInput): KindInfo => {
  const info = kindInfo({ statusSubresource: true, ...k });
  return { ...info, crd: `${info.plural}.${info.group}` };
};
const AGE: PrinterColumn = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" };
const READY: PrinterColumn = { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' };
const READY_MESSAGE: PrinterColumn = { name: "Status", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].message' };

const cilium = (kind: string, plural: string, shortNames: string[], version = "v2alpha1", namespaced = false) =>
  crdKind({ group: "cilium.io", version, kind, plural, namespaced, shortNames, categories: ["cilium", "ciliumbgp"], printerColumns: [AGE] });

/** Cilium 1.17: BGP control plane v2 and LB-IPAM (all v2alpha1, cluster-scoped) plus CiliumNode (v2). */
export const CILIUM_KINDS: readonly KindInfo[] = [
  cilium("CiliumBGPClusterConfig", "ciliumbgpclusterconfigs", ["cbgpcluster"]),
  cilium("CiliumBGPPeerConfig", "ciliumbgppeerconfigs", ["cbgppeer"]),
  cilium("CiliumBGPAdvertisement", "ciliumbgpadvertisements", ["cbgpadvert"]),
  cilium("CiliumBGPNodeConfig", "ciliumbgpnodeconfigs", ["cbgpnode"]),
  cilium("CiliumBGPNodeConfigOverride", "ciliumbgpnodeconfigoverrides", ["cbgpnodeoverride"]),
  {
    ...cilium("CiliumLoadBalancerIPPool", "ciliumloadbalancerippools", ["ippools", "ippool", "lbippool", "lbippools"]),
    categories: ["cilium"],
    printerColumns: [
      { name: "Disabled", type: "boolean", jsonPath: ".spec.disabled" },
      { name: "Conflicting", type: "string", jsonPath: '.status.conditions[?(@.type=="cilium.io/PoolConflict")].status' },
      { name: "IPs Available", type: "string", jsonPath: '.status.conditions[?(@.type=="cilium.io/IPsAvailable")].message' },
      AGE,
    ],
  },
  { ...cilium("CiliumNode", "ciliumnodes", ["cn", "ciliumn"], "v2"), categories: ["cilium"] },
];

/** A chart CRD of the shared chart knowledge (lib/repo/charts.ts) as the kind the simulated API serves. */
export function chartCrdKind(c: ChartCrd): KindInfo {
  return crdKind({
    group: c.group,
    version: c.versions[0]!,
    versions: c.versions,
    kind: c.kind,
    plural: c.plural,
    singular: c.singular,
    namespaced: c.namespaced,
    shortNames: c.shortNames,
    categories: c.categories,
    printerColumns: c.printerColumns,
    schema: c.schema as Record<string, unknown>,
  });
}

/** Longhorn's kinds, as its chart installs them (lib/repo/charts.ts). */
export const LONGHORN_KINDS: readonly KindInfo[] = chartCrds("longhorn").map(chartCrdKind);

const URL_COLUMN: PrinterColumn = { name: "URL", type: "string", jsonPath: ".spec.url" };
const flux = (group: string, version: string, kind: string, plural: string, shortNames: string[], printerColumns: PrinterColumn[]) =>
  crdKind({ group, version, kind, plural, namespaced: true, shortNames, categories: ["fluxcd"], printerColumns });

export const FLUX_KINDS: readonly KindInfo[] = [
  flux("source.toolkit.fluxcd.io", "v1", "GitRepository", "gitrepositories", ["gitrepo"], [URL_COLUMN, AGE, READY, READY_MESSAGE]),
  flux("source.toolkit.fluxcd.io", "v1", "HelmRepository", "helmrepositories", ["helmrepo"], [URL_COLUMN, AGE, READY, READY_MESSAGE]),
  flux("kustomize.toolkit.fluxcd.io", "v1", "Kustomization", "kustomizations", ["ks"], [AGE, READY, READY_MESSAGE]),
  flux("helm.toolkit.fluxcd.io", "v2", "HelmRelease", "helmreleases", ["hr"], [AGE, READY, READY_MESSAGE]),
];

/** External Secrets' kinds, as its chart installs them (lib/repo/charts.ts). */
export const EXTERNAL_SECRETS_KINDS: readonly KindInfo[] = chartCrds("external-secrets").map(chartCrdKind);

/** Every kind that arrives with a CRD in this cluster. */
export const THIRD_PARTY_KINDS: readonly KindInfo[] = [...CILIUM_KINDS, ...LONGHORN_KINDS, ...FLUX_KINDS, ...EXTERNAL_SECRETS_KINDS];

type SchemaNode = Record<string, unknown>;
const str: SchemaNode = { type: "string" };
const bool: SchemaNode = { type: "boolean" };
const open = (properties: Record<string, SchemaNode> = {}, required?: string[]): SchemaNode => ({
  type: "object",
  "x-kubernetes-preserve-unknown-fields": true,
  properties,
  ...(required ? { required } : {}),
});
const closed = (properties: Record<string, SchemaNode>, required?: string[]): SchemaNode => ({ type: "object", properties, ...(required ? { required } : {}) });
const arrayOf = (items: SchemaNode): SchemaNode => ({ type: "array", items });
const crossRef = closed({ apiVersion: str, kind: str, name: str, namespace: str }, ["kind", "name"]);

/**
 * The parts of the upstream openAPIV3Schemas that real clients trip over (field types, closed objects), per
 * `plural.group`. Kinds without an entry (and the parts left open here) accept any field.
 */
const CRD_SPEC_SCHEMAS: Record<string, SchemaNode> = {
  // Cilium 1.17's pool spec is a closed object (reference: the upstream CRD)
  "ciliumloadbalancerippools.cilium.io": closed({
    allowFirstLastIPs: { type: "string", enum: ["Yes", "No"] },
    blocks: arrayOf(closed({ cidr: str, start: str, stop: str })),
    disabled: bool,
    serviceSelector: open(),
  }),
  "kustomizations.kustomize.toolkit.fluxcd.io": open(
    { interval: str, retryInterval: str, timeout: str, path: str, prune: bool, suspend: bool, wait: bool, force: bool, targetNamespace: str, serviceAccountName: str, sourceRef: crossRef, dependsOn: arrayOf(closed({ name: str, namespace: str }, ["name"])) },
    ["interval", "prune", "sourceRef"],
  ),
  "helmreleases.helm.toolkit.fluxcd.io": open({ interval: str, timeout: str, suspend: bool, releaseName: str, targetNamespace: str, storageNamespace: str, values: open(), dependsOn: arrayOf(closed({ name: str, namespace: str }, ["name"])) }, ["interval"]),
  "gitrepositories.source.toolkit.fluxcd.io": open({ url: str, interval: str, timeout: str, suspend: bool }, ["interval", "url"]),
  "helmrepositories.source.toolkit.fluxcd.io": open({ url: str, interval: str, timeout: str, suspend: bool, type: { type: "string", enum: ["default", "oci"] } }, ["url"]),
};

function crdSchema(k: KindInfo): SchemaNode {
  if (k.schema) return structuredClone(k.schema);
  const spec = CRD_SPEC_SCHEMAS[groupResource(k)];
  if (!spec) return { type: "object", "x-kubernetes-preserve-unknown-fields": true };
  return { type: "object", properties: { apiVersion: str, kind: str, metadata: { type: "object" }, spec, status: open() } };
}

/** The CustomResourceDefinition object that defines `k`, with the schema parts of CRD_SPEC_SCHEMAS. */
export function crdFor(k: KindInfo): Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string } } {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: groupResource(k) },
    spec: {
      group: k.group,
      names: {
        kind: k.kind,
        listKind: k.listKind,
        plural: k.plural,
        singular: k.singular,
        ...(k.shortNames.length > 0 ? { shortNames: [...k.shortNames] } : {}),
        ...(k.categories.length > 0 ? { categories: [...k.categories] } : {}),
      },
      scope: k.namespaced ? "Namespaced" : "Cluster",
      versions: k.versions.map((name) => ({
        name,
        served: true,
        storage: name === k.version,
        ...(k.statusSubresource ? { subresources: { status: {} } } : {}),
        ...(k.printerColumns ? { additionalPrinterColumns: k.printerColumns.map((c) => ({ ...c })) } : {}),
        schema: { openAPIV3Schema: crdSchema(k) },
      })),
    },
  };
}

/** Reads a CRD object back into the kind it defines; undefined when the CRD is malformed or serves no version. */
export function kindFromCrd(crd: { metadata?: { name?: string }; spec?: unknown }): KindInfo | undefined {
  const spec = crd.spec as
    | {
        group?: string;
        scope?: string;
        names?: { kind?: string; listKind?: string; plural?: string; singular?: string; shortNames?: string[]; categories?: string[] };
        versions?: { name?: string; served?: boolean; storage?: boolean; subresources?: { status?: unknown }; additionalPrinterColumns?: PrinterColumn[] }[];
      }
    | undefined;
  const names = spec?.names;
  if (!spec?.group || !names?.kind || !names.plural || !Array.isArray(spec.versions)) return undefined;
  const served = spec.versions.filter((v) => v.served !== false && typeof v.name === "string");
  const storage = served.find((v) => v.storage) ?? served[0];
  if (!storage?.name) return undefined;
  return kindInfo({
    group: spec.group,
    version: storage.name,
    versions: [storage.name, ...served.map((v) => v.name as string).filter((n) => n !== storage.name)],
    kind: names.kind,
    plural: names.plural,
    namespaced: spec.scope !== "Cluster",
    ...(names.listKind ? { listKind: names.listKind } : {}),
    ...(names.singular ? { singular: names.singular } : {}),
    shortNames: names.shortNames ?? [],
    categories: names.categories ?? [],
    statusSubresource: storage.subresources?.status !== undefined,
    crd: crd.metadata?.name ?? `${names.plural}.${spec.group}`,
    ...(Array.isArray(storage.additionalPrinterColumns) && storage.additionalPrinterColumns.length > 0
      ? { printerColumns: storage.additionalPrinterColumns.map((c) => ({ name: c.name, type: c.type, jsonPath: c.jsonPath, ...(c.priority ? { priority: c.priority } : {}) })) }
      : {}),
  });
}
