/** Shared fixtures for the sim-controllers tests: an in-process store + controllers, no HTTP, timing scale 0. */
import { createControllers, type ControllerOptions, type SimControllers } from "../../lib/sim/controllers/index.ts";
import type { KObj } from "../../lib/sim/controllers/obj.ts";
import { Faults } from "../../lib/sim/faults.ts";
import { SimStore } from "../../lib/sim/store.ts";
import { Timing } from "../../lib/sim/timing.ts";
import type { ToolResult } from "../../lib/sim/tools.ts";
import { createFluxTool } from "../../lib/sim/tools/flux.ts";
import { createHelmTool } from "../../lib/sim/tools/helm.ts";
import { createVtyshTool } from "../../lib/sim/tools/vtysh.ts";
import { SimVault } from "../../lib/sim/vault.ts";

export interface Rig {
  store: SimStore;
  faults: Faults;
  vault: SimVault;
  timing: Timing;
  c: SimControllers;
  helm(...argv: string[]): Promise<ToolResult>;
  helmStdin(stdin: string, ...argv: string[]): Promise<ToolResult>;
  flux(...argv: string[]): Promise<ToolResult>;
  fluxWith(env: Record<string, string>, stdin: string, ...argv: string[]): Promise<ToolResult>;
  vtysh(...argv: string[]): ToolResult;
  addNode(name: string, ipv4: string, ipv6?: string, ready?: "True" | "False" | "Unknown"): void;
  setNodeReady(name: string, status: "True" | "False" | "Unknown"): void;
  get(kind: string, name: string, ns?: string): KObj | undefined;
  list(kind: string, ns?: string): KObj[];
  /** waits until every controller is idle */
  settle(): Promise<void>;
  stop(): void;
}

export const ENV = { KUBECONFIG: "/tmp/sim-kubeconfig" };

export function rig(opts: ControllerOptions & { root?: string; scale?: number; faults?: string[] } = {}): Rig {
  const store = new SimStore();
  const faults = new Faults(opts.faults ?? []);
  const vault = new SimVault();
  const timing = new Timing({ scale: opts.scale ?? 0 });
  const host = { store, faults, vault, timing, ...(opts.root ? { root: opts.root } : {}) };
  const c = createControllers(host, opts);
  c.start();
  const helm = createHelmTool(c.ctx);
  const flux = createFluxTool(c.ctx, c.flux);
  const vtysh = createVtyshTool(c.router);
  const cwd = process.cwd();
  const nodeStatus = (ipv4: string, ipv6: string | undefined, ready: string) => ({
    conditions: [
      ready === "True"
        ? { type: "Ready", status: "True", reason: "KubeletReady", message: "kubelet is posting ready status" }
        : ready === "False"
          ? { type: "Ready", status: "False", reason: "KubeletNotReady", message: "container runtime network not ready" }
          : { type: "Ready", status: "Unknown", reason: "NodeStatusUnknown", message: "Kubelet stopped posting node status." },
    ],
    addresses: [{ type: "InternalIP", address: ipv4 }, ...(ipv6 ? [{ type: "InternalIP", address: ipv6 }] : []), { type: "Hostname", address: "x" }],
    nodeInfo: { kubeletVersion: "v1.32.3" },
  });
  return {
    store,
    faults,
    vault,
    timing,
    c,
    helm: (...argv) => helm({ argv, stdin: "", env: ENV, cwd }),
    helmStdin: (stdin, ...argv) => helm({ argv, stdin, env: ENV, cwd }),
    flux: (...argv) => flux({ argv, stdin: "", env: ENV, cwd }),
    fluxWith: (env, stdin, ...argv) => flux({ argv, stdin, env, cwd }),
    vtysh: (...argv) => vtysh({ argv, stdin: "", env: {}, cwd }),
    addNode(name, ipv4, ipv6, ready = "False") {
      const n = store.create({ apiVersion: "v1", kind: "Node", metadata: { name, labels: { "kubernetes.io/hostname": name } }, spec: { podCIDRs: [`10.244.${Number(ipv4.split(".")[3]) % 250}.0/24`] } }, { fieldManager: "kubelet" });
      store.updateStatus({ ...n, status: nodeStatus(ipv4, ipv6, ready) }, { fieldManager: "kubelet" });
    },
    setNodeReady(name, status) {
      const n = store.get("nodes", name);
      const addrs = (n.status?.addresses ?? []) as { type: string; address: string }[];
      const v4 = addrs.find((a) => a.type === "InternalIP" && !a.address.includes(":"))?.address ?? "";
      const v6 = addrs.find((a) => a.type === "InternalIP" && a.address.includes(":"))?.address;
      store.updateStatus({ ...n, status: nodeStatus(v4, v6, status) }, { fieldManager: "kubelet" });
    },
    get: (kind, name, ns) => c.ctx.get(kind, name, ns),
    list: (kind, ns) => c.ctx.list(kind, ns),
    settle: () => c.ctx.settle(),
    stop: () => c.stop(),
  };
}

/** Three nodes like the repo's: IPv4 + IPv6 each. */
export function threeNodes(r: Rig): void {
  r.addNode("mini01", "172.29.51.11", "fd47:25e1:2f96:51::11");
  r.addNode("mini02", "172.29.51.12", "fd47:25e1:2f96:51::12");
  r.addNode("mini03", "172.29.51.13", "fd47:25e1:2f96:51::13");
}

export const CILIUM_VALUES = `
kubeProxyReplacement: true
k8sServiceHost: localhost
k8sServicePort: 7445
ipam:
  mode: kubernetes
bgpControlPlane:
  enabled: true
`;

export async function installCilium(r: Rig, values = CILIUM_VALUES): Promise<ToolResult> {
  await r.settle();
  const res = await r.helmStdin(values, "upgrade", "--install", "cilium", "cilium", "--repo", "https://helm.cilium.io", "--version", "1.17.4", "--namespace", "kube-system", "--values", "-", "--wait");
  await r.settle();
  return res;
}
