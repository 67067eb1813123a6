import { defineScript, ExitCode } from "../lib/cli/index.ts";

export default defineScript(import.meta, {
  name: "talos-check-extensions",
  area: "talos",
  summary: "installed system extensions and schematic per node vs talos/schematic.yaml",
  description: `
Reads \`talosctl get extensions\` from every node (one call for all) and compares each node's extensions and Image
Factory schematic id with the repo's schematic. A node upgraded with an image without the schematic has lost its
extensions (iscsi-tools for Longhorn among them): this shows it. Exit 1 on any difference.`,
  replaces: ["talos:check-extensions"],
  live: true,
  flags: {
    node: { type: "string", multiple: true, placeholder: "host|ip", description: "check only this node" },
  },
  examples: ["bun scripts/talos-check-extensions.ts", "bun scripts/talos-check-extensions.ts --json"],
  async run({ flags, out, exec, root, env, json }) {
    // loaded here, not at the top: --help and flag errors answer without the library
    const [
      { loadCluster, makeTalosctl, selectNodes },
      { parseNodeErrors },
      { compareExtensions },
      { parseExtensions },
    ] = await Promise.all([
      import("../lib/talos/cluster.ts"),
      import("../lib/talos/errors.ts"),
      import("../lib/talos/extensions.ts"),
      import("../lib/talos/parse.ts"),
    ]);
    const cluster = loadCluster(root);
    const nodes = selectNodes(cluster.nodes, flags.node);
    const talos = makeTalosctl(exec, root, env);
    const r = await talos.call(["get", "extensions", "-o", "json"], { nodes: nodes.map((n) => n.ip), readOnly: true });
    const errors = new Map<string, string>();
    for (const e of r.exitCode === 0 ? [] : parseNodeErrors(r.stderr)) {
      if (e.node) errors.set(e.node, e.message.replace(/^rpc error: code = \w+ desc = /, ""));
      else for (const n of nodes) errors.set(n.ip, e.message);
    }
    const reports = compareExtensions(nodes, parseExtensions(r.stdout), errors, {
      schematicId: cluster.schematicId,
      extensions: cluster.schematicExtensions,
    });
    const ok = reports.every((x) => x.ok);
    if (json) out.result({ ok, schematic: { id: cluster.schematicId, extensions: cluster.schematicExtensions }, nodes: reports });
    else {
      out.line(`schematic ${cluster.schematicId ?? "(none pinned)"}: ${cluster.schematicExtensions.join(", ") || "no extensions"}`);
      out.printTable(
        ["node", "", "schematic", "missing", "unexpected"],
        reports.map((x) => [
          x.hostname,
          out.mark(x.ok ? "ok" : "fail"),
          x.error ? `error: ${x.error}` : x.schematicOk ? "matches" : `${x.schematic ?? "none"} (differs)`,
          x.missing.join(", ") || "-",
          x.unexpected.join(", ") || "-",
        ]),
      );
      if (!ok) out.line("nodes that differ: upgrade them with the repo's installer image (bun scripts/talos-upgrade.ts --node <host>)");
    }
    return ok ? ExitCode.ok : ExitCode.failed;
  },
});
