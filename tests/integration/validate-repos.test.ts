import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { validateRepo } from "../../lib/checks/index.ts";

/**
 * validate on working public home-ops repos (tests/fixtures/repos, pinned and trimmed): what Flux would apply is
 * rendered with the real kustomize, so a working repo has no false error. Every finding kept is listed here with the
 * reason it is real (or this repo's house policy, or why it is only a note). Needs kubectl (kustomize) like tests/integration/kustomize.test.ts.
 */

const REPOS = path.resolve(import.meta.dir, "../fixtures/repos");

interface Kept {
  severity: "error" | "warning" | "info";
  id: string;
  file: string;
  why: string;
}

const REMOTE_PRESETS = "Renovate presets from other repositories cannot be read offline: the `# renovate:` lines are not judged";
const NOT_TALHELPER = "Talos is configured with machine-config templates, not talhelper: the talhelper checks say they did not run";
const newerChart = (chart: string, version: string) =>
  `${chart} ${version} is newer than the chart-CRD table (lib/repo/charts.ts): its custom resources are checked against the CRDs of the version the table knows, and validate says so`;
const NO_FLUX_PIN = "no Flux version is written in the repo (the flux-instance chart picks one): API versions are not checked";

const EXPECTED: Record<string, { kept: Kept[]; unreferenced: Record<string, string> }> = {
  "onedr0p-home-ops": {
    kept: [
      { severity: "info", id: "schema/chart-crds-version-unknown", file: "kubernetes/apps/cert-manager/cert-manager/app/helmrelease.yaml", why: newerChart("cert-manager", "v1.21.1") },
      { severity: "info", id: "schema/chart-crds-version-unknown", file: "kubernetes/apps/external-secrets/external-secrets/app/helmrelease.yaml", why: newerChart("external-secrets", "2.9.0") },
      { severity: "info", id: "schema/chart-crds-version-unknown", file: "kubernetes/apps/o11y/kube-prometheus-stack/app/helmrelease.yaml", why: newerChart("kube-prometheus-stack", "88.3.0") },
      { severity: "info", id: "schema/flux-version-unknown", file: "kubernetes/apps/flux-system/flux-instance/app/helmrelease.yaml", why: `${NO_FLUX_PIN} (the repo has no mise config: the finding points at the flux-instance)` },
      { severity: "info", id: "versions/renovate-presets-remote", file: ".renovaterc.json5", why: REMOTE_PRESETS },
      { severity: "info", id: "talos/not-talhelper", file: "talos/cluster.yaml.j2", why: NOT_TALHELPER },
    ],
    unreferenced: {
      "kubernetes/apps/actions-runner-system/actions-runner-controller/runners/home-operations":
        "commented out (`# - ./home-operations`) in runners/kustomization.yaml: Flux applies none of it",
    },
  },
  "bjw-s-labs-home-ops": {
    kept: [
      { severity: "info", id: "schema/chart-crds-version-unknown", file: "kubernetes/apps/cert-manager/cert-manager/app/helmrelease.yaml", why: newerChart("cert-manager", "v1.21.1") },
      { severity: "info", id: "schema/chart-crds-version-unknown", file: "kubernetes/apps/external-secrets/external-secrets/app/helmrelease.yaml", why: newerChart("external-secrets", "2.9.0") },
      { severity: "info", id: "schema/chart-crds-version-unknown", file: "kubernetes/apps/observability/kube-prometheus-stack/app/helmrelease.yaml", why: newerChart("kube-prometheus-stack", "88.3.0") },
      { severity: "info", id: "versions/renovate-presets-remote", file: ".renovaterc.json5", why: REMOTE_PRESETS },
      { severity: "info", id: "schema/flux-version-unknown", file: "kubernetes/apps/flux-system/flux-instance/app/helmrelease.yaml", why: "distribution.version is the range `2.x`: no minor to check API versions against" },
      { severity: "info", id: "talos/not-talhelper", file: "kubernetes/talos/cluster.yaml.j2", why: NOT_TALHELPER },
    ],
    unreferenced: {},
  },
  "tscibilia-home-ops": {
    kept: [
      { severity: "info", id: "schema/chart-crds-version-unknown", file: "kubernetes/apps/cert-manager/cert-manager/app/helmrelease.yaml", why: newerChart("cert-manager", "v1.21.1") },
      { severity: "info", id: "schema/chart-crds-version-unknown", file: "kubernetes/apps/database/cnpg/app/helmrelease.yaml", why: newerChart("cloudnative-pg", "0.29.0") },
      { severity: "info", id: "schema/chart-crds-version-unknown", file: "kubernetes/apps/external-secrets/external-secrets/app/helmrelease.yaml", why: newerChart("external-secrets", "2.9.0") },
      { severity: "info", id: "schema/chart-crds-version-unknown", file: "kubernetes/apps/observability/kube-prometheus-stack/app/helmrelease.yaml", why: newerChart("kube-prometheus-stack", "88.3.0") },
      { severity: "info", id: "schema/flux-version-unknown", file: ".mise.toml", why: "flux2 2.9 is pinned, newer than the API-version table (2.4)" },
      { severity: "info", id: "versions/renovate-presets-remote", file: ".renovaterc.json5", why: REMOTE_PRESETS },
      { severity: "info", id: "kustomize/remote-resource", file: "kubernetes/apps/database/dragonfly/ks.yaml", why: "the dragonfly operator's CRDs are a remote kustomize resource: validate is offline and does not fetch it" },
      { severity: "info", id: "talos/not-talhelper", file: "kubernetes/talos/machineconfig.yaml.j2", why: NOT_TALHELPER },
    ],
    unreferenced: {
      "kubernetes/apps/ai/litellm/app": "three manifests left out of app/kustomization.yaml (not listed): Flux does not apply them",
    },
  },
  "onedr0p-cluster-template": {
    kept: [
      { severity: "info", id: "schema/flux-version-unknown", file: ".mise.toml", why: "Flux 2.6 is newer than the API-version table (2.4): API versions are not checked" },
      { severity: "error", id: "ipam/pool-contains-host", file: "kubernetes/apps/kube-system/cilium/app/networks.yaml", why: "the pool is the whole node CIDR: Cilium LB-IPAM hands the lowest free address to a LoadBalancer Service that asks for none, i.e. the router (.1), a node or the API VIP (the template's own Services all ask for theirs)" },
      { severity: "error", id: "secrets/gitignore", file: ".gitignore", why: "house policy: the root .gitignore must cover talhelper's output and talsecret.yaml itself (the template relies on the .gitignore talhelper writes into clusterconfig/ and on keeping only talsecret.sops.yaml)" },
      { severity: "error", id: "talos/encryption", file: "talos/talconfig.yaml", why: "house policy (LUKS2 for STATE and EPHEMERAL): the template encrypts only nodes with encrypt_disk, unset in the sample config" },
    ],
    unreferenced: {},
  },
  "joryirving-home-ops": {
    kept: [
      { severity: "info", id: "schema/chart-crds-version-unknown", file: "kubernetes/apps/base/cert-manager/cert-manager/helmrelease.yaml", why: newerChart("cert-manager", "v1.21.1") },
      { severity: "info", id: "schema/chart-crds-version-unknown", file: "kubernetes/apps/base/database/cloudnative-pg/helmrelease.yaml", why: newerChart("cloudnative-pg", "0.29.0") },
      { severity: "info", id: "schema/chart-crds-version-unknown", file: "kubernetes/apps/base/external-secrets/external-secrets/helmrelease.yaml", why: newerChart("external-secrets", "2.9.0") },
      { severity: "info", id: "schema/chart-crds-version-unknown", file: "kubernetes/apps/base/observability/kube-prometheus-stack/helmrelease.yaml", why: newerChart("kube-prometheus-stack", "88.5.3") },
      { severity: "info", id: "schema/flux-version-unknown", file: ".mise.toml", why: NO_FLUX_PIN },
      { severity: "info", id: "versions/renovate-presets-remote", file: ".renovaterc.json5", why: REMOTE_PRESETS },
      { severity: "info", id: "talos/not-talhelper", file: "talos/main/machineconfig.yaml.j2", why: `${NOT_TALHELPER} (one folder per cluster: talos/main, talos/test, talos/utility)` },
    ],
    unreferenced: {
      "kubernetes/apps/base/games/core-keeper": "its ks.yaml is commented out in apps/main/games/kustomization.yaml",
      "kubernetes/apps/base/games/palworld": "its ks.yaml is commented out in apps/main/games/kustomization.yaml",
      "kubernetes/apps/base/games/vrising": "its ks.yaml is commented out in apps/main/games/kustomization.yaml",
      "kubernetes/apps/base/games/minecraft/create": "not listed by the minecraft kustomization",
      "kubernetes/apps/base/games/minecraft/takocraft": "not listed by the minecraft kustomization",
      "kubernetes/apps/base/games/minecraft/vibecraft": "not listed by the minecraft kustomization",
      "kubernetes/apps/base/home-automation/rtlamr2mqtt": "commented out (`# - ./rtlamr2mqtt.yaml ##RTL in use for ACARS`)",
      "kubernetes/apps/base/llm/litellm": "spare model manifests no kustomization lists",
      "kubernetes/apps/base/media/plex/kometa": "no Flux Kustomization points at kometa",
      "kubernetes/apps/base/observability/network-ups-tools": "no Flux Kustomization points at it",
      "kubernetes/apps/utility/home-automation": "rtlamr2mqtt.yaml, commented out of the folder's kustomization",
      "kubernetes/apps/utility/observability": "grafana.yaml, not listed by the folder's kustomization",
      "kubernetes/components/kopiur/restore": "a component no kustomization uses",
    },
  },
};

describe("validate on public home-ops repos (rendered like Flux)", () => {
  for (const [name, want] of Object.entries(EXPECTED)) {
    test(
      name,
      async () => {
        const scratch = mkdtempSync(path.join(tmpdir(), "home-ops-repos-"));
        try {
          const r = await validateRepo(path.join(REPOS, name), { renderCacheFile: path.join(scratch, "render.json") });
          // no error but the real ones named below (and this repo's house policy)
          const named = new Set(want.kept.filter((k) => k.severity === "error").map((k) => `${k.id} ${k.file}`));
          const errors = r.findings.filter((f) => f.severity === "error" && !named.has(`${f.id} ${f.file}`)).map((f) => `${f.id} ${f.file}:${f.line} ${f.message}`);
          expect(errors).toEqual([]);
          const kept = r.findings.filter((f) => f.id !== "repo/unreferenced").map((f) => `${f.severity} ${f.id} ${f.file}`);
          expect(kept.sort()).toEqual(want.kept.map((k) => `${k.severity} ${k.id} ${k.file}`).sort());
          const folders = [...new Set(r.findings.filter((f) => f.id === "repo/unreferenced").map((f) => path.posix.dirname(f.file)))];
          expect(folders.sort()).toEqual(Object.keys(want.unreferenced).sort());
          expect(r.documents).toBeGreaterThan(100);
        } finally {
          rmSync(scratch, { recursive: true, force: true });
        }
      },
      { timeout: 900_000 },
    );
  }
});

describe("what a kept finding says", () => {
  test(
    "ipam/pool-contains-host names every address the pool's block holds, in one finding (onedr0p-cluster-template: the pool is the node /24)",
    async () => {
      const r = await validateRepo(path.join(REPOS, "onedr0p-cluster-template"), { only: ["ipam"] });
      const hosts = r.findings.filter((f) => f.id === "ipam/pool-contains-host");
      expect(hosts).toHaveLength(1);
      // the router, the API VIP and the nodes: the first four by name, the rest counted
      expect(hosts[0]!.message).toMatch(/contains (.+ \(\d+\.\d+\.\d+\.\d+\), ){3}.+ \(\d+\.\d+\.\d+\.\d+\) and \d+ more$/);
      for (const what of ["the router", "the API VIP", "node k8s-0"]) expect(hosts[0]!.message).toContain(what);
    },
    { timeout: 300_000 },
  );
});
