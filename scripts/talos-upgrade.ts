import { ConfigError, defineScript, ExitCode, OperationError, plural, rollingFlags, LOCK_FLAGS } from "../lib/cli/index.ts";

export default defineScript(import.meta, {
  name: "talos-upgrade",
  area: "talos",
  summary: "rolling Talos upgrade with the repo's Image Factory installer, one node at a time behind health gates",
  description: `
Upgrades the nodes one at a time (control planes first) to the installer image of the repo (talconfig's
talosImageURL with the schematic id and TALOS_VERSION), or --to <version> with the same schematic, or --image.
Refuses (exit 2) an image without the repo's schematic (its extensions would be dropped) and a Talos version that
does not support the repo's Kubernetes version. Before each node: etcd healthy with every member voting, every node
Ready, every Longhorn volume healthy, quorum kept; after: the node runs the new version and schematic and the gates
pass again. Nodes already on the target are skipped, so a stopped run continues where it stopped. Holds the
cluster's maintenance lock throughout: while another operation holds it, this one exits 2 naming it.`,
  replaces: ["talos:upgrade"],
  live: true,
  mutates: true,
  flags: {
    ...rollingFlags("upgrade", "15m"),
    to: { type: "version", placeholder: "version", description: "Talos version to upgrade to (the repo's schematic)" },
    image: { type: "string", placeholder: "image", description: "full installer image (must carry the repo's schematic)" },
    ...LOCK_FLAGS,
  },
  examples: ["bun scripts/talos-upgrade.ts --dry-run", "bun scripts/talos-upgrade.ts --to v1.10.6 --yes"],
  async run({ flags, out, exec, root, env, json, dryRun, signal, confirm }) {
    // loaded here, not at the top: --help and flag errors answer without the library
    const [
      { rollingOrder },
      { makeTalosctl, selectNodes },
      { rollingUpgrade },
      { parseVersion },
      { clusterReader },
      { gateNodes, loadClusterWithDiscovery, lockedRolling, openKube, printRolling },
      { checkUpgradeImage, installerImageFor, normaliseVersion, talosSupportsKubernetes, talosUpgradePath },
    ] = await Promise.all([
      import("../lib/safety/rolling.ts"),
      import("../lib/talos/cluster.ts"),
      import("../lib/talos/rolling-ops.ts"),
      import("../lib/exec.ts"),
      import("../lib/safety/kube-reader.ts"),
      import("../lib/talos/script-support.ts"),
      import("../lib/talos/versions.ts"),
    ]);
    const { "node-timeout": nodeTimeout, "gate-timeout": gateTimeout } = flags;
    const talos = makeTalosctl(exec, root, env);
    const cluster = await loadClusterWithDiscovery(talos, root, out);
    if (!cluster.schematicId)
      throw new ConfigError("the repo pins no Image Factory schematic id", "set TALOS_SCHEMATIC_ID in talos/talenv.yaml (see talos/schematic.yaml)");
    if (flags.image && flags.to) throw new ConfigError("give --to or --image, not both");
    const repoImage = cluster.installerImage;
    const kind = /factory\.talos\.dev\/([a-z-]*installer)\//.exec(repoImage)?.[1] ?? "installer";
    const image = flags.image ?? (flags.to ? installerImageFor(cluster.schematicId, normaliseVersion(flags.to), kind) : repoImage);
    const imageCheck = checkUpgradeImage(image, cluster.schematicId);
    if (!imageCheck.ok) throw new ConfigError(`refusing to upgrade: ${imageCheck.reason}`);
    const version = imageCheck.image!.version;
    const support = talosSupportsKubernetes(version, cluster.kubernetesVersion);
    if (!support.ok)
      throw new ConfigError(
        `refusing to upgrade: ${support.reason}`,
        "upgrade Kubernetes first (talos-upgrade-k8s) or pick a Talos version that supports it",
      );
    // the live cluster may already run a newer Kubernetes than talenv says (upgrade-k8s without the bump)
    const live = await (async () => clusterReader(openKube(env)).nodes())()
      .then((ns) => ns.map((n) => n.kubeletVersion).filter((v): v is string => !!v && !!parseVersion(v)))
      .catch(() => [] as string[]);
    for (const v of [...new Set(live)]) {
      const c = talosSupportsKubernetes(version, v);
      if (!c.ok) throw new ConfigError(`refusing to upgrade: the cluster runs Kubernetes ${v}: ${c.reason}`, "pick a Talos version that supports it");
    }
    // Talos goes one minor at a time, never backwards (a rollback is `talosctl rollback`): from what the nodes run now
    const running = await (async () => {
      for (const cp of cluster.nodes.filter((n) => n.controlPlane)) {
        const ms = await talos.members(cp.ip).catch(() => null);
        if (ms) return ms.map((m) => m.talosVersion).filter((v): v is string => !!v && !!parseVersion(v));
      }
      return [] as string[];
    })();
    for (const v of [...new Set(running)]) {
      const p = talosUpgradePath(v, version);
      if (!p.ok) throw new ConfigError(`refusing to upgrade: a node runs ${v}: ${p.reason}`);
    }
    const targets = rollingOrder(gateNodes(selectNodes(cluster.nodes, flags.node)));
    const controlPlanes = cluster.nodes.filter((n) => n.controlPlane).length;
    out.log(`target: ${image}`);
    if (!dryRun) await confirm(`upgrade ${targets.length} node${targets.length === 1 ? "" : "s"} of cluster ${cluster.name} to Talos ${version}`, cluster.name);
    const schematic = cluster.schematicId;
    const operation = `talos-upgrade to ${version} ${flags.node.length ? flags.node.map((n) => `--node ${n}`).join(" ") : "(all nodes)"}`;
    const result = await lockedRolling(
      { root, env, out, dryRun, signal, confirm, breakLock: flags["break-lock"] },
      { operation, talos, nodes: cluster.nodes, targets, nodeTimeout, gateTimeout },
      (common) => rollingUpgrade({ ...common, controlPlanes, target: { image, version, schematic } }),
    );
    printRolling(out, json, result, { dryRun, operation: "upgrade", image, version });
    if (result.stopped)
      throw new OperationError(
        `stopped at ${result.stopped.node}: ${result.stopped.message}`,
        "nothing else was touched; fix that and run again: nodes already upgraded are skipped",
      );
    if (!json) {
      out.line(dryRun ? "dry run: nothing was upgraded" : `upgraded ${plural(result.nodes.filter((n) => n.result === "done").length, "node")} to ${version}, cluster healthy`);
      if (!dryRun && normaliseVersion(cluster.talosVersion) !== version)
        out.warn(`update TALOS_VERSION in talos/talenv.yaml to ${version} so talhelper generates matching configs`);
    }
    return ExitCode.ok;
  },
});
