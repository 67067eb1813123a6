import { ConfigError, defineScript, ExitCode, OperationError, displayPath } from "../lib/cli/index.ts";

export default defineScript(import.meta, {
  name: "talos-generate-config",
  area: "talos",
  summary: "restore the Talos secrets bundle from 1Password and run talhelper genconfig",
  description: `
1. Reads the Talos secrets bundle from 1Password (op read: the value comes back on stdout, is never printed and
   never on a command line) into the git-ignored talos/talsecret.yaml with mode 0600. Without it talhelper would
   generate NEW cluster secrets on every run.
2. Runs talhelper genconfig in talos/ and checks every node got its <cluster>-<hostname>.yaml and the talosconfig.
The 1Password reference comes from --secret-ref, else $TALSECRET_OP_REF (.env), else op://$OP_VAULT/talos/talsecret
(else op://<cluster name>/talos/talsecret).
--secret-file inside the repository must be a path git ignores; outside it, a path that does not exist yet (or
--force, which asks for the file name to be typed back).`,
  replaces: ["talos:generate-config", "talos:restore-secrets"],
  live: true,
  simState: "bare",
  simGeneratesConfigs: true,
  mutates: true,
  flags: {
    "secret-ref": { type: "string", placeholder: "op://vault/item/field", description: "1Password reference of the secrets bundle" },
    "secret-file": { type: "string", placeholder: "path", description: "where the bundle is written [default: talos/talsecret.yaml]" },
    "out-dir": { type: "string", placeholder: "dir", description: "talhelper output folder [default: <repo>/clusterconfig]" },
    "skip-secrets": { type: "boolean", description: "use the existing secrets file instead of reading 1Password" },
    force: { type: "boolean", description: "replace an existing --secret-file outside the repository (asks for a typed confirmation)" },
  },
  examples: ["bun scripts/talos-generate-config.ts", "bun scripts/talos-generate-config.ts --dry-run"],
  async run({ flags, out, exec, root, env, json, dryRun, confirm }) {
    // loaded here, not at the top: --help and flag errors answer without the library
    const path = await import("node:path");
    const [
      { existsSync },
      { talsecretRef },
      { clusterconfigDir, loadCluster, talsecretFile },
      { generateClusterConfig },
    ] = await Promise.all([
      import("node:fs"),
      import("../lib/secrets/op.ts"),
      import("../lib/talos/cluster.ts"),
      import("../lib/talos/generate.ts"),
    ]);
    const cluster = loadCluster(root);
    const secretFile = flags["secret-file"] ? path.resolve(root, flags["secret-file"]) : talsecretFile(root, env);
    const outDir = flags["out-dir"] ? path.resolve(root, flags["out-dir"]) : clusterconfigDir(root, env);
    const ref = flags["secret-ref"] ?? talsecretRef(env, cluster.name);
    if (flags["skip-secrets"] && !existsSync(secretFile))
      throw new ConfigError(`--skip-secrets given but ${displayPath(root, secretFile)} does not exist`, "run without --skip-secrets to restore it from 1Password");
    // the toolkit's own location may be refreshed; a file the user named is replaced only when confirmed
    if (flags.force && flags["secret-file"] && !flags["skip-secrets"] && existsSync(secretFile) && !dryRun)
      await confirm(`replace ${secretFile} with the Talos secrets bundle`, path.basename(secretFile));
    const generated = await generateClusterConfig(exec, {
      replaceOutside: !flags["secret-file"] || flags.force,
      root,
      talosDir: cluster.talosDir,
      clusterName: cluster.name,
      hostnames: cluster.nodes.map((n) => n.hostname),
      secretFile,
      outDir,
      secretRef: ref,
      restore: flags["skip-secrets"] ? "never" : "always",
    });
    if (generated.secretsRestored) out.log(`${out.mark("ok")} secrets bundle restored from 1Password to ${displayPath(root, secretFile)} (0600)`);
    if (generated.dryRun) {
      if (json) out.result({ ok: true, dryRun: true, secretRef: ref, secretFile, outDir, command: generated.genconfig.command });
      else out.line("dry run: nothing was written");
      return ExitCode.ok;
    }
    if (json)
      out.result({ ok: generated.ok, secretsRestored: generated.secretsRestored, secretFile, outDir, talosconfig: generated.talosconfig, nodes: generated.nodes });
    else {
      out.printTable(
        ["node", "config", "reported", "on disk"],
        generated.nodes.map((n) => [n.hostname, displayPath(root, n.file), n.reported ? "yes" : "NO", n.exists ? "yes" : "NO"]),
      );
      out.line(`talosconfig: ${generated.talosconfig ? displayPath(root, generated.genconfig.talosconfig) : "MISSING"}`);
    }
    if (!generated.ok) {
      const missing = generated.nodes.filter((n) => !n.reported || !n.exists).map((n) => n.hostname);
      throw new OperationError(
        `talhelper did not generate ${[...missing, ...(generated.talosconfig ? [] : ["the talosconfig"])].join(", ")}`,
        "check talos/talconfig.yaml (every node needs hostname, ipAddress and an install disk)",
      );
    }
    if (!json) out.line(`generated ${generated.nodes.length} node configs in ${displayPath(root, outDir)}`);
    return ExitCode.ok;
  },
});
