import { chmodSync, existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { ConfigError, defineScript, ExitCode, OperationError } from "../lib/cli/index.ts";
import { opRead, talsecretRef, writeSecretFile } from "../lib/secrets/op.ts";
import { loadCluster } from "../lib/talos/cluster.ts";
import { genconfig, verifyGenerated } from "../lib/talos/talhelper.ts";

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
(else op://<cluster name>/talos/talsecret).`,
  replaces: ["talos:generate-config", "talos:restore-secrets"],
  live: true,
  mutates: true,
  flags: {
    "secret-ref": { type: "string", placeholder: "op://vault/item/field", description: "1Password reference of the secrets bundle" },
    "secret-file": { type: "string", placeholder: "path", description: "where the bundle is written [default: talos/talsecret.yaml]" },
    "out-dir": { type: "string", placeholder: "dir", description: "talhelper output folder [default: <repo>/clusterconfig]" },
    "skip-secrets": { type: "boolean", description: "use the existing secrets file instead of reading 1Password" },
  },
  examples: ["bun scripts/talos-generate-config.ts", "bun scripts/talos-generate-config.ts --dry-run"],
  async run({ flags, out, exec, root, env, json, dryRun }) {
    const cluster = loadCluster(root);
    const secretFile = path.resolve(root, flags["secret-file"] ?? path.join("talos", "talsecret.yaml"));
    const outDir = path.resolve(root, flags["out-dir"] ?? "clusterconfig");
    const ref = flags["secret-ref"] ?? talsecretRef(env, cluster.name);
    let restored = false;
    if (flags["skip-secrets"]) {
      if (!existsSync(secretFile))
        throw new ConfigError(`--skip-secrets given but ${path.relative(root, secretFile)} does not exist`, "run without --skip-secrets to restore it from 1Password");
    } else {
      const secret = await opRead(exec, ref, { label: "talos secrets bundle" });
      const w = await writeSecretFile(exec, root, secretFile, secret);
      restored = w.written;
      if (w.written) out.log(`${out.mark("ok")} secrets bundle restored from 1Password to ${path.relative(root, secretFile)} (0600)`);
    }
    const result = await genconfig(exec, {
      talosDir: cluster.talosDir,
      secretFile,
      envFile: "talenv.yaml",
      outDir,
    });
    if (result.dryRun) {
      if (json) out.result({ ok: true, dryRun: true, secretRef: ref, secretFile, outDir, command: result.command });
      else out.line("dry run: nothing was written");
      return ExitCode.ok;
    }
    // machine configs and the talosconfig carry the cluster's keys: owner-only
    if (existsSync(outDir))
      for (const f of readdirSync(outDir)) if (f.endsWith(".yaml") || f === "talosconfig") chmodSync(path.join(outDir, f), 0o600);
    const check = verifyGenerated(result, cluster.name, cluster.nodes.map((n) => n.hostname));
    if (json)
      out.result({ ok: check.ok, secretsRestored: restored, secretFile, outDir, talosconfig: check.talosconfig, nodes: check.nodes });
    else {
      out.printTable(
        ["node", "config", "reported", "on disk"],
        check.nodes.map((n) => [n.hostname, path.relative(root, n.file), n.reported ? "yes" : "NO", n.exists ? "yes" : "NO"]),
      );
      out.line(`talosconfig: ${check.talosconfig ? path.relative(root, result.talosconfig) : "MISSING"}`);
    }
    if (!check.ok) {
      const missing = check.nodes.filter((n) => !n.reported || !n.exists).map((n) => n.hostname);
      throw new OperationError(
        `talhelper did not generate ${[...missing, ...(check.talosconfig ? [] : ["the talosconfig"])].join(", ")}`,
        "check talos/talconfig.yaml (every node needs hostname, ipAddress and an install disk)",
      );
    }
    if (!json) out.line(`generated ${check.nodes.length} node configs in ${path.relative(root, outDir) || "."}`);
    return ExitCode.ok;
  },
});
