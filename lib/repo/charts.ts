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
  /** CRD kinds (plural.group) the chart installs from its crds/ folder or templates */
  crds(values: Obj): string[];
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
  crds: () => [],
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
