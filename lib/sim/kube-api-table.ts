/**
 * Server-side printing: the meta.k8s.io/v1 Table that plain `kubectl get` asks for
 * (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`). Columns follow kube-apiserver's printers for the kinds
 * people look at (nodes, pods, namespaces, deployments, daemonsets, CRDs); everything else gets NAME and AGE.
 */
import type { KindInfo, PrinterColumn } from "./kinds.ts";
import type { KubeObject } from "./store.ts";

interface Column {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
  cell: (o: KubeObject, now: number) => string | number;
}

const col = (name: string, cell: Column["cell"], type = "string", format = "", priority = 0): Column => ({
  name,
  type,
  format,
  description: name,
  priority,
  cell,
});

/** kube's duration.HumanDuration, which every AGE column uses. */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60 * 2) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 60 * 3) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (h < 24 * 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (h < 24 * 365 * 2) return `${d}d`;
  const y = Math.floor(d / 365);
  if (h < 24 * 365 * 8) return d % 365 === 0 ? `${y}y` : `${y}y${d % 365}d`;
  return `${y}y`;
}

const name = col("Name", (o) => o.metadata.name ?? "", "string", "name");
const age = col("Age", (o, now) => (o.metadata.creationTimestamp ? humanDuration(now - Date.parse(o.metadata.creationTimestamp)) : "<unknown>"));

type Cond = { type?: string; status?: string };
const conds = (o: KubeObject): Cond[] => (Array.isArray(o.status?.conditions) ? (o.status.conditions as Cond[]) : []);

function nodeStatus(o: KubeObject): string {
  const ready = conds(o).find((c) => c.type === "Ready");
  const parts = [ready?.status === "True" ? "Ready" : ready ? "NotReady" : "Unknown"];
  if (o.spec?.unschedulable) parts.push("SchedulingDisabled");
  return parts.join(",");
}

function nodeRoles(o: KubeObject): string {
  const roles = Object.keys(o.metadata.labels ?? {})
    .filter((l) => l.startsWith("node-role.kubernetes.io/"))
    .map((l) => l.slice("node-role.kubernetes.io/".length))
    .filter((r) => r !== "")
    .sort();
  return roles.length > 0 ? roles.join(",") : "<none>";
}

function podReady(o: KubeObject): string {
  const statuses = Array.isArray(o.status?.containerStatuses) ? (o.status.containerStatuses as { ready?: boolean }[]) : [];
  const total = Array.isArray(o.spec?.containers) ? (o.spec.containers as unknown[]).length : statuses.length;
  return `${statuses.filter((s) => s.ready).length}/${total}`;
}

function podRestarts(o: KubeObject): number {
  const statuses = Array.isArray(o.status?.containerStatuses) ? (o.status.containerStatuses as { restartCount?: number }[]) : [];
  return statuses.reduce((n, s) => n + (s.restartCount ?? 0), 0);
}

/**
 * The JSONPath subset CRD printer columns use: `.a.b`, `[0]`, `[*]`, `[?(@.type=="Ready")]` (== or !=, quoted
 * string). Returns every match.
 */
export function evalJsonPath(obj: unknown, path: string): unknown[] {
  let cur: unknown[] = [obj];
  const re = /\.([A-Za-z0-9_\-/]+)|\[(\d+|\*)\]|\[\?\(@\.([A-Za-z0-9_.\-/]+)\s*(==|!=)\s*(?:"([^"]*)"|'([^']*)')\)\]/gy;
  let m: RegExpExecArray | null;
  let pos = 0;
  const p = path.trim().replace(/^\{(.*)\}$/, "$1");
  re.lastIndex = 0;
  while (pos < p.length && (m = re.exec(p)) !== null) {
    pos = re.lastIndex;
    const next: unknown[] = [];
    for (const v of cur) {
      if (m[1] !== undefined) {
        if (v && typeof v === "object" && !Array.isArray(v) && m[1] in v) next.push((v as Record<string, unknown>)[m[1]]);
      } else if (m[2] !== undefined) {
        if (!Array.isArray(v)) continue;
        if (m[2] === "*") next.push(...v);
        else if (Number(m[2]) < v.length) next.push(v[Number(m[2])]);
      } else if (m[3] !== undefined && Array.isArray(v)) {
        const want = m[5] ?? m[6] ?? "";
        for (const item of v) {
          let field: unknown = item;
          for (const seg of m[3].split(".")) field = field && typeof field === "object" ? (field as Record<string, unknown>)[seg] : undefined;
          if ((String(field) === want) === (m[4] === "==")) next.push(item);
        }
      }
    }
    cur = next;
  }
  if (pos !== p.length) return [];
  return cur.filter((v) => v !== undefined);
}

function crdColumn(c: PrinterColumn): Column {
  return col(
    c.name,
    (o, now) => {
      const values = evalJsonPath(o, c.jsonPath);
      if (values.length === 0) return "";
      if (c.type === "date") {
        const t = Date.parse(String(values[0]));
        return Number.isNaN(t) ? "<invalid>" : humanDuration(now - t);
      }
      return values.map((v) => (typeof v === "object" ? JSON.stringify(v) : String(v))).join(",");
    },
    c.type === "date" ? "date" : c.type,
    "",
    c.priority ?? 0,
  );
}

/** kubectl's printers list three addresses, then "+ N more...". */
const firstThree = (items: string[]): string => (items.length > 3 ? `${items.slice(0, 3).join(",")} + ${items.length - 3} more...` : items.join(","));

function columnsFor(k: KindInfo): Column[] {
  if (k.crd) return k.printerColumns && k.printerColumns.length > 0 ? [name, ...k.printerColumns.map(crdColumn)] : [name, age];
  if (k.group === "") {
    switch (k.kind) {
      case "Node":
        return [name, col("Status", nodeStatus), col("Roles", nodeRoles), age, col("Version", (o) => o.status?.nodeInfo?.kubeletVersion ?? "")];
      case "Pod":
        return [
          name,
          col("Ready", podReady),
          col("Status", (o) => (o.metadata.deletionTimestamp ? "Terminating" : (o.status?.reason ?? o.status?.phase ?? "Unknown"))),
          col("Restarts", podRestarts, "integer"),
          age,
          col("IP", (o) => o.status?.podIP ?? "<none>", "string", "", 1),
          col("Node", (o) => o.spec?.nodeName ?? "<none>", "string", "", 1),
        ];
      case "Namespace":
        return [name, col("Status", (o) => o.status?.phase ?? ""), age];
      case "Service":
        return [
          name,
          col("Type", (o) => o.spec?.type ?? "ClusterIP"),
          col("Cluster-IP", (o) => o.spec?.clusterIP ?? "<none>"),
          col("External-IP", (o) => {
            const ing = (o.status?.loadBalancer?.ingress ?? []) as { ip?: string; hostname?: string }[];
            return ing.length > 0 ? ing.map((i) => i.ip ?? i.hostname).join(",") : o.spec?.type === "LoadBalancer" ? "<pending>" : "<none>";
          }),
          col("Port(s)", (o) =>
            ((o.spec?.ports ?? []) as { port?: number; protocol?: string; nodePort?: number }[])
              .map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ""}/${p.protocol ?? "TCP"}`)
              .join(",") || "<none>",
          ),
          age,
        ];
      case "Endpoints":
        return [
          name,
          col("Endpoints", (o) => {
            const all = ((o.subsets ?? []) as { addresses?: { ip: string }[]; ports?: { port: number }[] }[]).flatMap((s) =>
              (s.ports?.length ? s.ports : [undefined]).flatMap((p) => (s.addresses ?? []).map((a) => (p ? `${a.ip}:${p.port}` : a.ip))),
            );
            return firstThree(all) || "<none>";
          }),
          age,
        ];
    }
  }
  if (k.group === "discovery.k8s.io" && k.kind === "EndpointSlice") {
    return [
      name,
      col("AddressType", (o) => String(o.addressType ?? "")),
      col("Ports", (o) => ((o.ports ?? []) as { port?: number }[]).map((p) => p.port).join(",") || "<unset>"),
      col("Endpoints", (o) => firstThree(((o.endpoints ?? []) as { addresses?: string[] }[]).flatMap((e) => e.addresses ?? [])) || "<unset>"),
      age,
    ];
  }
  if (k.group === "apps" && k.kind === "Deployment") {
    return [
      name,
      col("Ready", (o) => `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 1}`),
      col("Up-to-date", (o) => o.status?.updatedReplicas ?? 0, "integer"),
      col("Available", (o) => o.status?.availableReplicas ?? 0, "integer"),
      age,
    ];
  }
  if (k.group === "apps" && k.kind === "DaemonSet") {
    const n = (f: string) => (o: KubeObject) => (o.status?.[f] as number | undefined) ?? 0;
    return [
      name,
      col("Desired", n("desiredNumberScheduled"), "integer"),
      col("Current", n("currentNumberScheduled"), "integer"),
      col("Ready", n("numberReady"), "integer"),
      col("Up-to-date", n("updatedNumberScheduled"), "integer"),
      col("Available", n("numberAvailable"), "integer"),
      age,
    ];
  }
  if (k.group === "apiextensions.k8s.io") {
    return [name, col("Created At", (o) => o.metadata.creationTimestamp ?? "", "string", "date")];
  }
  return [name, age];
}

/** A Table of `objects`; each row carries PartialObjectMetadata, as with includeObject=Metadata (the default). */
export function toTable(k: KindInfo, objects: KubeObject[], resourceVersion: string, now = Date.now()): Record<string, unknown> {
  const columns = columnsFor(k);
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: { resourceVersion },
    columnDefinitions: columns.map(({ cell: _c, ...def }) => def),
    rows: objects.map((o) => ({
      cells: columns.map((c) => {
        const v = c.cell(o, now);
        // real servers send absent values as null, which kubectl prints as <none>
        return v === "" && c.name !== "Name" ? null : v;
      }),
      object: { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: o.metadata },
    })),
  };
}

/** Whether an Accept header asks for a Table (kubectl's plain `get`). */
export function wantsTable(accept: string | null): boolean {
  if (!accept) return false;
  const first = accept.split(",")[0] ?? "";
  return /(^|;)\s*as=Table/.test(first) && /g=meta\.k8s\.io/.test(first);
}
