import { defineScript, ExitCode } from "../lib/cli/index.ts";
import type { BgpInputs } from "../lib/bgp/index.ts";

export default defineScript(import.meta, {
  name: "bgp-verify",
  area: "bgp",
  summary: "check that every LoadBalancer IP reaches the router from every node, v4 and v6, and say why not",
  description: `
Cluster side (Kubernetes API): the Cilium BGP v2 objects (or the legacy v1 CiliumBGPPeeringPolicy, which wins on
the nodes it selects), each node's CiliumBGPNodeConfig status and the LoadBalancer Services with their assigned IPs
give the prefixes each node should advertise to each peer (lib/bgp, the same rulebook validate uses).
Router side: \`vtysh -c 'show bgp summary json'\` and \`'show bgp ipv4|ipv6 unicast json'\` over SSH to the router
(ROUTER_SSH=user@host in .env) or through --router-cmd (a local command vtysh arguments are appended to).
Prints a node x peer x family table and, for every missing prefix, its cause (1-12 of the Cilium BGP reference,
13-16 for BGP v1, plus "session down") with the fix. The router is blamed only for what Cilium advertised. Exit 1
when anything expected is missing, a router session sits in (Policy), or the repo declares LoadBalancer Services
and there is not one route to check (it says why).`,
  replaces: ["bgp:verify-peering", "bgp:verify-peering-ipv6", "bgp:show-routes-ipv6"],
  live: true,
  flags: {
    "router-cmd": {
      type: "string",
      placeholder: "command",
      description: "run this local command with vtysh arguments appended instead of `ssh $ROUTER_SSH vtysh`",
    },
    "repo-only": {
      type: "boolean",
      description: "judge the cluster side from the repo (declared objects, requested IPs) instead of the API",
    },
  },
  examples: [
    "bun scripts/bgp-verify.ts",
    "ROUTER_SSH=root@172.29.51.1 bun scripts/bgp-verify.ts --json | jq '.missing[] | {node, prefix, cause}'",
    "bun scripts/bgp-verify.ts --router-cmd 'vtysh --vty_socket /run/frr'",
    "bun scripts/bgp-verify.ts --repo-only --router-cmd 'ssh admin@udm vtysh'",
    "bun scripts/bgp-verify.ts --simulate",
  ],
  async run({ flags, out, exec, env, root, json }) {
    // loaded here, not at the top: --help and flag errors answer without the library
    const [
      { KubeClient },
      { loadRepo },
      { announcedServices, declaredLoadBalancers, inputsFromModel, printVerifyReport, readLiveInputs, readRouterState, routerAccess, verifyBgp },
    ] = await Promise.all([
      import("../lib/kube/index.ts"),
      import("../lib/repo/model.ts"),
      import("../lib/bgp/index.ts"),
    ]);
    const access = routerAccess({ routerCmd: flags["router-cmd"], env });
    let inputs: BgpInputs;
    let missingKinds: string[] = [];
    let declaredServices: string[] = [];
    if (flags["repo-only"]) {
      inputs = inputsFromModel(loadRepo(root));
      declaredServices = announcedServices(inputs).map((s) => `${s.namespace}/${s.name}`);
    } else {
      declaredServices = declaredLoadBalancers(root);
      const client = KubeClient.fromEnv(env);
      const reading = out.wait("reading the cluster's BGP objects");
      try {
        const live = await readLiveInputs(client);
        reading.done();
        missingKinds = live.missingKinds;
        if (missingKinds.length)
          out.warn(`the cluster serves no ${missingKinds.length === 1 ? missingKinds[0] : `${missingKinds.slice(0, -1).join(", ")} or ${missingKinds.at(-1)}`} (${missingKinds.length === 1 ? "its CRD is" : "their CRDs are"} not installed)`);
        inputs = live.inputs;
      } finally {
        reading.done();
        client.close();
      }
    }
    const neighbors = inputs.nodes.flatMap((n) => [n.ipv4, n.ipv6]).filter((x): x is string => x !== undefined);
    const routerWait = access ? out.wait(`reading the router (${access.describe})`) : undefined;
    const router = access ? await readRouterState(exec, access, { neighbors }).finally(() => routerWait?.done()) : undefined;
    const report = verifyBgp(inputs, router, { declaredServices, missingKinds });
    if (json) out.result(report);
    else printVerifyReport(out, report);
    return report.ok ? ExitCode.ok : ExitCode.failed;
  },
});
