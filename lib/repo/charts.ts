/**
 * Chart knowledge: the objects a Helm chart creates from its values that the toolkit reasons about — LoadBalancer
 * Services (name, labels, annotations such as lbipam.cilium.io/ips, IP families) and the CRDs a chart installs.
 * One home for it: lib/repo adds these Services to the ClusterModel (validate's IPAM and BGP checks see them), and
 * lib/sim's chart emulation renders the same Services into the simulated cluster (lib/sim/charts.ts).
 *
 * Names and defaults follow each chart's templates and values.yaml at the versions home-ops runs; only what the
 * toolkit observes is modelled.
 */

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : typeof v === "number" ? String(v) : undefined);
const strings = (v: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  if (isObj(v)) for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) out[k] = String(x);
  return out;
};
const at = (v: unknown, ...p: string[]): unknown => p.reduce<unknown>((cur, k) => (isObj(cur) ? cur[k] : undefined), v);

export interface ChartRelease {
  /** Helm release name (HelmRelease releaseName, else its name) */
  name: string;
  namespace: string;
  values: Obj;
}

/** A Service a chart creates, as the toolkit needs it. */
export interface ChartService {
  name: string;
  namespace: string;
  type: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** the pod labels it selects */
  selector: Record<string, string>;
  ports: { name: string; port: number; targetPort: string | number; protocol: string }[];
  loadBalancerClass?: string;
  loadBalancerIP?: string;
  ipFamilyPolicy?: string;
  ipFamilies: string[];
  externalTrafficPolicy?: string;
  /** the values path this Service is configured at (for findings: the line in the HelmRelease) */
  valuesPath: string[];
}

export interface ChartKnowledge {
  services(r: ChartRelease): ChartService[];
}

// ---------------------------------------------------------------------------------------------------------------
// ingress-nginx (kubernetes/ingress-nginx charts/ingress-nginx: _helpers.tpl, controller-service.yaml, values.yaml)
// ---------------------------------------------------------------------------------------------------------------

/** `ingress-nginx.fullname`: fullnameOverride, else the release name when it contains the chart name, else release-name. */
export function ingressNginxFullname(release: string, values: Obj): string {
  const full = str(values.fullnameOverride);
  if (full) return full.slice(0, 63).replace(/-$/, "");
  const name = str(values.nameOverride) ?? "ingress-nginx";
  return (release.includes(name) ? release : `${release}-${name}`).slice(0, 63).replace(/-$/, "");
}

const ingressNginx: ChartKnowledge = {
  services(r) {
    const svc = at(r.values, "controller", "service");
    const s = isObj(svc) ? svc : {};
    if (s.enabled === false) return [];
    const name = str(r.values.nameOverride) ?? "ingress-nginx";
    const selector = { "app.kubernetes.io/name": name, "app.kubernetes.io/instance": r.name, "app.kubernetes.io/component": "controller" };
    const ports: ChartService["ports"] = [];
    const enabledPorts = s.enableHttp !== false ? ["http"] : [];
    if (s.enableHttps !== false) enabledPorts.push("https");
    const portValues = strings(s.ports);
    const targets = strings(s.targetPorts);
    for (const p of enabledPorts)
      ports.push({ name: p, port: Number(portValues[p] ?? (p === "http" ? 80 : 443)), targetPort: targets[p] ?? p, protocol: "TCP" });
    return [
      {
        name: `${ingressNginxFullname(r.name, r.values)}-controller`,
        namespace: r.namespace,
        type: str(s.type) ?? "LoadBalancer",
        // the chart's labels, then controller.service.labels
        labels: { ...selector, "app.kubernetes.io/part-of": name, "app.kubernetes.io/managed-by": "Helm", ...strings(s.labels) },
        annotations: strings(s.annotations),
        selector,
        ports,
        loadBalancerClass: str(s.loadBalancerClass),
        loadBalancerIP: str(s.loadBalancerIP),
        // values.yaml: ipFamilyPolicy SingleStack, ipFamilies [IPv4]
        ipFamilyPolicy: str(s.ipFamilyPolicy) ?? "SingleStack",
        ipFamilies: Array.isArray(s.ipFamilies) ? s.ipFamilies.map(String) : ["IPv4"],
        externalTrafficPolicy: str(s.externalTrafficPolicy),
        valuesPath: ["controller", "service"],
      },
    ];
  },
};

const KNOWLEDGE: Record<string, ChartKnowledge> = { "ingress-nginx": ingressNginx };

/** What the toolkit knows about a chart, by chart name (undefined: the chart creates nothing the toolkit checks). */
export function chartKnowledge(chart: string): ChartKnowledge | undefined {
  return KNOWLEDGE[chart];
}

/** The Services a release of `chart` creates ([] for a chart the toolkit has no knowledge of). */
export function chartServices(chart: string, r: ChartRelease): ChartService[] {
  return KNOWLEDGE[chart]?.services(r) ?? [];
}

// ---------------------------------------------------------------------------------------------------------------
// CRDs the charts install
// ---------------------------------------------------------------------------------------------------------------

/** A structural OpenAPI v3 schema, as a CustomResourceDefinition version carries it. */
export interface CrdSchema {
  type?: "object" | "array" | "string" | "integer" | "number" | "boolean";
  properties?: Record<string, CrdSchema>;
  additionalProperties?: CrdSchema | boolean;
  items?: CrdSchema;
  required?: string[];
  enum?: unknown[];
  nullable?: boolean;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-int-or-string"?: boolean;
}

/**
 * A CustomResourceDefinition a chart installs: names, scope, served versions and its openAPIV3Schema. The schema is
 * the upstream one where this repo's objects go (closed objects, types, enums, required fields: a typo or a wrong
 * type is refused as the real API server refuses it); parts the repo does not use are left open (any field
 * accepted), so the schema never refuses what the real one accepts.
 */
export interface ChartCrd {
  group: string;
  kind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  /** served versions, the storage version first */
  versions: string[];
  shortNames: string[];
  categories: string[];
  /** additionalPrinterColumns (what plain `kubectl get` shows) */
  printerColumns: { name: string; type: "string" | "integer" | "number" | "boolean" | "date"; jsonPath: string; priority?: number }[];
  /** the openAPIV3Schema of every served version */
  schema: CrdSchema;
}

const S: CrdSchema = { type: "string" };
const I: CrdSchema = { type: "integer" };
const B: CrdSchema = { type: "boolean" };
const intOrString: CrdSchema = { "x-kubernetes-int-or-string": true };
const oneOf = (...values: string[]): CrdSchema => ({ type: "string", enum: values });
const list = (items: CrdSchema): CrdSchema => ({ type: "array", items });
const map = (of: CrdSchema = S): CrdSchema => ({ type: "object", additionalProperties: of });
/** an object whose fields are all listed: anything else is unknown (pruned, or refused under strict validation) */
const closed = (properties: Record<string, CrdSchema>, required?: string[]): CrdSchema => ({ type: "object", properties, ...(required ? { required } : {}) });
/** an object the toolkit does not describe: every field accepted */
const open: CrdSchema = { type: "object", "x-kubernetes-preserve-unknown-fields": true };
/** every listed field, each of them an object the toolkit does not describe */
const openFields = (...names: string[]): Record<string, CrdSchema> => Object.fromEntries(names.map((n) => [n, open]));
const secretKeySelector = closed({ name: S, key: S }, ["name"]);
const labelSelector = closed({ matchLabels: map(), matchExpressions: list(closed({ key: S, operator: S, values: list(S) }, ["key", "operator"])) });
const resources = closed({ claims: list(closed({ name: S, request: S }, ["name"])), limits: map(intOrString), requests: map(intOrString) });

/** apiVersion, kind, metadata, spec and status, as every CRD's root schema has them. */
const root = (spec: CrdSchema, required: string[] = []): CrdSchema => ({
  type: "object",
  properties: { apiVersion: S, kind: S, metadata: { type: "object" }, spec, status: open },
  ...(required.length ? { required } : {}),
});

const AGE = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" } as const;
const readyColumns = (...more: ChartCrd["printerColumns"]): ChartCrd["printerColumns"] => [
  { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
  ...more,
  { name: "Status", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].message', priority: 1 },
  AGE,
];

const crd = (group: string, kind: string, plural: string, more: Partial<ChartCrd> = {}): ChartCrd => ({
  group,
  kind,
  plural,
  singular: kind.toLowerCase(),
  namespaced: true,
  versions: ["v1"],
  shortNames: [],
  categories: [],
  printerColumns: [AGE],
  schema: root(open),
  ...more,
});

// cert-manager (jetstack/cert-manager deploy/crds, v1.18): the cert-manager.io and acme.cert-manager.io kinds.
const certificateSpec = closed(
  {
    additionalOutputFormats: list(closed({ type: oneOf("DER", "CombinedPEM") }, ["type"])),
    commonName: S,
    dnsNames: list(S),
    duration: S,
    emailAddresses: list(S),
    encodeUsagesInRequest: B,
    ipAddresses: list(S),
    isCA: B,
    issuerRef: closed({ group: S, kind: S, name: S }, ["name"]),
    keystores: open,
    literalSubject: S,
    nameConstraints: open,
    otherNames: list(closed({ oid: S, utf8Value: S })),
    privateKey: closed({ algorithm: oneOf("RSA", "ECDSA", "Ed25519"), encoding: oneOf("PKCS1", "PKCS8"), rotationPolicy: oneOf("Never", "Always"), size: I }),
    renewBefore: S,
    renewBeforePercentage: I,
    revisionHistoryLimit: I,
    secretName: S,
    secretTemplate: closed({ annotations: map(), labels: map() }),
    signatureAlgorithm: oneOf("SHA256WithRSA", "SHA384WithRSA", "SHA512WithRSA", "ECDSAWithSHA256", "ECDSAWithSHA384", "ECDSAWithSHA512", "PureEd25519"),
    subject: open,
    uris: list(S),
    usages: list(S),
  },
  ["issuerRef", "secretName"],
);
const acmeSolver = closed({
  dns01: closed({
    ...openFields("acmeDNS", "akamai", "azureDNS", "cloudDNS", "digitalocean", "rfc2136", "route53", "webhook"),
    cloudflare: closed({ apiKeySecretRef: secretKeySelector, apiTokenSecretRef: secretKeySelector, email: S }),
    cnameStrategy: oneOf("None", "Follow"),
  }),
  http01: open,
  selector: closed({ dnsNames: list(S), dnsZones: list(S), matchLabels: map() }),
});
const issuerSpec = closed({
  acme: closed(
    {
      caBundle: S,
      disableAccountKeyGeneration: B,
      email: S,
      enableDurationFeature: B,
      externalAccountBinding: open,
      preferredChain: S,
      privateKeySecretRef: secretKeySelector,
      profile: S,
      server: S,
      skipTLSVerify: B,
      solvers: list(acmeSolver),
    },
    ["privateKeySecretRef", "server"],
  ),
  ...openFields("ca", "selfSigned", "vault", "venafi"),
});
const CM = "cert-manager.io";
const CM_CATEGORIES = ["cert-manager"];
const CERT_MANAGER_CRDS: ChartCrd[] = [
  crd(CM, "Certificate", "certificates", {
    shortNames: ["cert", "certs"],
    categories: CM_CATEGORIES,
    printerColumns: readyColumns({ name: "Secret", type: "string", jsonPath: ".spec.secretName" }, { name: "Issuer", type: "string", jsonPath: ".spec.issuerRef.name", priority: 1 }),
    schema: root(certificateSpec, ["spec"]),
  }),
  crd(CM, "CertificateRequest", "certificaterequests", { shortNames: ["cr", "crs"], categories: CM_CATEGORIES, printerColumns: readyColumns() }),
  crd(CM, "Issuer", "issuers", { categories: CM_CATEGORIES, printerColumns: readyColumns(), schema: root(issuerSpec, ["spec"]) }),
  crd(CM, "ClusterIssuer", "clusterissuers", { namespaced: false, categories: CM_CATEGORIES, printerColumns: readyColumns(), schema: root(issuerSpec, ["spec"]) }),
  crd("acme.cert-manager.io", "Order", "orders", { categories: CM_CATEGORIES }),
  crd("acme.cert-manager.io", "Challenge", "challenges", { categories: CM_CATEGORIES }),
];

// prometheus-operator (its CRDs as kube-prometheus-stack 7x ships them with crds.enabled): monitoring.coreos.com.
const relabeling = closed({
  action: oneOf("replace", "Replace", "keep", "Keep", "drop", "Drop", "hashmod", "HashMod", "labelmap", "LabelMap", "labeldrop", "LabelDrop", "labelkeep", "LabelKeep", "lowercase", "Lowercase", "uppercase", "Uppercase", "keepequal", "KeepEqual", "dropequal", "DropEqual"),
  modulus: I,
  regex: S,
  replacement: S,
  separator: S,
  sourceLabels: list(S),
  targetLabel: S,
});
const scrapeEndpoint = closed({
  ...openFields("authorization", "basicAuth", "bearerTokenSecret", "oauth2", "tlsConfig", "proxyConnectHeader"),
  bearerTokenFile: S,
  enableHttp2: B,
  filterRunning: B,
  followRedirects: B,
  honorLabels: B,
  honorTimestamps: B,
  interval: S,
  metricRelabelings: list(relabeling),
  noProxy: S,
  params: map(list(S)),
  path: S,
  port: S,
  proxyFromEnvironment: B,
  proxyUrl: S,
  relabelings: list(relabeling),
  scheme: oneOf("http", "https", "HTTP", "HTTPS"),
  scrapeTimeout: S,
  targetPort: intOrString,
  trackTimestampsStaleness: B,
});
const serviceMonitorSpec = closed(
  {
    attachMetadata: closed({ node: B }),
    bodySizeLimit: S,
    convertClassicHistogramsToNHCB: B,
    endpoints: list(scrapeEndpoint),
    fallbackScrapeProtocol: S,
    jobLabel: S,
    keepDroppedTargets: I,
    labelLimit: I,
    labelNameLengthLimit: I,
    labelValueLengthLimit: I,
    namespaceSelector: closed({ any: B, matchNames: list(S) }),
    nativeHistogramBucketLimit: I,
    nativeHistogramMinBucketFactor: intOrString,
    podTargetLabels: list(S),
    sampleLimit: I,
    scrapeClass: S,
    scrapeClassicHistograms: B,
    scrapeNativeHistograms: B,
    scrapeProtocols: list(S),
    selector: labelSelector,
    selectorMechanism: oneOf("RelabelConfig", "RoleSelector"),
    serviceDiscoveryRole: oneOf("Endpoints", "EndpointSlice"),
    targetLabels: list(S),
    targetLimit: I,
  },
  ["selector"],
);
const MON = "monitoring.coreos.com";
const MON_CATEGORIES = ["prometheus-operator"];
const mon = (kind: string, plural: string, shortNames: string[], more: Partial<ChartCrd> = {}) => crd(MON, kind, plural, { shortNames, categories: MON_CATEGORIES, ...more });
const PROMETHEUS_OPERATOR_CRDS: ChartCrd[] = [
  mon("Alertmanager", "alertmanagers", ["am"]),
  mon("AlertmanagerConfig", "alertmanagerconfigs", ["amcfg"], { versions: ["v1alpha1"] }),
  mon("PodMonitor", "podmonitors", ["pmon"]),
  mon("Probe", "probes", ["prb"]),
  mon("Prometheus", "prometheuses", ["prom"]),
  mon("PrometheusAgent", "prometheusagents", ["promagent"], { versions: ["v1alpha1"] }),
  mon("PrometheusRule", "prometheusrules", ["promrule"]),
  mon("ScrapeConfig", "scrapeconfigs", ["scfg"], { versions: ["v1alpha1"] }),
  mon("ServiceMonitor", "servicemonitors", ["smon"], { schema: root(serviceMonitorSpec, ["spec"]) }),
  mon("ThanosRuler", "thanosrulers", ["ruler"]),
];

// CloudNativePG (cloudnative-pg/cloudnative-pg config/crd/bases, 1.26): postgresql.cnpg.io/v1.
const barmanObjectStore = closed(
  {
    ...openFields("azureCredentials", "endpointCA", "googleCredentials"),
    data: closed({ additionalCommandArgs: list(S), compression: oneOf("bzip2", "gzip", "snappy"), encryption: oneOf("AES256", "aws:kms"), immediateCheckpoint: B, jobs: I }),
    destinationPath: S,
    endpointURL: S,
    historyTags: map(),
    s3Credentials: closed({ accessKeyId: secretKeySelector, inheritFromIAMRole: B, region: secretKeySelector, secretAccessKey: secretKeySelector, sessionToken: secretKeySelector }),
    serverName: S,
    tags: map(),
    wal: closed({ archiveAdditionalCommandArgs: list(S), compression: oneOf("bzip2", "gzip", "lz4", "snappy", "xz", "zstd"), encryption: oneOf("AES256", "aws:kms"), maxParallel: I, restoreAdditionalCommandArgs: list(S) }),
  },
  ["destinationPath"],
);
const cnpgClusterSpec = closed(
  {
    ...openFields("certificates", "ephemeralVolumeSource", "ephemeralVolumesSizeLimit", "imageCatalogRef", "inheritedMetadata", "managed", "monitoring", "nodeMaintenanceWindow", "postgresql", "probes", "projectedVolumeTemplate", "replica", "replicationSlots", "seccompProfile", "serviceAccountTemplate", "superuserSecret", "walStorage"),
    affinity: closed({ ...openFields("additionalPodAffinity", "additionalPodAntiAffinity", "nodeAffinity"), enablePodAntiAffinity: B, nodeSelector: map(), podAntiAffinityType: S, tolerations: list(open), topologyKey: S }),
    backup: closed({ barmanObjectStore, retentionPolicy: S, target: oneOf("primary", "prefer-standby"), volumeSnapshot: open }),
    bootstrap: closed({
      initdb: closed({
        ...openFields("import", "postInitApplicationSQLRefs", "postInitSQLRefs", "postInitTemplateSQLRefs"),
        builtinLocale: S,
        dataChecksums: B,
        database: S,
        encoding: S,
        icuLocale: S,
        icuRules: S,
        locale: S,
        localeCType: S,
        localeCollate: S,
        localeProvider: S,
        options: list(S),
        owner: S,
        postInitApplicationSQL: list(S),
        postInitSQL: list(S),
        postInitTemplateSQL: list(S),
        secret: closed({ name: S }, ["name"]),
        walSegmentSize: I,
      }),
      pg_basebackup: open,
      recovery: open,
    }),
    description: S,
    enablePDB: B,
    enableSuperuserAccess: B,
    env: list(open),
    envFrom: list(open),
    externalClusters: list(open),
    failoverDelay: I,
    imageName: S,
    imagePullPolicy: S,
    imagePullSecrets: list(closed({ name: S }, ["name"])),
    instances: I,
    livenessProbeTimeout: I,
    logLevel: oneOf("error", "warning", "info", "debug", "trace"),
    maxSyncReplicas: I,
    minSyncReplicas: I,
    plugins: list(open),
    postgresGID: I,
    postgresUID: I,
    primaryUpdateMethod: oneOf("switchover", "restart"),
    primaryUpdateStrategy: oneOf("unsupervised", "supervised"),
    priorityClassName: S,
    resources,
    schedulerName: S,
    smartShutdownTimeout: I,
    startDelay: I,
    stopDelay: I,
    storage: closed({ pvcTemplate: open, resizeInUseVolumes: B, size: S, storageClass: S }),
    switchoverDelay: I,
    tablespaces: list(open),
    topologySpreadConstraints: list(open),
  },
  ["instances"],
);
const scheduledBackupSpec = closed(
  {
    backupOwnerReference: oneOf("none", "self", "cluster"),
    cluster: closed({ name: S }, ["name"]),
    immediate: B,
    method: oneOf("barmanObjectStore", "volumeSnapshot", "plugin"),
    online: B,
    onlineConfiguration: closed({ immediateCheckpoint: B, waitForArchive: B }),
    pluginConfiguration: closed({ name: S, parameters: map() }, ["name"]),
    schedule: S,
    suspend: B,
    target: oneOf("primary", "prefer-standby"),
  },
  ["cluster", "schedule"],
);
const PG = "postgresql.cnpg.io";
const pg = (kind: string, plural: string, more: Partial<ChartCrd> = {}) => crd(PG, kind, plural, more);
const CLOUDNATIVE_PG_CRDS: ChartCrd[] = [
  pg("Backup", "backups"),
  pg("Cluster", "clusters", {
    printerColumns: [
      AGE,
      { name: "Instances", type: "integer", jsonPath: ".status.instances" },
      { name: "Ready", type: "integer", jsonPath: ".status.readyInstances" },
      { name: "Status", type: "string", jsonPath: ".status.phase" },
      { name: "Primary", type: "string", jsonPath: ".status.currentPrimary" },
    ],
    schema: root(cnpgClusterSpec, ["metadata", "spec"]),
  }),
  pg("ClusterImageCatalog", "clusterimagecatalogs", { namespaced: false }),
  pg("Database", "databases"),
  pg("ImageCatalog", "imagecatalogs"),
  pg("Pooler", "poolers"),
  pg("Publication", "publications"),
  pg("ScheduledBackup", "scheduledbackups", { schema: root(scheduledBackupSpec, ["metadata", "spec"]) }),
  pg("Subscription", "subscriptions"),
];


// External Secrets Operator (external-secrets/external-secrets deploy/crds, chart 0.18): external-secrets.io, v1 the
// storage version, v1beta1 still served. Schemas left open: the kubernetes-models schema checks these kinds in full.
const ES = "external-secrets.io";
const ES_CATEGORIES = ["external-secrets"];
const ES_STATUS = { name: "Status", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].reason' } as const;
const ES_READY = { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' } as const;
const es = (kind: string, plural: string, shortNames: string[], more: Partial<ChartCrd> = {}) => crd(ES, kind, plural, { versions: ["v1", "v1beta1"], shortNames, categories: ES_CATEGORIES, ...more });
const storeColumns: ChartCrd["printerColumns"] = [AGE, ES_STATUS, { name: "Capabilities", type: "string", jsonPath: ".status.capabilities" }, ES_READY];
const EXTERNAL_SECRETS_CRDS: ChartCrd[] = [
  es("ExternalSecret", "externalsecrets", ["es"], {
    printerColumns: [{ name: "Store", type: "string", jsonPath: ".spec.secretStoreRef.name" }, { name: "Refresh Interval", type: "string", jsonPath: ".spec.refreshInterval" }, ES_STATUS, ES_READY],
  }),
  es("SecretStore", "secretstores", ["ss"], { printerColumns: storeColumns }),
  es("ClusterSecretStore", "clustersecretstores", ["css"], { namespaced: false, printerColumns: storeColumns }),
  es("ClusterExternalSecret", "clusterexternalsecrets", ["ces"], { namespaced: false }),
  es("PushSecret", "pushsecrets", [], { versions: ["v1alpha1"] }),
  es("ClusterPushSecret", "clusterpushsecrets", [], { versions: ["v1alpha1"], namespaced: false }),
];

// Longhorn (longhorn/longhorn chart templates/crds.yaml, 1.9): longhorn.io/v1beta2, installed by every release.
const LH = "longhorn.io";
const lh = (kind: string, plural: string, shortNames: string[], more: Partial<ChartCrd> = {}) => crd(LH, kind, plural, { versions: ["v1beta2"], shortNames, categories: ["longhorn"], ...more });
const LONGHORN_CRDS: ChartCrd[] = [
  lh("Node", "nodes", ["lhn"], {
    printerColumns: [
      { name: "Ready", type: "string", jsonPath: ".status.conditions[?(@.type=='Ready')].status" },
      { name: "AllowScheduling", type: "boolean", jsonPath: ".spec.allowScheduling" },
      { name: "Schedulable", type: "string", jsonPath: ".status.conditions[?(@.type=='Schedulable')].status" },
      AGE,
    ],
  }),
  lh("Volume", "volumes", ["lhv"], {
    printerColumns: [
      { name: "State", type: "string", jsonPath: ".status.state" },
      { name: "Robustness", type: "string", jsonPath: ".status.robustness" },
      { name: "Size", type: "string", jsonPath: ".spec.size" },
      { name: "Node", type: "string", jsonPath: ".status.currentNodeID" },
      AGE,
    ],
  }),
  // a Setting has no spec: its value is a top-level string
  lh("Setting", "settings", ["lhs"], {
    printerColumns: [{ name: "Value", type: "string", jsonPath: ".value" }, AGE],
    schema: { type: "object", properties: { apiVersion: S, kind: S, metadata: { type: "object" }, value: S, status: open }, required: ["value"] },
  }),
  lh("BackingImage", "backingimages", ["lhbi"]),
  lh("BackingImageDataSource", "backingimagedatasources", ["lhbids"]),
  lh("BackingImageManager", "backingimagemanagers", ["lhbim"]),
  lh("Backup", "backups", ["lhb"]),
  lh("BackupBackingImage", "backupbackingimages", ["lhbbi"]),
  lh("BackupTarget", "backuptargets", ["lhbt"]),
  lh("BackupVolume", "backupvolumes", ["lhbv"]),
  lh("Engine", "engines", ["lhe"]),
  lh("EngineImage", "engineimages", ["lhei"]),
  lh("InstanceManager", "instancemanagers", ["lhim"]),
  lh("Orphan", "orphans", ["lho"]),
  lh("RecurringJob", "recurringjobs", ["lhrj"]),
  lh("Replica", "replicas", ["lhr"]),
  lh("ShareManager", "sharemanagers", ["lhsm"]),
  lh("Snapshot", "snapshots", ["lhsnap"]),
  lh("SupportBundle", "supportbundles", ["lhbundle"]),
  lh("SystemBackup", "systembackups", ["lhsb"]),
  lh("SystemRestore", "systemrestores", ["lhsr"]),
  lh("VolumeAttachment", "volumeattachments", ["lhva"]),
];

const on = (values: Obj, path: string[], dflt: boolean): boolean => {
  const v = at(values, ...path);
  return v === undefined || v === null ? dflt : v === true || v === "true";
};

interface ChartCrdTable {
  /** the chart versions the CRDs and schemas were written from, as a user reads them */
  known: string;
  covers: RegExp;
  /** the values that make a release install them, where the chart has a switch */
  enableWith?: string;
  /** the chart's switch and its default */
  crds(values: Obj): ChartCrd[];
  /**
   * the CRDs are in the chart's crds/ folder (Helm's CRD handling: `helm install --skip-crds`, helm-controller's
   * `install.crds: Skip`, and every plain upgrade leave them out), not in templates (always applied)
   */
  crdsDir?: true;
}

/**
 * Per chart: the CRDs a release installs, given its values, and the chart versions they were taken from.
 * cert-manager: `crds.enabled` (false; the deprecated `installCRDs` too); kube-prometheus-stack: `crds.enabled`
 * (true); prometheus-operator-crds: always; cloudnative-pg: `crds.create` (true); external-secrets: `installCRDs`
 * (true); longhorn: always.
 */
const CHART_CRDS: Record<string, ChartCrdTable> = {
  "cert-manager": { known: "v1.18", covers: /^v?1\.18(\.|$)/, enableWith: "crds.enabled: true", crds: (v) => (on(v, ["crds", "enabled"], false) || on(v, ["installCRDs"], false) ? CERT_MANAGER_CRDS : []) },
  // its CRDs are the crds/ folder of its `crds` subchart (charts/crds/crds/)
  "kube-prometheus-stack": { known: "70.x to 79.x", covers: /^v?7\d(\.|$)/, enableWith: "crds.enabled: true", crdsDir: true, crds: (v) => (on(v, ["crds", "enabled"], true) ? PROMETHEUS_OPERATOR_CRDS : []) },
  // prometheus-community's CRD-only chart, which repos run next to kube-prometheus-stack with its crds.enabled off
  "prometheus-operator-crds": { known: "22.x (prometheus-operator 0.83)", covers: /^v?22(\.|$)/, crds: () => PROMETHEUS_OPERATOR_CRDS },
  "cloudnative-pg": { known: "0.25 (CloudNativePG 1.26)", covers: /^v?0\.25(\.|$)/, enableWith: "crds.create: true", crds: (v) => (on(v, ["crds", "create"], true) ? CLOUDNATIVE_PG_CRDS : []) },
  "external-secrets": { known: "0.18", covers: /^v?0\.18(\.|$)/, enableWith: "installCRDs: true", crds: (v) => (on(v, ["installCRDs"], true) ? EXTERNAL_SECRETS_CRDS : []) },
  longhorn: { known: "1.9", covers: /^v?1\.9(\.|$)/, crds: () => LONGHORN_CRDS },
};

/**
 * The CRDs a release of `chart` installs with these values ([] for a chart whose CRDs the toolkit does not know).
 * `skipCrdsDir`: the install leaves out the chart's crds/ folder (`--skip-crds`, `install.crds: Skip`, an upgrade).
 */
export function chartCrds(chart: string, values: Obj = {}, opts: { skipCrdsDir?: boolean } = {}): ChartCrd[] {
  const t = CHART_CRDS[chart];
  if (!t || (t.crdsDir && opts.skipCrdsDir)) return [];
  return t.crds(values);
}

/** The chart ships its CRDs in its crds/ folder (Helm's CRD policy applies to them). */
export const chartCrdsInCrdsDir = (chart: string): boolean => CHART_CRDS[chart]?.crdsDir === true;

/**
 * Whether the chart-CRD table covers `version` of `chart` (the HelmRelease's chart version): `known` says which
 * versions it does. undefined for a chart whose CRDs the toolkit does not know.
 */
export function chartCrdCoverage(chart: string, version: string | undefined): { covered: boolean; known: string; enableWith?: string } | undefined {
  const t = CHART_CRDS[chart];
  return t && { covered: version !== undefined && t.covers.test(version.trim()), known: t.known, ...(t.enableWith ? { enableWith: t.enableWith } : {}) };
}

/** Every CRD some chart of the toolkit's knowledge installs, with the chart (the kinds a chart could make known). */
export function knownChartCrds(): { chart: string; crd: ChartCrd }[] {
  return Object.entries(CHART_CRDS).flatMap(([chart, t]) => t.crds({ crds: { enabled: true, create: true }, installCRDs: true }).map((crd) => ({ chart, crd })));
}
