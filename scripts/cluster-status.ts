import { defineScript, ExitCode } from "../lib/cli/index.ts";
import type { KubeClient } from "../lib/kube/client.ts";
import type { SectionStatus } from "../lib/talos/status.ts";

export default defineScript(import.meta, {
  name: "cluster-status",
  area: "cluster",
  summary: "one screen: nodes, etcd, Cilium, BGP, Flux, Longhorn, certificates; exit 1 when anything is unhealthy",
  description: `
Reads everything at once (talosctl for Talos versions, machine stages and etcd; the Kubernetes API for Nodes, the
Cilium DaemonSet, CiliumBGPNodeConfig sessions, Flux Kustomizations and HelmReleases, Longhorn volumes and
cert-manager Certificates) and prints one screen. Parts not installed yet are shown as such. Exit 1 when anything
is unhealthy, so it works as a check.`,
  replaces: ["cluster:status"],
  live: true,
  flags: {
    "cert-days": { type: "integer", min: 0, max: 3650, default: 14, placeholder: "days", description: "certificates expiring sooner are a problem" },
    sequential: { type: "boolean", description: "read one thing after another (the baseline of bench/status.ts)" },
  },
  examples: ["bun scripts/cluster-status.ts", "bun scripts/cluster-status.ts --json | jq .problems"],
  async run({ flags, out, exec, root, env, json, verbose }) {
    // loaded here, not at the top: --help and flag errors answer without the library
    const [{ loadCluster, makeTalosctl }, { formatMs }, { openKube }, { collectStatus, printProblemGroups }] = await Promise.all([
      import("../lib/talos/cluster.ts"),
      import("../lib/talos/poll.ts"),
      import("../lib/talos/script-support.ts"),
      import("../lib/talos/status.ts"),
    ]);
    const certDays = flags["cert-days"];
    const cluster = loadCluster(root);
    const talos = makeTalosctl(exec, root, env);
    let kube: KubeClient | null = null;
    let kubeError: string | undefined;
    try {
      kube = openKube(env);
    } catch (e) {
      kubeError = (e as Error).message;
    }
    const reading = out.wait(`reading ${cluster.name}: Talos, etcd and the Kubernetes API`);
    const r = await collectStatus({ talos, kube, kubeError, cluster: cluster.name, nodes: cluster.nodes, sequential: flags.sequential, certDays }).finally(() => reading.done());
    if (json) {
      out.result(r);
      return r.ok ? ExitCode.ok : ExitCode.failed;
    }
    const mark = (s: { ok: boolean; installed?: boolean }) => out.mark(s.ok ? (s.installed === false ? "skip" : "ok") : "fail");
    out.line(out.bold(`cluster ${r.cluster}`) + out.dim(`  (read in ${formatMs(r.readMs)})`));
    // fits 80 columns: the mark only where a node is not fine, the boot stage only where it is not "running"
    out.printTable(
      ["node", "roles", "ip", "ready", "talos", "kubelet"],
      r.nodes.map((n) => [
        `${n.ok ? "" : `${out.mark("fail")} `}${n.hostname}${n.inRepo ? "" : " *"}`,
        n.roles.join(","),
        n.ip,
        n.ready === null ? "?" : n.ready ? "Ready" : `NotReady${n.readyReason ? ` (${n.readyReason.slice(0, 40)})` : ""}`,
        n.talosError ? n.talosError : `${n.talosVersion ?? "-"}${n.stage && n.stage !== "running" ? ` (${n.stage})` : ""}`,
        n.kubeletVersion ?? "-",
      ]),
    );
    if (r.nodes.some((n) => !n.inRepo)) out.line(out.dim("* not in talos/talconfig.yaml (found by Talos cluster discovery)"));
    const line = (name: string, s: SectionStatus) => out.line(`${mark(s)} ${name.padEnd(13)} ${s.detail}`);
    line("etcd", r.etcd);
    if (r.etcd.rows.length)
      out.printTable(
        ["member", "node", "state", "db size", "leader", "learner", "errors"],
        r.etcd.rows.map((e) => [e.member, e.node, e.state, e.dbSize, e.leader ? "yes" : "", e.learner ? "yes" : "no", e.state === "unknown" ? "-" : e.errors.join(", ") || "-"]),
      );
    line("cilium", r.cilium);
    line("bgp", r.bgp);
    line("flux", r.flux);
    line("longhorn", r.longhorn);
    line("certificates", r.certificates);
    printProblemGroups(out, r.groups, verbose);
    return r.ok ? ExitCode.ok : ExitCode.failed;
  },
});
