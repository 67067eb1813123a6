import { defineScript, ExitCode } from "../lib/cli/index.ts";
import type { KubeClient } from "../lib/kube/client.ts";
import { loadCluster, makeTalosctl } from "../lib/talos/cluster.ts";
import { formatMs } from "../lib/talos/poll.ts";
import { openKube } from "../lib/talos/script-support.ts";
import { collectStatus, type SectionStatus } from "../lib/talos/status.ts";

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
  async run({ flags, out, exec, root, env, json }) {
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
    const r = await collectStatus({ talos, kube, kubeError, cluster: cluster.name, nodes: cluster.nodes, sequential: flags.sequential, certDays });
    if (json) {
      out.result(r);
      return r.ok ? ExitCode.ok : ExitCode.failed;
    }
    const mark = (s: { ok: boolean; installed?: boolean }) => out.mark(s.ok ? (s.installed === false ? "skip" : "ok") : "fail");
    out.line(out.bold(`cluster ${r.cluster}`) + out.dim(`  (read in ${formatMs(r.readMs)})`));
    out.printTable(
      ["node", "", "roles", "ip", "ready", "talos", "kubelet", "stage"],
      r.nodes.map((n) => [
        n.hostname + (n.inRepo ? "" : " *"),
        mark(n),
        n.roles.join(","),
        n.ip,
        n.ready === null ? "?" : n.ready ? "Ready" : `NotReady${n.readyReason ? ` (${n.readyReason.slice(0, 40)})` : ""}`,
        n.talosVersion ?? (n.talosError ? "unreachable" : "-"),
        n.kubeletVersion ?? "-",
        n.stage ?? "-",
      ]),
    );
    if (r.nodes.some((n) => !n.inRepo)) out.line(out.dim("* not in talos/talconfig.yaml (found by Talos cluster discovery)"));
    const line = (name: string, s: SectionStatus) => out.line(`${mark(s)} ${name.padEnd(13)} ${s.detail}`);
    line("etcd", r.etcd);
    if (r.etcd.rows.length)
      out.printTable(
        ["member", "node", "db size", "leader", "learner", "errors"],
        r.etcd.rows.map((e) => [e.member, e.node, e.dbSize, e.leader ? "yes" : "", e.learner ? "yes" : "no", e.errors.join(", ") || "-"]),
      );
    line("cilium", r.cilium);
    line("bgp", r.bgp);
    line("flux", r.flux);
    line("longhorn", r.longhorn);
    line("certificates", r.certificates);
    if (r.problems.length) {
      out.line();
      out.line(out.bold(`${r.problems.length} problem${r.problems.length === 1 ? "" : "s"}:`));
      for (const p of r.problems.slice(0, 40)) out.line(`  ${out.mark("fail")} ${p}`);
      if (r.problems.length > 40) out.line(`  ... and ${r.problems.length - 40} more (--json shows all)`);
    } else out.line(`\n${out.mark("ok")} everything healthy`);
    return r.ok ? ExitCode.ok : ExitCode.failed;
  },
});
