/**
 * The in-cluster half of the simulated cluster: every emulated controller (what runs INSIDE a real cluster:
 * apiextensions establishing, kube-controller-manager + kubelet for workloads and endpoints, Cilium
 * agent/operator, Flux, External Secrets, 1Password Connect, Longhorn, cert-manager and CloudNativePG) and the
 * router peer, plus the `helm`, `flux` and `vtysh` stand-ins that act on them.
 *
 * SimCluster calls `registerControllers(cluster)` once; it registers the tools and one controller
 * ("sim-controllers") whose start()/stop() start and stop all of them in dependency order.
 * `controllersOf(cluster)` gives tests and other parts of lib/sim the handle with the knobs.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { ToolHandler } from "../tools.ts";
import { createFluxTool } from "../tools/flux.ts";
import { createHelmTool } from "../tools/helm.ts";
import { createVtyshTool } from "../tools/vtysh.ts";
import { CiliumController } from "./cilium.ts";
import { ConnectController, ExternalSecretsController } from "./external-secrets.ts";
import { CrdEstablishingController } from "./crds.ts";
import { EndpointsController } from "./endpoints.ts";
import { FluxController, type FluxOptions } from "./flux.ts";
import { LonghornController, type LonghornOptions } from "./longhorn.ts";
import { ChartOperatorsController } from "./operators.ts";
import { installCilium, populateBootstrapped } from "./populate.ts";
import { type RouterConfig, SimRouter } from "./router.ts";
import { type ControllerDelays, type ControllerHost, Ctx, type Reconciler } from "./runtime.ts";
import { WorkloadController } from "./workloads.ts";

export interface ControllerOptions {
  /** real-world delays (ms) of the controllers, scaled by the cluster's timing */
  delays?: Partial<ControllerDelays>;
  /** the router peer's configuration (ASN, addresses, policy...); see router.ts */
  router?: Partial<RouterConfig>;
  /** true: the router has inbound+outbound route-maps accepting everything; a list: accept only these prefixes */
  routerInboundPolicy?: boolean | string[];
  flux?: FluxOptions;
  longhorn?: LonghornOptions;
  /**
   * With SimCluster state "bootstrapped": also build what the bootstrap phases leave (Flux installed, the repo's
   * kubernetes/ reconciled: Cilium, ESO, Connect, Longhorn, apps). State "complete" always does.
   */
  populate?: boolean;
}

/** What SimCluster offers (lib/sim/cluster.ts). */
export interface ClusterLike extends ControllerHost {
  topology?: { root?: string; toolVersions?: { helm?: string } };
  /** "complete": build the ready-made cluster (populate.ts) when the controllers start */
  state?: string;
  registerTool(name: string, handler: ToolHandler): void;
  addController(c: { name: string; start(cluster: unknown): void | Promise<void>; stop(): void | Promise<void> }): void;
  /** the repo root the cluster was built from (Flux reads kubernetes/ from it) */
  root?: string;
}

export interface SimControllers {
  ctx: Ctx;
  crds: CrdEstablishingController;
  workloads: WorkloadController;
  endpoints: EndpointsController;
  cilium: CiliumController;
  router: SimRouter;
  flux: FluxController;
  externalSecrets: ExternalSecretsController;
  connect: ConnectController;
  longhorn: LonghornController;
  chartOperators: ChartOperatorsController;
  /** starts every controller (registerControllers' controller calls this) */
  start(): void;
  stop(): void;
}

const handles = new WeakMap<object, SimControllers>();

/** Builds the controllers for a host without registering anything (unit tests use this directly). */
export function createControllers(host: ControllerHost & { root?: string }, opts: ControllerOptions = {}): SimControllers {
  const ctx = new Ctx(host, opts.delays);
  const router = new SimRouter(() => host.store.options.now().getTime());
  if (opts.router) router.configure(opts.router);
  if (opts.routerInboundPolicy !== undefined) router.setInboundPolicy(opts.routerInboundPolicy);
  const crds = new CrdEstablishingController(ctx);
  const workloads = new WorkloadController(ctx);
  const cilium = new CiliumController(ctx, workloads, router);
  const connect = new ConnectController(ctx, workloads);
  const externalSecrets = new ExternalSecretsController(ctx);
  const longhorn = new LonghornController(ctx, opts.longhorn);
  const flux = new FluxController(ctx, { ...(host.root ? { root: host.root } : {}), ...(opts.flux ?? {}) });
  const chartOperators = new ChartOperatorsController(ctx);
  const endpoints = new EndpointsController(ctx);
  const order: Reconciler[] = [crds, workloads, endpoints, cilium, connect, externalSecrets, longhorn, chartOperators, flux];
  let started = false;
  const handle: SimControllers = {
    ctx,
    crds,
    workloads,
    endpoints,
    cilium,
    router,
    flux,
    externalSecrets,
    connect,
    longhorn,
    chartOperators,
    start() {
      if (started) return;
      started = true;
      for (const c of order) c.start();
    },
    stop() {
      for (const c of [...order].reverse()) c.stop();
      ctx.stop();
    },
  };
  handles.set(host, handle);
  return handle;
}

/** Called by SimCluster: registers helm, flux and vtysh and the controllers. Returns the handle. */
export function registerControllers(cluster: ClusterLike, opts: ControllerOptions = {}): SimControllers {
  const root = cluster.root ?? cluster.topology?.root ?? findRepoRoot(process.cwd());
  const host: ControllerHost & { root?: string } = cluster;
  if (root && !cluster.root) {
    // SimCluster does not carry the repo root (yet): hand it to Flux without touching the cluster object
    opts = { ...opts, flux: { root, ...(opts.flux ?? {}) } };
  }
  const handle = createControllers(host, opts);
  const helm = createHelmTool(handle.ctx, { version: cluster.topology?.toolVersions?.helm });
  cluster.registerTool("helm", helm);
  cluster.registerTool("flux", createFluxTool(handle.ctx, handle.flux));
  cluster.registerTool("vtysh", createVtyshTool(handle.router));
  applyRouterEnv(handle.router, process.env.HOMEOPS_SIM_ROUTER_POLICY);
  cluster.addController({
    name: "sim-controllers",
    start: async () => {
      handle.start();
      // the whole GitOps state (a few seconds) on top of Talos + CNI: state "complete", or "bootstrapped" + populate
      const populate = cluster.state === "complete" || (cluster.state === "bootstrapped" && opts.populate === true);
      if (populate && root) await populateBootstrapped(handle.ctx, root);
      // "bootstrapped": the CNI runs (Nodes Ready), as after bootstrap phase 3
      else if (cluster.state === "bootstrapped" && root) await installCilium(handle.ctx, root, helm);
    },
    stop: () => handle.stop(),
  });
  return handle;
}

/**
 * HOMEOPS_SIM_ROUTER_POLICY tells the simulated router about its inbound policy: unset or `none` = FRR's default
 * (ebgp-requires-policy, nothing accepted: `(Policy)`), `accept` = route-maps permitting everything, a comma list
 * of prefixes = permit those (host routes inside them), `file:<path>` = load that FRR configuration.
 */
export function applyRouterEnv(router: SimRouter, value: string | undefined): void {
  const v = (value ?? "").trim();
  if (v === "" || v === "none") return;
  if (v === "accept") router.setInboundPolicy(true);
  else if (v.startsWith("file:")) router.loadConfig(readFileSync(v.slice(5), "utf8"));
  else router.setInboundPolicy(v.split(",").map((x) => x.trim()).filter(Boolean));
}

/** The nearest directory at or above `dir` holding kubernetes/ and .git (the repository the sim was started in). */
function findRepoRoot(dir: string): string | undefined {
  let cur = path.resolve(dir);
  for (;;) {
    if (existsSync(path.join(cur, "kubernetes")) && existsSync(path.join(cur, ".git"))) return cur;
    const up = path.dirname(cur);
    if (up === cur) return undefined;
    cur = up;
  }
}

/** The controllers of a cluster registered with registerControllers/createControllers. */
export function controllersOf(cluster: object): SimControllers | undefined {
  return handles.get(cluster);
}

export { SimRouter } from "./router.ts";
export { populateBootstrapped } from "./populate.ts";
export { NO_CNI_MESSAGE, setNodeReady } from "./cilium.ts";
export { LB_IPAM_SVC_CONDITION } from "./cilium-lbipam.ts";
export { REAL_CONTROLLER_DELAYS, type ControllerDelays } from "./runtime.ts";
