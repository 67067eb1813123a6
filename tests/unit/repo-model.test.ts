/**
 * The repo's own cluster, through the model: the facts issue 3 fixes (seed pools, nodes, versions), the BGP
 * selection chain end to end, LB-IPAM coverage, no overlaps, Flux wiring, security posture, sources that point at
 * the right lines, no secret values, and .gitignore coverage.
 */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import {
  ClusterModelSchema,
  advertisementsForFamily,
  advertisesService,
  isLoadBalancerService,
  loadRepo,
  poolContaining,
  poolsForService,
  schematicId,
  serviceFamilies,
  type ClusterModel,
  type Source,
} from "../../lib/repo/model.ts";
import { blockRange, contains, findOverlaps, formatRange, parseBlock, parseIP, type IPRange } from "../../lib/net/index.ts";

const ROOT = path.resolve(import.meta.dir, "../..");
const model: ClusterModel = loadRepo(ROOT);

const lineText = (s: Source): string => readFileSync(path.join(ROOT, s.file), "utf8").split("\n")[s.line - 1] ?? "";
const get = (o: unknown, ...p: (string | number)[]): any => p.reduce<any>((c, k) => (c == null ? undefined : c[k]), o);

describe("the model of this repo", () => {
  test("loads strictly with no problems and satisfies its zod schema", () => {
    expect(model.problems).toEqual([]);
    const parsed = ClusterModelSchema.safeParse(model);
    expect(parsed.success ? [] : parsed.error.issues.slice(0, 5)).toEqual([]);
  });

  test("cluster, versions and nodes are the seed's", () => {
    expect(model.cluster.name.value).toBe("home-ops");
    expect(model.cluster.endpoint.value).toBe("https://172.29.51.10:6443");
    expect(model.cluster.vip.value).toBe("172.29.51.10");
    // versions are whatever the repo pins today (Renovate moves them): full semver, read from the line stating it
    for (const v of [model.versions.talos, model.versions.kubernetes, model.versions.cilium, model.versions.flux]) {
      expect(v.value).toMatch(/^v?\d+\.\d+\.\d+$/);
      expect(lineText(v.source)).toContain(v.value.replace(/^v/, ""));
    }
    expect(model.versions.talos.value.startsWith("v")).toBe(true);
    expect(model.versions.kubernetes.value.startsWith("v")).toBe(true);
    expect(model.nodes.map((n) => [n.hostname, n.ipv4, n.ipv6, n.controlPlane, n.schedulable])).toEqual([
      ["mini01", "172.29.51.11", "fd47:25e1:2f96:51::11", true, true],
      ["mini02", "172.29.51.12", "fd47:25e1:2f96:51::12", true, true],
      ["mini03", "172.29.51.13", "fd47:25e1:2f96:51::13", true, true],
    ]);
    for (const n of model.nodes) {
      expect(n.installDisk.selector).toEqual({ model: "APPLE SSD*" });
      expect(n.role).toBe("controlplane");
    }
    expect(model.networks.nodeV4.value).toBe("172.29.51.0/24");
    expect(model.networks.nodeV6?.value).toBe("fd47:25e1:2f96:51::/64");
    expect(model.networks.router.ipv4?.value).toBe("172.29.51.1");
    expect(model.networks.router.ipv6?.value).toBe("fd47:25e1:2f96:51::1");
  });

  test("schematic: the extensions asked for, its ID matches talenv, the installer image carries it", () => {
    expect([...model.schematic.extensions].sort()).toEqual(
      ["siderolabs/i915", "siderolabs/intel-ucode", "siderolabs/iscsi-tools", "siderolabs/lldpd", "siderolabs/util-linux-tools"],
    );
    expect(model.schematic.id).toBe(schematicId(model.schematic));
    for (const n of model.nodes) expect(n.installerImage).toBe(`factory.talos.dev/installer/${model.schematic.id}:${model.versions.talos.value}`);
  });

  test("every fact's source points at the line that states it", () => {
    expect(lineText(model.versions.talos.source)).toContain(`TALOS_VERSION: ${model.versions.talos.value}`);
    expect(lineText(model.versions.kubernetes.source)).toContain(`KUBERNETES_VERSION: ${model.versions.kubernetes.value}`);
    expect(lineText(model.versions.cilium.source)).toContain(`version: ${model.versions.cilium.value}`);
    expect(lineText(model.versions.flux.source)).toContain(`flux2 = "${model.versions.flux.value}"`);
    expect(lineText(model.cluster.endpoint.source)).toContain("endpoint: https://172.29.51.10:6443");
    expect(lineText(model.networks.nodeV4.source)).toContain("172.29.51.0/24");
    expect(lineText(model.networks.vip.source)).toContain("ip: 172.29.51.10");
    expect(lineText(model.bgp.localASN!.source)).toContain("localASN: 64512");
    for (const n of model.nodes) expect(lineText(n.source)).toContain(`hostname: ${n.hostname}`);
    for (const p of model.pools) {
      expect(lineText(p.source)).toContain("apiVersion: cilium.io/v2alpha1");
      for (const b of p.blocks) expect(lineText(b.source)).toContain("start" in b ? `start: ${b.start}` : `cidr: ${b.cidr}`);
    }
    for (const peer of model.bgp.peers) expect(lineText(peer.source)).toContain(`name: ${peer.name}`);
    for (const s of model.services.filter((x) => x.origin === "helm-values")) expect(lineText(s.source).trim()).toBe("service:");
    for (const r of model.versions.renovate) expect(lineText(r.source)).toContain("# renovate:");
  });
});

describe("LB-IPAM pools", () => {
  const v4Pools = () => model.pools.filter((p) => p.blocks.every((b) => blockRange(b).family === "ipv4"));

  test("the IPv4 pools equal the seed's exactly", () => {
    expect(v4Pools().map((p) => [p.name, p.blocks.map((b) => formatRange(blockRange(b)))])).toEqual([
      ["bgp-default", ["172.29.52.100-172.29.52.199"]],
      ["bgp-ingress", ["172.29.52.200-172.29.52.220"]],
      ["bgp-reserved", ["172.29.52.221-172.29.52.250"]],
    ]);
  });

  test("IPv6 pools exist in a ULA prefix outside the node /64; all pools are v2alpha1, enabled, cluster-scoped", () => {
    const v6 = model.pools.filter((p) => p.blocks.every((b) => blockRange(b).family === "ipv6"));
    expect(v6.map((p) => p.name)).toEqual(["bgp-default-v6", "bgp-ingress-v6", "bgp-reserved-v6"]);
    for (const p of v6)
      for (const b of p.blocks) {
        expect(contains("fc00::/7", blockRange(b))).toBe(true);
        expect(contains(model.networks.nodeV6!.value, blockRange(b))).toBe(false);
      }
    for (const p of model.pools) {
      expect(p.apiVersion).toBe("cilium.io/v2alpha1");
      expect(p.disabled).toBe(false);
      expect(p.namespace).toBeUndefined();
    }
  });

  test("no two pools, the node VLAN, pod CIDRs and service CIDRs overlap", () => {
    const items: { name: string; range: IPRange }[] = [];
    for (const p of model.pools) p.blocks.forEach((b, i) => items.push({ name: `pool ${p.name}[${i}]`, range: blockRange(b) }));
    items.push({ name: "node VLAN v4", range: parseBlock(model.networks.nodeV4.value) });
    items.push({ name: "node VLAN v6", range: parseBlock(model.networks.nodeV6!.value) });
    for (const c of model.networks.podCidrs) items.push({ name: `pods ${c.value}`, range: parseBlock(c.value) });
    for (const c of model.networks.serviceCidrs) items.push({ name: `services ${c.value}`, range: parseBlock(c.value) });
    expect(model.networks.podCidrs.map((c) => c.value)).toHaveLength(2);
    expect(model.networks.serviceCidrs.map((c) => c.value)).toHaveLength(2);
    expect(findOverlaps(items).map(([a, b]) => `${a.name} overlaps ${b.name}`)).toEqual([]);
  });

  test("the overlap check can fail: a pool moved into the node VLAN is caught", () => {
    const items = [
      { name: "node VLAN", range: parseBlock(model.networks.nodeV4.value) },
      { name: "bad pool", range: parseBlock("172.29.51.100-172.29.51.199") },
    ];
    expect(findOverlaps(items)).toHaveLength(1);
  });

  test("VIP, node IPs and the router are in the node VLAN, outside every pool", () => {
    const ips = [model.networks.vip.value, model.networks.router.ipv4!.value, model.networks.router.ipv6!.value];
    for (const n of model.nodes) ips.push(n.ipv4, n.ipv6!);
    for (const ip of ips) {
      const vlan = ip.includes(":") ? model.networks.nodeV6!.value : model.networks.nodeV4.value;
      expect(contains(vlan, ip)).toBe(true);
      expect(poolContaining(model, ip)).toBeUndefined();
    }
  });

  test("every Service asking for an LB IP matches exactly one pool per family, and its fixed IPs lie in that pool", () => {
    const lb = model.services.filter(isLoadBalancerService);
    expect(lb.length).toBeGreaterThanOrEqual(2);
    const seen = new Set<string>();
    for (const svc of lb) {
      for (const fam of serviceFamilies(svc)) {
        const pools = poolsForService(model, svc, fam);
        expect({ svc: svc.name, fam, pools: pools.map((p) => p.name) }).toEqual({ svc: svc.name, fam, pools: [expect.any(String)] });
      }
      for (const ip of svc.requestedIPs) {
        const fam = parseIP(ip).kind() === "ipv4" ? "ipv4" : "ipv6";
        expect(poolContaining(model, ip)?.name).toBe(poolsForService(model, svc, fam)[0]?.name);
        expect(seen.has(ip)).toBe(false);
        seen.add(ip);
      }
    }
    const internal = lb.find((s) => s.name === "ingress-nginx-internal-controller")!;
    expect(internal.requestedIPs[0]).toBe("172.29.52.200");
    expect(poolsForService(model, internal, "ipv4")[0]?.name).toBe("bgp-ingress");
  });

  test("the pool check can fail: a Service with a label matching two pools, or none", () => {
    const svc = { ...model.services.find(isLoadBalancerService)!, labels: { "home-ops.io/lb-pool": "ingress" } };
    const twoPools = { pools: [...model.pools, { ...model.pools.find((p) => p.name === "bgp-ingress")!, name: "dup" }] };
    expect(poolsForService(twoPools, svc, "ipv4")).toHaveLength(2);
    const noPools = { pools: model.pools.filter((p) => !p.name.startsWith("bgp-ingress")) };
    expect(poolsForService(noPools, svc, "ipv4")).toHaveLength(0);
  });
});

describe("BGP: every LoadBalancer IP is announced over IPv4 and IPv6 (cilium-bgp.md causes ruled out)", () => {
  test("local ASN 64512, one peer over IPv4 and one over IPv6 to the UDM Pro (ASN 64513)", () => {
    expect(model.bgp.localASN?.value).toBe(64512);
    expect(model.bgp.peers.map((p) => [p.family, p.peerAddress, p.peerASN])).toEqual([
      ["ipv4", model.networks.router.ipv4!.value, 64513],
      ["ipv6", model.networks.router.ipv6!.value, 64513],
    ]);
    expect(model.bgp.clusterConfigs).toHaveLength(1); // cause 8: no conflicting ClusterConfigs
    expect(model.bgp.clusterConfigs[0]!.spec.nodeSelector).toBeUndefined(); // all nodes
    expect(model.bgp.peeringPolicies).toEqual([]); // no legacy v1 policy
    expect(model.bgp.controlPlaneEnabled?.value).toBe(true); // cause 12
    for (const o of [...model.bgp.clusterConfigs, ...model.bgp.peerConfigs, ...model.bgp.advertisements]) {
      expect(o.apiVersion).toBe("cilium.io/v2alpha1");
      expect(o.namespace).toBeUndefined();
    }
  });

  test("every peer has a peer config whose ipv4 and ipv6 families select an advertisement that announces every LB Service", () => {
    const lb = model.services.filter(isLoadBalancerService);
    for (const peer of model.bgp.peers) {
      const pc = model.bgp.peerConfigs.find((c) => c.name === peer.peerConfigRef); // cause 1
      expect(pc?.name).toBe("udm-pro");
      const fams = pc!.spec.families ?? [];
      expect(fams.map((f) => `${f.afi}/${f.safi}`).sort()).toEqual(["ipv4/unicast", "ipv6/unicast"]); // causes 2, 9
      for (const fam of fams) {
        const advs = advertisementsForFamily(model, fam); // cause 3
        expect(advs.length).toBeGreaterThan(0);
        for (const svc of lb) expect({ svc: svc.name, ok: advs.some((a) => advertisesService(a, svc)) }).toEqual({ svc: svc.name, ok: true }); // 4, 5, 10
      }
    }
    for (const svc of lb) {
      expect(svc.externalTrafficPolicy ?? "Cluster").toBe("Cluster"); // cause 6
      expect(svc.loadBalancerClass).toBeUndefined(); // cause 5
    }
  });

  test("the chain check can fail: unlabelled advertisement, selector matching nothing, peer config without families", () => {
    const svc = model.services.find(isLoadBalancerService)!;
    const adv = model.bgp.advertisements[0]!;
    const fam = model.bgp.peerConfigs[0]!.spec.families![0]!;
    expect(advertisementsForFamily({ bgp: { ...model.bgp, advertisements: [{ ...adv, labels: {} }] } }, fam)).toEqual([]);
    const narrowed = structuredClone(adv);
    narrowed.spec.advertisements[0]!.selector = { matchLabels: { "bgp-announce": "true" } };
    expect(advertisesService(narrowed, svc)).toBe(false);
    const noSelector = structuredClone(adv);
    delete noSelector.spec.advertisements[0]!.selector;
    expect(advertisesService(noSelector, svc)).toBe(false); // cilium#33076: no selector = no Service
    expect(advertisementsForFamily(model, { afi: "ipv4", safi: "unicast" })).toEqual([]);
  });
});

describe("Flux wiring", () => {
  const ksByName = new Map(model.kustomizations.map((k) => [k.name, k]));

  test("Flux 2.4 API versions everywhere", () => {
    const want: Record<string, string> = {
      GitRepository: "source.toolkit.fluxcd.io/v1",
      HelmRepository: "source.toolkit.fluxcd.io/v1",
      OCIRepository: "source.toolkit.fluxcd.io/v1beta2",
    };
    for (const s of model.fluxSources) expect(`${s.kind} ${s.apiVersion}`).toBe(`${s.kind} ${want[s.kind]}`);
    for (const k of model.kustomizations) expect(k.apiVersion).toBe("kustomize.toolkit.fluxcd.io/v1");
    for (const h of model.helmReleases) expect(h.apiVersion).toBe("helm.toolkit.fluxcd.io/v2");
    const receivers = model.documents.filter((d) => d.kind === "Receiver");
    expect(receivers.map((d) => d.apiVersion)).toEqual(["notification.toolkit.fluxcd.io/v1"]);
    expect(model.fluxSources.filter((s) => s.kind === "GitRepository").map((s) => s.name)).toEqual(["home-ops"]);
  });

  test("every Kustomization path exists with a kustomization.yaml, its source exists, dependsOn resolves without cycles", () => {
    for (const k of model.kustomizations) {
      expect(existsSync(path.join(ROOT, k.resolvedPath!, "kustomization.yaml"))).toBe(true);
      expect(k.sourceRef).toEqual({ kind: "GitRepository", name: "home-ops", namespace: undefined });
      for (const d of k.dependsOn) expect({ k: k.name, dep: d.name, ok: ksByName.has(d.name) }).toEqual({ k: k.name, dep: d.name, ok: true });
    }
    const visiting = new Set<string>();
    const done = new Set<string>();
    const visit = (n: string, trail: string[]): void => {
      if (done.has(n)) return;
      if (visiting.has(n)) throw new Error(`dependsOn cycle: ${[...trail, n].join(" -> ")}`);
      visiting.add(n);
      for (const d of ksByName.get(n)?.dependsOn ?? []) visit(d.name, [...trail, n]);
      visiting.delete(n);
      done.add(n);
    };
    for (const k of model.kustomizations) visit(k.name, []);
  });

  test("CRDs and infrastructure come before the apps that use them", () => {
    const deps = (n: string): Set<string> => {
      const out = new Set<string>();
      const walk = (x: string) => {
        for (const d of ksByName.get(x)?.dependsOn ?? []) if (!out.has(d.name)) (out.add(d.name), walk(d.name));
      };
      walk(n);
      return out;
    };
    expect([...deps("cluster-apps")]).toEqual(["cluster-meta"]);
    expect(deps("cilium-config").has("cilium")).toBe(true);
    expect(deps("external-secrets-stores")).toEqual(new Set(["external-secrets", "onepassword-connect"]));
    expect(deps("cert-manager-issuers").has("cert-manager")).toBe(true);
    for (const n of ["authentik", "kube-prometheus-stack", "cloudflared", "flux-github", "external-dns-cloudflare"])
      expect(deps(n).has("external-secrets-stores")).toBe(true);
    expect(deps("authentik").has("cloudnative-pg")).toBe(true);
    expect(deps("cluster-servicemonitors").has("kube-prometheus-stack")).toBe(true);
  });

  test("every HelmRelease is pinned and its chart source exists", () => {
    expect(model.helmReleases.map((h) => h.name).sort()).toEqual([
      "authentik", "cert-manager", "cilium", "cloudnative-pg", "external-dns-cloudflare", "external-dns-unifi",
      "external-secrets", "ingress-nginx-external", "ingress-nginx-internal", "kube-prometheus-stack", "longhorn",
      "onepassword-connect",
    ]);
    for (const h of model.helmReleases) {
      expect({ hr: h.name, version: h.version }).toEqual({ hr: h.name, version: expect.stringMatching(/^v?\d+\.\d+\.\d+$/) });
      expect(model.fluxSources.some((s) => s.kind === h.sourceRef.kind && s.name === h.sourceRef.name)).toBe(true);
    }
  });

  test("postBuild substitutions used in manifests are defined in cluster-settings", () => {
    const settings = model.documents.find((d) => d.kind === "ConfigMap" && d.name === "cluster-settings");
    const defined = new Set(Object.keys(get(settings?.object, "data") ?? {}));
    for (const k of model.kustomizations) {
      const dir = k.resolvedPath!;
      const used = new Set<string>();
      // Files this Kustomization builds: under its path, but not under a deeper Kustomization's path.
      const deeper = model.kustomizations.map((x) => x.resolvedPath!).filter((p) => p !== dir && p.startsWith(`${dir}/`));
      const own = (f: string) => f.startsWith(`${dir}/`) && !deeper.some((p) => f.startsWith(`${p}/`));
      for (const d of model.documents.filter((x) => own(x.file)))
        for (const m of JSON.stringify(d.object).matchAll(/\$\{([A-Z_][A-Z0-9_]*)\}/g)) used.add(m[1]!);
      if (used.size === 0) continue;
      expect({ ks: k.name, substitutes: k.postBuild?.substituteFrom?.map((s) => s.name) }).toEqual({ ks: k.name, substitutes: ["cluster-settings"] });
      for (const v of used) expect({ ks: k.name, v, defined: defined.has(v) }).toEqual({ ks: k.name, v, defined: true });
    }
    // Charts the bootstrap installs before Flux read their values as written: no ${VAR} there.
    for (const n of ["cilium", "longhorn", "external-secrets", "onepassword-connect"])
      expect(JSON.stringify(model.helmReleases.find((h) => h.name === n)!.values)).not.toContain("${");
  });
});

describe("security posture", () => {
  test("every namespace carries Pod Security labels; privileged only where the components need it", () => {
    const levels = Object.fromEntries(model.namespaces.map((n) => [n.name, n.labels["pod-security.kubernetes.io/enforce"]]));
    for (const n of model.namespaces) for (const mode of ["enforce", "audit", "warn"]) expect(n.labels[`pod-security.kubernetes.io/${mode}`]).toBeDefined();
    const privileged = Object.entries(levels).filter(([, l]) => l === "privileged").map(([n]) => n).sort();
    expect(privileged).toEqual(["kube-system", "longhorn-system", "observability"]);
    const targets = new Set(model.kustomizations.map((k) => k.targetNamespace).filter(Boolean));
    for (const t of targets) expect(levels[t!]).toBeDefined();
  });

  test("app namespaces have a default-deny-ingress CiliumNetworkPolicy that still lets DNS out", () => {
    const app = ["cert-manager", "cnpg-system", "external-secrets", "identity", "network", "observability"];
    for (const ns of app) {
      const pol = model.documents.find((d) => d.kind === "CiliumNetworkPolicy" && d.namespace === ns && d.name === "default");
      expect({ ns, found: !!pol }).toEqual({ ns, found: true });
      expect(get(pol!.object, "spec", "endpointSelector")).toEqual({});
      expect(Array.isArray(get(pol!.object, "spec", "ingress"))).toBe(true);
      const egress = get(pol!.object, "spec", "egress");
      if (egress) expect(JSON.stringify(egress)).toContain("kube-dns");
    }
  });

  test("no Secret with data in git; every ExternalSecret reads the 1Password ClusterSecretStore", () => {
    for (const d of model.documents) if (d.kind === "Secret") expect({ file: d.file, data: get(d.object, "data") ?? get(d.object, "stringData") }).toEqual({ file: d.file, data: undefined });
    expect(model.secretStores.map((s) => [s.kind, s.name, s.provider])).toEqual([["ClusterSecretStore", "onepassword", "onepassword"]]);
    expect(model.externalSecrets.length).toBeGreaterThanOrEqual(8);
    for (const e of model.externalSecrets) {
      expect(e.storeRef).toEqual({ kind: "ClusterSecretStore", name: "onepassword" });
      expect(e.apiVersion).toBe("external-secrets.io/v1");
      expect(e.namespace).toBeDefined();
    }
  });

  test("every Talos patch file is applied by talconfig.yaml where its folder says", () => {
    expect(model.talos.patches.map((p) => [p.file.split("/").pop(), p.appliedTo])).toEqual([
      ["cluster.yaml", ["controlPlane"]],
      ["cluster-network.yaml", ["global"]],
      ["machine-encryption.yaml", ["global"]],
      ["machine-kubelet.yaml", ["global"]],
      ["machine-lldp.yaml", ["global"]],
      ["machine-network.yaml", ["global"]],
      ["machine-storage.yaml", ["global"]],
    ]);
  });

  test("Talos keeps secrets encrypted at rest and the system disk encrypted with LUKS2", () => {
    const docs = model.talos.patches.flatMap((p) => p.docs);
    const sde = docs.map((d) => get(d.object, "machine", "systemDiskEncryption")).find(Boolean);
    for (const part of ["state", "ephemeral"]) {
      expect(sde[part].provider).toBe("luks2");
      expect(sde[part].keys.length).toBeGreaterThan(0);
    }
    const all = JSON.stringify(docs.map((d) => d.object)) + JSON.stringify(model.talos.config);
    expect(all).not.toContain("secretboxEncryptionSecret"); // never overridden or disabled in git
    expect(all).not.toContain("aescbcEncryptionSecret");
    expect(docs.some((d) => get(d.object, "cluster", "network", "cni", "name") === "none")).toBe(true);
    expect(docs.some((d) => get(d.object, "cluster", "proxy", "disabled") === true)).toBe(true);
    const uv = docs.find((d) => d.kind === "UserVolumeConfig");
    expect(get(uv?.object, "provisioning", "diskSelector", "match")).toContain('disk.transport == "usb"');
    expect(get(uv?.object, "filesystem", "type")).toBe("xfs");
    expect(docs.some((d) => d.kind === "ExtensionServiceConfig" && d.name === "lldpd")).toBe(true);
    expect(uv?.name).toBe("longhorn");
  });

  test("workloads written here request resources; images are pinned", () => {
    for (const d of model.documents.filter((x) => ["Deployment", "StatefulSet", "DaemonSet"].includes(x.kind ?? ""))) {
      for (const c of get(d.object, "spec", "template", "spec", "containers") ?? []) {
        expect({ file: d.file, c: c.name, requests: !!c.resources?.requests }).toEqual({ file: d.file, c: c.name, requests: true });
        expect(c.image).toMatch(/:[^:]*\d[^:]*$/);
        expect(c.image).not.toContain(":latest");
      }
    }
    for (const d of model.documents.filter((x) => x.kind === "Cluster" && x.apiVersion?.startsWith("postgresql.cnpg.io")))
      expect(get(d.object, "spec", "resources", "requests")).toBeDefined();
    for (const h of model.helmReleases) expect({ hr: h.name, requests: JSON.stringify(h.values).includes('"requests"') }).toEqual({ hr: h.name, requests: true });
  });
});

describe("secrets and ignores", () => {
  const tracked = spawnSync("git", ["ls-files", "-z"], { cwd: ROOT, encoding: "utf8" }).stdout.split("\0").filter(Boolean);

  test("no secret value in tracked files (outside test fixtures, which carry fakes on purpose)", () => {
    const patterns: [string, RegExp][] = [
      // A real key block: the header followed by base64 (code that assembles a fake key at run time does not match).
      ["private key", /-----BEGIN [A-Z ]*PRIVATE KEY-----\r?\n[A-Za-z0-9+/=]{40,}/],
      ["GitHub token", /\bgh[pousr]_[A-Za-z0-9]{36}\b/],
      ["1Password service account token", /\bops_[A-Za-z0-9_-]{40,}/],
      ["AWS access key", /\bAKIA[0-9A-Z]{16}\b/],
      ["JWT", /\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\./],
    ];
    // A Talos secrets bundle or generated machine config committed by mistake (YAML only: code may name the keys).
    const bundle = /^\s*(bootstraptoken|secretboxencryptionsecret|trustdinfo):/im;
    // The patterns do catch what they are meant to (fakes built here, never written to a file).
    const fakeKey = ["-----BEGIN OPENSSH PRIVATE KEY-----", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"].join("\n");
    expect(patterns[0]![1].test(fakeKey)).toBe(true);
    expect(patterns[1]![1].test(`token: ghp_${"a1B2".repeat(9)}`)).toBe(true);
    expect(bundle.test("cluster:\n  secretboxEncryptionSecret: x\n")).toBe(true);
    const hits: string[] = [];
    for (const f of tracked) {
      if (f.startsWith("tests/") || f.startsWith("node_modules/") || f === "bun.lock") continue;
      let text: string;
      try {
        text = readFileSync(path.join(ROOT, f), "utf8");
      } catch {
        continue;
      }
      for (const [what, re] of patterns) if (re.test(text)) hits.push(`${f}: ${what}`);
      if (/\.ya?ml$/.test(f) && bundle.test(text)) hits.push(`${f}: Talos secrets bundle`);
    }
    expect(hits).toEqual([]);
  });

  test(".gitignore covers talhelper output, kubeconfig, talosconfig, .env and the Talos secrets bundle", () => {
    const ignored = (p: string) => spawnSync("git", ["check-ignore", "-q", "--no-index", p], { cwd: ROOT }).status === 0;
    for (const p of [
      "clusterconfig/home-ops-mini01.yaml",
      "clusterconfig/talosconfig",
      "clusterconfig/kubeconfig",
      "talos/clusterconfig/home-ops-mini01.yaml",
      "kubeconfig",
      "talosconfig",
      ".env",
      ".env.local",
      "talos/talsecret.yaml",
    ])
      expect({ p, ignored: ignored(p) }).toEqual({ p, ignored: true });
    for (const p of ["clusterconfig/README.md", ".env.example", "talos/talconfig.yaml", "talos/talenv.yaml"])
      expect({ p, ignored: ignored(p) }).toEqual({ p, ignored: false });
  });

  test("every # renovate: line is read by the regex manager of .renovaterc.json5 with the right version", async () => {
    const cfg = (await import(path.join(ROOT, ".renovaterc.json5"))).default as {
      customManagers: { matchStrings: string[]; managerFilePatterns: string[] }[];
    };
    const mgr = cfg.customManagers[0]!;
    const fileRes = mgr.managerFilePatterns.map((p) => new RegExp(p.slice(1, -1)));
    const re = new RegExp(mgr.matchStrings[0]!, "g");
    expect(model.versions.renovate.length).toBeGreaterThanOrEqual(12);
    for (const r of model.versions.renovate) {
      expect({ file: r.source.file, managed: fileRes.some((x) => x.test(r.source.file)) }).toEqual({ file: r.source.file, managed: true });
      const text = readFileSync(path.join(ROOT, r.source.file), "utf8");
      const found = [...text.matchAll(re)].find((m) => m.groups?.depName === r.depName);
      expect({ dep: r.depName, value: found?.groups?.currentValue }).toEqual({ dep: r.depName, value: r.version });
    }
  });
});
