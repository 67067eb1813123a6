import { defineScript, ExitCode } from "../lib/cli/index.ts";
import type { KindSpec, KubeObject } from "../lib/kube/index.ts";

const LH = "longhorn.io/v1beta2";
const NS = "longhorn-system";

export default defineScript(import.meta, {
  name: "storage-check-longhorn",
  area: "storage",
  summary: "check Longhorn: nodes schedulable, disks at /var/mnt/longhorn with free space, volume health, Talos settings, iSCSI",
  description: `
Reads Longhorn's Nodes, Volumes and Settings (longhorn.io/v1beta2) through the Kubernetes API and compares them
with the repo: every node has a ready, schedulable Longhorn node whose disk is the Talos user volume
(defaultSettings.defaultDataPath, /var/mnt/longhorn) with its free space; every volume's robustness (healthy,
degraded, faulted) and replica count vs default-replica-count; the declared defaultSettings are the ones running
(Longhorn applies them only at first install); replica-replenishment-wait-interval long enough for a Talos reboot;
the longhorn-system namespace allows privileged pods; and each node has the iscsi-tools and util-linux-tools
extensions (talosctl). Exit 1 when a check fails.`,
  replaces: ["storage:check-longhorn", "storage:check-iscsi"],
  live: true,
  flags: {
    "skip-talos": { type: "boolean", description: "do not ask talosctl for the iSCSI extensions" },
  },
  examples: ["bun scripts/storage-check-longhorn.ts", "bun scripts/storage-check-longhorn.ts --json | jq '.checks[] | select(.status != \"ok\")'", "bun scripts/storage-check-longhorn.ts --simulate"],
  async run({ flags, out, exec, env, root, json }) {
    // loaded here, not at the top: --help and flag errors answer without the library
    const [
      { isNotFound, KubeClient },
      { loadRepo },
      { inventoryFromModel, makeTalosctl },
      { storageFacts },
      { checkLonghorn },
      { printChecks, summarize },
    ] = await Promise.all([
      import("../lib/kube/index.ts"),
      import("../lib/repo/model.ts"),
      import("../lib/talos/cluster.ts"),
      import("../lib/storage/facts.ts"),
      import("../lib/storage/longhorn.ts"),
      import("../lib/storage/result.ts"),
    ]);
    const model = loadRepo(root);
    const facts = storageFacts(model);
    const client = KubeClient.fromEnv(env);
    const list = async (kind: KindSpec, namespace?: string): Promise<KubeObject[] | undefined> => {
      try {
        return (await client.list(kind, namespace ? { namespace } : {})).items;
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    };
    let k8sNodes: KubeObject[] | undefined, nodes, volumes, settings, namespace;
    try {
      [k8sNodes, nodes, volumes, settings, namespace] = await Promise.all([
        list({ apiVersion: "v1", kind: "Node" }),
        list({ apiVersion: LH, kind: "Node" }, NS),
        list({ apiVersion: LH, kind: "Volume" }, NS),
        list({ apiVersion: LH, kind: "Setting" }, NS),
        client.tryGet({ apiVersion: "v1", kind: "Namespace", name: NS }),
      ]);
    } finally {
      client.close();
    }
    if (nodes === undefined || volumes === undefined || settings === undefined) {
      const s = summarize([{ subject: "longhorn", check: "installed", status: "fail", detail: "the cluster serves no longhorn.io/v1beta2 kinds (Longhorn's CRDs are not installed)", fix: "deploy Longhorn (Flux: kubernetes/apps/longhorn-system) and run again" }]);
      if (json) out.result(s);
      else printChecks(out, "Longhorn", s);
      return ExitCode.failed;
    }
    let extensions: Map<string, string[]> | undefined;
    if (!flags["skip-talos"]) {
      const inventory = inventoryFromModel(model);
      const talosctl = makeTalosctl(exec, root, env);
      extensions = new Map();
      const byIp = new Map(inventory.map((n) => [n.ip, n.hostname]));
      await Promise.all(
        inventory.map(async (n) => {
          try {
            const exts = await talosctl.extensions([n.ip]);
            extensions!.set(n.hostname, exts.map((e) => e.name));
          } catch (e) {
            out.warn(`extensions of ${byIp.get(n.ip) ?? n.ip} not read: ${(e as Error).message}`);
          }
        }),
      );
    }
    const checks = checkLonghorn({ k8sNodes: k8sNodes ?? [], nodes, volumes, settings, ...(namespace ? { namespace } : {}), ...(extensions ? { extensions } : {}) }, facts);
    const s = summarize(checks);
    if (json) out.result(s);
    else printChecks(out, "Longhorn", s);
    return s.ok ? ExitCode.ok : ExitCode.failed;
  },
});
