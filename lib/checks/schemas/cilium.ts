import { z } from "zod";

/**
 * Cilium 1.17 BGP control plane v2 and LB-IPAM kinds (`cilium.io/v2alpha1`), written from the documented fields
 * (cilium.io docs and the v1.17 CRDs). Strict: an unknown field is an error — Cilium's CRDs prune unknown fields
 * silently, which is how a misspelt `families` or `serviceSelector` turns into "nothing advertised".
 */

const selectorRequirement = z.strictObject({
  key: z.string(),
  operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]),
  values: z.array(z.string()).optional(),
});
export const labelSelector = z.strictObject({
  matchLabels: z.record(z.string(), z.string()).optional(),
  matchExpressions: z.array(selectorRequirement).optional(),
});

const asn = z.number().int().min(0).max(4294967295);

const peer = z.strictObject({
  name: z.string().min(1),
  peerAddress: z.string().optional(),
  peerASN: asn.optional(),
  peerConfigRef: z.strictObject({ name: z.string(), kind: z.string().optional(), group: z.string().optional() }).optional(),
});

export const clusterConfigSpec = z.strictObject({
  nodeSelector: labelSelector.optional(),
  bgpInstances: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        localASN: asn.optional(),
        peers: z.array(peer).optional(),
      }),
    )
    .min(1),
});

export const peerConfigSpec = z.strictObject({
  authSecretRef: z.string().optional(),
  ebgpMultihop: z.number().int().min(1).max(255).optional(),
  families: z
    .array(
      z.strictObject({
        afi: z.enum(["ipv4", "ipv6", "l2vpn", "ls", "opaque"]),
        safi: z.enum([
          "unicast", "multicast", "mpls_label", "encapsulation", "vpls", "evpn", "ls", "sr_policy", "mup", "mpls_vpn",
          "mpls_vpn_multicast", "route_target_constraints", "flowspec_unicast", "flowspec_vpn", "key_value",
        ]),
        advertisements: labelSelector.optional(),
      }),
    )
    .optional(),
  gracefulRestart: z.strictObject({ enabled: z.boolean(), restartTimeSeconds: z.number().int().min(1).max(4095).optional() }).optional(),
  timers: z
    .strictObject({
      connectRetryTimeSeconds: z.number().int().min(1).optional(),
      holdTimeSeconds: z.number().int().min(3).max(65535).optional(),
      keepAliveTimeSeconds: z.number().int().min(1).max(65535).optional(),
    })
    .optional(),
  transport: z.strictObject({ localPort: z.number().int().optional(), peerPort: z.number().int().min(1).max(65535).optional() }).optional(),
});

export const advertisementSpec = z.strictObject({
  advertisements: z.array(
    z.strictObject({
      advertisementType: z.enum(["PodCIDR", "CiliumPodIPPool", "Service"]),
      selector: labelSelector.optional(),
      service: z.strictObject({ addresses: z.array(z.enum(["LoadBalancerIP", "ClusterIP", "ExternalIP"])) }).optional(),
      attributes: z
        .strictObject({
          communities: z
            .strictObject({
              standard: z.array(z.string()).optional(),
              wellKnown: z.array(z.string()).optional(),
              large: z.array(z.string()).optional(),
            })
            .optional(),
          localPreference: z.number().int().optional(),
        })
        .optional(),
    }),
  ),
});

export const nodeConfigOverrideSpec = z.strictObject({
  bgpInstances: z.array(
    z.strictObject({
      name: z.string(),
      routerID: z.string().optional(),
      localPort: z.number().int().optional(),
      peers: z.array(z.strictObject({ name: z.string(), localAddress: z.string().optional(), localPort: z.number().int().optional() })).optional(),
    }),
  ),
});

export const poolSpec = z.strictObject({
  blocks: z.array(z.strictObject({ cidr: z.string().optional(), start: z.string().optional(), stop: z.string().optional() })).optional(),
  serviceSelector: labelSelector.optional(),
  disabled: z.boolean().optional(),
  allowFirstLastIPs: z.enum(["Yes", "No"]).optional(),
});

const metadata = z.looseObject({ name: z.string().min(1) });

const object = (kind: string, spec: z.ZodType) =>
  z.strictObject({ apiVersion: z.string(), kind: z.literal(kind), metadata, spec });

/** kind -> zod schema of the whole object (cilium.io/v2alpha1). */
export const CILIUM_SCHEMAS: Record<string, z.ZodType> = {
  CiliumBGPClusterConfig: object("CiliumBGPClusterConfig", clusterConfigSpec),
  CiliumBGPPeerConfig: object("CiliumBGPPeerConfig", peerConfigSpec),
  CiliumBGPAdvertisement: object("CiliumBGPAdvertisement", advertisementSpec),
  CiliumBGPNodeConfigOverride: object("CiliumBGPNodeConfigOverride", nodeConfigOverrideSpec),
  CiliumLoadBalancerIPPool: object("CiliumLoadBalancerIPPool", poolSpec),
};
