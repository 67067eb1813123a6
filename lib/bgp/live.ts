/**
 * Reads the BGP picture of a live cluster through the Kubernetes API (lib/kube): nodes, LoadBalancer Services
 * with their assigned IPs, EndpointSlices, the Cilium BGP v2 and LB-IPAM objects (cilium.io/v2alpha1 in Cilium
 * 1.17), every CiliumBGPNodeConfig with its status, and the cilium-config ConfigMap. Reads run concurrently; a kind
 * whose CRD is not installed reads as empty (and is reported as missing), since that is itself a finding.
 */
import { isNotFound, type KindSpec, type KubeClient, type KubeObject } from "../kube/index.ts";
import { inputsFromLive, type LiveObjects } from "./inputs.ts";
import type { BgpInputs } from "./types.ts";

export const CILIUM_API = "cilium.io/v2alpha1";

export const BGP_KINDS = {
  clusterConfigs: { apiVersion: CILIUM_API, kind: "CiliumBGPClusterConfig" },
  peerConfigs: { apiVersion: CILIUM_API, kind: "CiliumBGPPeerConfig" },
  advertisements: { apiVersion: CILIUM_API, kind: "CiliumBGPAdvertisement" },
  nodeConfigs: { apiVersion: CILIUM_API, kind: "CiliumBGPNodeConfig" },
  pools: { apiVersion: CILIUM_API, kind: "CiliumLoadBalancerIPPool" },
  peeringPolicies: { apiVersion: CILIUM_API, kind: "CiliumBGPPeeringPolicy" },
} as const satisfies Record<string, KindSpec>;

export interface LiveRead {
  inputs: BgpInputs;
  /** kinds the cluster does not serve (their CRD is missing) */
  missingKinds: string[];
}

export async function readLiveInputs(client: KubeClient): Promise<LiveRead> {
  const missingKinds: string[] = [];
  const list = async (kind: KindSpec): Promise<KubeObject[]> => {
    try {
      return (await client.list(kind)).items;
    } catch (e) {
      if (isNotFound(e)) {
        missingKinds.push(kind.kind);
        return [];
      }
      throw e;
    }
  };
  // EndpointSlices only refine externalTrafficPolicy: Local; a server without them is not a finding
  const slices = async (): Promise<KubeObject[] | undefined> => {
    try {
      return (await client.list({ apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice" })).items;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  };
  const [nodes, services, endpointSlices, clusterConfigs, peerConfigs, advertisements, nodeConfigs, pools, peeringPolicies, ciliumConfig] =
    await Promise.all([
      list({ apiVersion: "v1", kind: "Node" }),
      list({ apiVersion: "v1", kind: "Service" }),
      slices(),
      list(BGP_KINDS.clusterConfigs),
      list(BGP_KINDS.peerConfigs),
      list(BGP_KINDS.advertisements),
      list(BGP_KINDS.nodeConfigs),
      list(BGP_KINDS.pools),
      list(BGP_KINDS.peeringPolicies),
      client.tryGet({ apiVersion: "v1", kind: "ConfigMap", namespace: "kube-system", name: "cilium-config" }),
    ]);
  const live: LiveObjects = {
    nodes,
    services,
    pools,
    clusterConfigs,
    peerConfigs,
    advertisements,
    peeringPolicies,
    nodeConfigs,
    ...(endpointSlices ? { endpointSlices } : {}),
    ...(ciliumConfig ? { ciliumConfig } : {}),
  };
  return { inputs: inputsFromLive(live), missingKinds };
}
