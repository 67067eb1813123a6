import { defineScript, ExitCode } from "../lib/cli/index.ts";

export default defineScript(import.meta, {
  name: "network-check-ipv6",
  area: "network",
  summary: "check dual-stack end to end: node IPv6 addresses, pod/service CIDRs, dual-stack Services, IPv6 pools advertised",
  description: `
Nodes have an IPv4 and an IPv6 InternalIP (and Talos holds the declared IPv6 address), pod and service CIDRs are
dual-stack (the repo's, and each node's podCIDRs), LoadBalancer Services that ask for dual-stack got an IPv6 IP,
IPv6 pools exist, and every node advertises the IPv6 LoadBalancer IPs over an IPv6 BGP session (bgp-verify's
verdict for the IPv6 rows; with ROUTER_SSH or --router-cmd the router's table is checked too).
Exit 1 when a check fails.`,
  replaces: ["network:check-ipv6", "network:test-ipv6"],
  live: true,
  flags: {
    "router-cmd": { type: "string", placeholder: "command", description: "as bgp-verify: read the router with this local command instead of `ssh $ROUTER_SSH vtysh`" },
    "skip-talos": { type: "boolean", description: "do not ask talosctl for the nodes' addresses" },
  },
  examples: ["bun scripts/network-check-ipv6.ts", "bun scripts/network-check-ipv6.ts --json | jq '.checks[] | select(.status == \"fail\")'", "bun scripts/network-check-ipv6.ts --simulate"],
  async run({ flags, out, exec, env, root, json }) {
    // loaded here, not at the top: --help and flag errors answer without the library
    const [
      { KubeClient },
      { loadRepo },
      { inventoryFromModel, makeTalosctl },
      { talosErrorSummary },
      { checkIpv6, readLiveInputs, readRouterState, routerAccess, verifyBgp },
      { specsOf },
      { printChecks, summarize },
    ] = await Promise.all([
      import("../lib/kube/index.ts"),
      import("../lib/repo/model.ts"),
      import("../lib/talos/cluster.ts"),
      import("../lib/talos/errors.ts"),
      import("../lib/bgp/index.ts"),
      import("../lib/storage/usb-ssd.ts"),
      import("../lib/storage/result.ts"),
    ]);
    const model = loadRepo(root);
    const client = KubeClient.fromEnv(env);
    let live;
    let k8sNodes;
    try {
      [live, k8sNodes] = await Promise.all([readLiveInputs(client), client.list({ apiVersion: "v1", kind: "Node" })]);
    } finally {
      client.close();
    }
    for (const k of live.missingKinds) out.warn(`the cluster serves no ${k} (its CRD is not installed)`);
    const access = routerAccess({ routerCmd: flags["router-cmd"], env });
    const neighbors = live.inputs.nodes.flatMap((n) => [n.ipv4, n.ipv6]).filter((x): x is string => x !== undefined);
    const router = access ? await readRouterState(exec, access, { neighbors }) : undefined;
    const report = verifyBgp(live.inputs, router);
    const nodePodCidrs = new Map(k8sNodes.items.map((n) => [String(n.metadata.name), (n.spec?.podCIDRs ?? (n.spec?.podCIDR ? [n.spec.podCIDR] : [])) as string[]]));
    const inventory = inventoryFromModel(model);
    const declaredV6 = new Map(inventory.filter((n) => n.ipv6).map((n) => [n.hostname, n.ipv6!]));
    let talosAddresses: Map<string, string[] | string> | undefined;
    if (!flags["skip-talos"]) {
      const talosctl = makeTalosctl(exec, root, env);
      talosAddresses = new Map();
      await Promise.all(
        inventory.map(async (n) => {
          const r = await talosctl.call(["get", "addresses", "-o", "json"], { nodes: [n.ip], readOnly: true, timeoutMs: 30_000 });
          if (r.exitCode !== 0) talosAddresses!.set(n.hostname, talosErrorSummary(r.stderr || r.stdout) || `talosctl exited ${r.exitCode}`);
          else {
            try {
              talosAddresses!.set(n.hostname, specsOf(r.stdout).map((s) => String(s.address ?? "")).filter(Boolean));
            } catch (e) {
              talosAddresses!.set(n.hostname, `unreadable output (${(e as Error).message})`);
            }
          }
        }),
      );
    }
    const checks = checkIpv6({
      bgp: live.inputs,
      report,
      podCidrs: model.networks.podCidrs.map((c) => c.value),
      serviceCidrs: model.networks.serviceCidrs.map((c) => c.value),
      nodePodCidrs,
      declaredV6,
      ...(talosAddresses ? { talosAddresses } : {}),
    });
    const s = summarize(checks);
    if (json) out.result(s);
    else printChecks(out, "IPv6", s);
    return s.ok ? ExitCode.ok : ExitCode.failed;
  },
});
