import { defineScript, ExitCode } from "../lib/cli/index.ts";
import { KubeClient } from "../lib/kube/index.ts";
import { loadRepo } from "../lib/repo/model.ts";
import { inputsFromModel, printVerifyReport, readLiveInputs, readRouterState, routerAccess, verifyBgp, type BgpInputs } from "../lib/bgp/index.ts";

export default defineScript(import.meta, {
  name: "bgp-verify",
  area: "bgp",
  summary: "check that every LoadBalancer IP reaches the router from every node, v4 and v6, and say why not",
  description: `
Cluster side (Kubernetes API): the Cilium BGP v2 objects, each node's CiliumBGPNodeConfig status and the
LoadBalancer Services with their assigned IPs give the prefixes each node should advertise to each peer.
Router side: \`vtysh -c 'show bgp summary json'\` and \`'show bgp ipv4|ipv6 unicast json'\` over SSH to the router
(ROUTER_SSH=user@host in .env) or through --router-cmd (a local command vtysh arguments are appended to).
Prints a node x peer x family table and, for every missing prefix, its cause (numbered as in the Cilium BGP
reference: 1-12, plus "session down") with the fix. Exit 1 when anything expected is missing.`,
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
    const access = routerAccess({ routerCmd: flags["router-cmd"], env });
    let inputs: BgpInputs;
    if (flags["repo-only"]) {
      inputs = inputsFromModel(loadRepo(root));
    } else {
      const client = KubeClient.fromEnv(env);
      const reading = out.wait("reading the cluster's BGP objects");
      try {
        const live = await readLiveInputs(client);
        reading.done();
        const missing = live.missingKinds;
        if (missing.length)
          out.warn(`the cluster serves no ${missing.length === 1 ? missing[0] : `${missing.slice(0, -1).join(", ")} or ${missing.at(-1)}`} (${missing.length === 1 ? "its CRD is" : "their CRDs are"} not installed)`);
        inputs = live.inputs;
      } finally {
        reading.done();
        client.close();
      }
    }
    const neighbors = inputs.nodes.flatMap((n) => [n.ipv4, n.ipv6]).filter((x): x is string => x !== undefined);
    const routerWait = access ? out.wait(`reading the router (${access.describe})`) : undefined;
    const router = access ? await readRouterState(exec, access, { neighbors }).finally(() => routerWait?.done()) : undefined;
    const report = verifyBgp(inputs, router);
    if (json) out.result(report);
    else printVerifyReport(out, report);
    return report.ok ? ExitCode.ok : ExitCode.failed;
  },
});
