/**
 * The Helm charts the simulated cluster knows, and what installing each one creates — the objects the toolkit
 * later checks, rendered the way the real chart templates name and label them. Used by the `helm` stand-in
 * (lib/sim/tools/helm.ts) and by the emulated helm-controller of Flux (HelmRelease).
 *
 * Only the parts of each chart the toolkit observes are rendered: workloads, the ConfigMaps the software reads its
 * settings from (cilium-config, longhorn-default-setting), Services, and CRDs shipped as templates. CRDs the
 * software registers itself at run time (Cilium's, by cilium-operator) are created by the emulated controllers.
 */
import { chartCrdKind, type KindInfo } from "./kinds.ts";
import type { KObj } from "./controllers/obj.ts";
import { chartCrds, chartServices, ingressNginxFullname } from "../repo/charts.ts";

export type Values = Record<string, unknown>;

export interface ReleaseInput {
  name: string;
  namespace: string;
  version: string;
  values: Values;
}

export interface ChartDef {
  /** chart name as in Chart.yaml */
  name: string;
  /** repositories that serve it (classic index URLs and OCI references without the chart name) */
  repos: string[];
  description: string;
  appVersion(version: string): string;
  /** CRDs the chart ships (created by helm before the templates); `skipCrdsDir`: its crds/ folder is left out */
  crds(values: Values, skipCrdsDir?: boolean): readonly KindInfo[];
  render(r: ReleaseInput): KObj[];
  notes?(r: ReleaseInput): string;
}

/** Reads a dotted path from values, e.g. get(v, "operator.replicas"). */
export function valueAt(values: Values, path: string): unknown {
  let cur: unknown = values;
  for (const part of path.split(".")) {
    if (cur === null || typeof cur !== "object" || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Helm-style truthiness of a value that may have been written as a string. */
export function truthy(v: unknown, dflt = false): boolean {
  if (v === undefined || v === null) return dflt;
  if (typeof v === "string") return v === "true" || v === "1";
  return Boolean(v);
}

const standardLabels = (r: ReleaseInput, chart: string, version: string, component?: string): Record<string, string> => ({
  "app.kubernetes.io/managed-by": "Helm",
  "app.kubernetes.io/instance": r.name,
  "helm.sh/chart": `${chart}-${version}`,
  ...(component ? { "app.kubernetes.io/component": component } : {}),
});

const meta = (name: string, namespace: string | undefined, labels: Record<string, string>, annotations?: Record<string, string>) => ({
  name,
  ...(namespace ? { namespace } : {}),
  labels,
  annotations: { "meta.helm.sh/release-name": labels["app.kubernetes.io/instance"] ?? "", "meta.helm.sh/release-namespace": namespace ?? "", ...(annotations ?? {}) },
});

interface WorkloadSpec {
  kind: "Deployment" | "DaemonSet";
  name: string;
  namespace: string;
  labels: Record<string, string>;
  podLabels: Record<string, string>;
  containers: { name: string; image: string; env?: unknown[]; args?: string[]; ports?: { name: string; containerPort: number; protocol: string }[] }[];
  replicas?: number;
  hostNetwork?: boolean;
  volumes?: unknown[];
}

function workload(r: ReleaseInput, w: WorkloadSpec): KObj {
  return {
    apiVersion: "apps/v1",
    kind: w.kind,
    metadata: meta(w.name, w.namespace, { ...w.labels, ...w.podLabels }),
    spec: {
      ...(w.kind === "Deployment" ? { replicas: w.replicas ?? 1 } : {}),
      selector: { matchLabels: w.podLabels },
      template: {
        metadata: { labels: w.podLabels },
        spec: {
          ...(w.hostNetwork ? { hostNetwork: true } : {}),
          containers: w.containers,
          ...(w.volumes ? { volumes: w.volumes } : {}),
          tolerations: w.hostNetwork ? [{ operator: "Exists" }] : [],
        },
      },
    },
  };
}

const service = (r: ReleaseInput, name: string, labels: Record<string, string>, selector: Record<string, string>, port: number): KObj => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: meta(name, r.namespace, labels),
  spec: { type: "ClusterIP", selector, ports: [{ name: "http", port, protocol: "TCP", targetPort: port }] },
});

const configMap = (r: ReleaseInput, name: string, labels: Record<string, string>, data: Record<string, string>): KObj => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: meta(name, r.namespace, labels),
  data,
});

/** The kinds whose CRDs a release of `chart` installs with `values` (the shared chart knowledge). */
export const chartCrdKinds = (chart: string, values: Values, skipCrdsDir = false): KindInfo[] => chartCrds(chart, values, { skipCrdsDir }).map(chartCrdKind);

// ---------------------------------------------------------------------------------------------------------------

const cilium: ChartDef = {
  name: "cilium",
  repos: ["https://helm.cilium.io", "https://helm.cilium.io/", "oci://quay.io/cilium/charts"],
  description: "eBPF-based Networking, Security, and Observability",
  appVersion: (v) => v,
  crds: () => [], // registered by cilium-operator at start-up, not by Helm
  render(r) {
    const v = r.values;
    const image = `quay.io/cilium/cilium:v${r.version}`;
    const labels = standardLabels(r, "cilium", r.version);
    const kpr = valueAt(v, "kubeProxyReplacement");
    const data: Record<string, string> = {
      "enable-bgp-control-plane": String(truthy(valueAt(v, "bgpControlPlane.enabled"))),
      "enable-bgp-control-plane-status-report": String(truthy(valueAt(v, "bgpControlPlane.statusReport.enabled"), true)),
      "kube-proxy-replacement": kpr === undefined ? "false" : String(kpr),
      ipam: String(valueAt(v, "ipam.mode") ?? "cluster-pool"),
      "enable-ipv4": String(truthy(valueAt(v, "ipv4.enabled"), true)),
      "enable-ipv6": String(truthy(valueAt(v, "ipv6.enabled"), false)),
      "enable-lb-ipam": String(truthy(valueAt(v, "enableLBIPAM"), true)),
      "cgroup-root": String(valueAt(v, "cgroup.hostRoot") ?? "/run/cilium/cgroupv2"),
      "routing-mode": String(valueAt(v, "routingMode") ?? "tunnel"),
    };
    const host = valueAt(v, "k8sServiceHost");
    const port = valueAt(v, "k8sServicePort");
    if (host !== undefined) data["k8s-service-host"] = String(host);
    if (port !== undefined) data["k8s-service-port"] = String(port);
    const opReplicas = Number(valueAt(v, "operator.replicas") ?? 2);
    return [
      configMap(r, "cilium-config", labels, data),
      workload(r, {
        kind: "DaemonSet",
        name: "cilium",
        namespace: r.namespace,
        labels: { ...labels, "app.kubernetes.io/part-of": "cilium" },
        podLabels: { "k8s-app": "cilium", "app.kubernetes.io/name": "cilium-agent" },
        containers: [{ name: "cilium-agent", image }],
        hostNetwork: true,
      }),
      workload(r, {
        kind: "Deployment",
        name: "cilium-operator",
        namespace: r.namespace,
        labels: { ...labels, "app.kubernetes.io/part-of": "cilium" },
        podLabels: { "io.cilium/app": "operator", name: "cilium-operator", "app.kubernetes.io/name": "cilium-operator" },
        containers: [{ name: "cilium-operator", image: `quay.io/cilium/operator-generic:v${r.version}` }],
        replicas: opReplicas,
        hostNetwork: true,
      }),
    ];
  },
  notes: (r) => `You have successfully installed Cilium with Hubble.\n\nYour release version is ${r.version}.\n\nFor any further help, visit https://docs.cilium.io/en/v${r.version.split(".").slice(0, 2).join(".")}/gettinghelp`,
};

const externalSecrets: ChartDef = {
  name: "external-secrets",
  repos: ["https://charts.external-secrets.io", "oci://ghcr.io/external-secrets/charts"],
  description: "External secret management for Kubernetes",
  appVersion: (v) => `v${v}`,
  crds: (values) => chartCrdKinds("external-secrets", values),
  render(r) {
    const labels = standardLabels(r, "external-secrets", r.version);
    const img = `oci.external-secrets.io/external-secrets/external-secrets:v${r.version}`;
    const out: KObj[] = [
      workload(r, {
        kind: "Deployment",
        name: r.name,
        namespace: r.namespace,
        labels,
        podLabels: { "app.kubernetes.io/name": "external-secrets", "app.kubernetes.io/instance": r.name },
        containers: [{ name: "external-secrets", image: img }],
        replicas: Number(valueAt(r.values, "replicaCount") ?? 1),
      }),
    ];
    if (truthy(valueAt(r.values, "webhook.create"), true)) {
      out.push(
        workload(r, {
          kind: "Deployment",
          name: `${r.name}-webhook`,
          namespace: r.namespace,
          labels,
          podLabels: { "app.kubernetes.io/name": "external-secrets-webhook", "app.kubernetes.io/instance": r.name },
          containers: [{ name: "webhook", image: img }],
        }),
      );
    }
    if (truthy(valueAt(r.values, "certController.create"), true)) {
      out.push(
        workload(r, {
          kind: "Deployment",
          name: `${r.name}-cert-controller`,
          namespace: r.namespace,
          labels,
          podLabels: { "app.kubernetes.io/name": "external-secrets-cert-controller", "app.kubernetes.io/instance": r.name },
          containers: [{ name: "cert-controller", image: img }],
        }),
      );
    }
    return out;
  },
  notes: (r) => `external-secrets has been deployed successfully in namespace ${r.namespace}!`,
};

/** The 1Password Connect chart ("connect" in 1password/connect-helm-charts). */
const connect: ChartDef = {
  name: "connect",
  repos: ["https://1password.github.io/connect-helm-charts", "https://1password.github.io/connect-helm-charts/"],
  description: "A Helm chart for deploying 1Password Connect and the 1Password Connect Kubernetes Operator",
  appVersion: () => "1.7.3",
  crds: () => [],
  render(r) {
    const v = r.values;
    const app = String(valueAt(v, "connect.applicationName") ?? "onepassword-connect");
    const credName = String(valueAt(v, "connect.credentialsName") ?? "op-credentials");
    const credKey = String(valueAt(v, "connect.credentialsKey") ?? "1password-credentials.json");
    const labels = { ...standardLabels(r, "connect", r.version), "app.kubernetes.io/name": app };
    const env = [{ name: "OP_SESSION", valueFrom: { secretKeyRef: { name: credName, key: credKey } } }];
    const out: KObj[] = [
      workload(r, {
        kind: "Deployment",
        name: app,
        namespace: r.namespace,
        labels,
        podLabels: { app },
        containers: [
          { name: "connect-api", image: "1password/connect-api:1.7.3", env },
          { name: "connect-sync", image: "1password/connect-sync:1.7.3", env },
        ],
      }),
      service(r, String(valueAt(v, "connect.serviceName") ?? app), labels, { app }, 8080),
    ];
    if (truthy(valueAt(v, "operator.create"))) {
      out.push(
        workload(r, {
          kind: "Deployment",
          name: "onepassword-connect-operator",
          namespace: r.namespace,
          labels,
          podLabels: { name: "onepassword-connect", component: "operator" },
          containers: [{ name: "onepassword-connect-operator", image: "1password/onepassword-operator:1.8.1" }],
        }),
      );
    }
    return out;
  },
};

const longhorn: ChartDef = {
  name: "longhorn",
  repos: ["https://charts.longhorn.io", "https://charts.longhorn.io/"],
  description: "Longhorn is a distributed block storage system for Kubernetes.",
  appVersion: (v) => `v${v}`,
  crds: (values) => chartCrdKinds("longhorn", values),
  render(r) {
    const labels = { ...standardLabels(r, "longhorn", r.version), "app.kubernetes.io/name": "longhorn", "app.kubernetes.io/version": `v${r.version}` };
    const defaults = (valueAt(r.values, "defaultSettings") ?? {}) as Record<string, unknown>;
    const yaml = Object.entries(defaults)
      .filter(([, val]) => val !== null && val !== undefined && val !== "")
      // the chart writes the camelCase values keys as Longhorn's kebab-case setting names
      .map(([k, val]) => `${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${typeof val === "string" ? JSON.stringify(val) : String(val)}`)
      .join("\n");
    const img = `longhornio/longhorn-manager:v${r.version}`;
    return [
      configMap(r, "longhorn-default-setting", labels, { "default-setting.yaml": yaml }),
      workload(r, {
        kind: "DaemonSet",
        name: "longhorn-manager",
        namespace: r.namespace,
        labels,
        podLabels: { app: "longhorn-manager" },
        containers: [{ name: "longhorn-manager", image: img }],
      }),
      workload(r, {
        kind: "Deployment",
        name: "longhorn-driver-deployer",
        namespace: r.namespace,
        labels,
        podLabels: { app: "longhorn-driver-deployer" },
        containers: [{ name: "longhorn-driver-deployer", image: img }],
      }),
      workload(r, {
        kind: "Deployment",
        name: "longhorn-ui",
        namespace: r.namespace,
        labels,
        podLabels: { app: "longhorn-ui" },
        containers: [{ name: "longhorn-ui", image: `longhornio/longhorn-ui:v${r.version}` }],
        replicas: Number(valueAt(r.values, "longhornUI.replicas") ?? 2),
      }),
      service(r, "longhorn-frontend", labels, { app: "longhorn-ui" }, 80),
    ];
  },
};

/**
 * A chart whose emulation is one Deployment named after the release (enough for readiness and listing), plus the
 * CRDs the shared chart knowledge says it installs.
 */
function simpleChart(name: string, repos: string[], description: string, appVersion: (v: string) => string, image: string): ChartDef {
  return {
    name,
    repos,
    description,
    appVersion,
    crds: (values, skipCrdsDir) => chartCrdKinds(name, values, skipCrdsDir),
    render(r) {
      return [
        workload(r, {
          kind: "Deployment",
          name: r.name,
          namespace: r.namespace,
          labels: standardLabels(r, name, r.version),
          podLabels: { "app.kubernetes.io/name": name, "app.kubernetes.io/instance": r.name },
          containers: [{ name, image: `${image}:${appVersion(r.version)}` }],
          replicas: Number(valueAt(r.values, "replicaCount") ?? 1),
        }),
      ];
    },
  };
}

/**
 * ingress-nginx: the controller Deployment and its Service, named, labelled and addressed exactly as lib/repo sees
 * them (lib/repo/charts.ts), so the simulated cluster's LB-IPAM and BGP act on the Services validate checked.
 */
const ingressNginx: ChartDef = {
  name: "ingress-nginx",
  repos: ["https://kubernetes.github.io/ingress-nginx", "oci://ghcr.io/home-operations/charts-mirror"],
  description: "Ingress controller for Kubernetes using NGINX as a reverse proxy and load balancer",
  appVersion: () => "1.12.1",
  crds: () => [],
  render(r) {
    const full = ingressNginxFullname(r.name, r.values);
    const services = chartServices("ingress-nginx", { name: r.name, namespace: r.namespace, values: r.values });
    const podLabels = services[0]?.selector ?? { "app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/instance": r.name, "app.kubernetes.io/component": "controller" };
    return [
      workload(r, {
        kind: "Deployment",
        name: `${full}-controller`,
        namespace: r.namespace,
        labels: { ...standardLabels(r, "ingress-nginx", r.version, "controller"), "app.kubernetes.io/name": "ingress-nginx" },
        podLabels,
        // controller-deployment.yaml: the containerPort values, named as the Service's targetPorts refer to them
        containers: [
          {
            name: "controller",
            image: "registry.k8s.io/ingress-nginx/controller:v1.12.1",
            ports: Object.entries({ http: 80, https: 443, ...(valueAt(r.values, "controller.containerPort") as Record<string, number> | undefined) }).map(([name, port]) => ({ name, containerPort: Number(port), protocol: "TCP" })),
          },
        ],
        replicas: Number(valueAt(r.values, "controller.replicaCount") ?? 1),
      }),
      ...services.map(
        (s): KObj => ({
          apiVersion: "v1",
          kind: "Service",
          metadata: meta(s.name, s.namespace, { ...standardLabels(r, "ingress-nginx", r.version, "controller"), ...s.labels }, s.annotations),
          spec: {
            type: s.type,
            selector: s.selector,
            ports: s.ports,
            ...(s.loadBalancerClass ? { loadBalancerClass: s.loadBalancerClass } : {}),
            ...(s.loadBalancerIP ? { loadBalancerIP: s.loadBalancerIP } : {}),
            ...(s.ipFamilyPolicy ? { ipFamilyPolicy: s.ipFamilyPolicy } : {}),
            ipFamilies: s.ipFamilies,
            ...(s.externalTrafficPolicy ? { externalTrafficPolicy: s.externalTrafficPolicy } : {}),
          },
        }),
      ),
    ];
  },
};

export const CHARTS: readonly ChartDef[] = [
  ingressNginx,
  cilium,
  externalSecrets,
  connect,
  longhorn,
  simpleChart("coredns", ["https://coredns.github.io/helm", "oci://ghcr.io/coredns/charts"], "CoreDNS is a DNS server that chains plugins and provides Kubernetes DNS Services", () => "1.12.0", "coredns/coredns"),
  simpleChart("cert-manager", ["https://charts.jetstack.io", "oci://quay.io/jetstack/charts"], "A Helm chart for cert-manager", (v) => (v.startsWith("v") ? v : `v${v}`), "quay.io/jetstack/cert-manager-controller"),
  simpleChart("kube-prometheus-stack", ["https://prometheus-community.github.io/helm-charts", "oci://ghcr.io/prometheus-community/charts"], "kube-prometheus-stack collects Kubernetes manifests, Grafana dashboards, and Prometheus rules", () => "v0.83.0", "quay.io/prometheus-operator/prometheus-operator"),
  simpleChart("cloudnative-pg", ["https://cloudnative-pg.github.io/charts", "https://cloudnative-pg.io/charts/"], "CloudNativePG Operator Helm Chart", () => "1.26.0", "ghcr.io/cloudnative-pg/cloudnative-pg"),
  simpleChart("spegel", ["oci://ghcr.io/spegel-org/helm-charts"], "Stateless cluster local OCI registry mirror.", (v) => v, "ghcr.io/spegel-org/spegel"),
];

export function findChart(name: string): ChartDef | undefined {
  return CHARTS.find((c) => c.name === name);
}

/** Chart names some repos alias (the 1Password chart is "connect", commonly released as onepassword-connect). */
export function chartForReference(ref: string): ChartDef | undefined {
  const last = ref.replace(/\/+$/, "").split("/").pop() ?? ref;
  return findChart(last) ?? (last === "onepassword-connect" ? connect : undefined);
}
