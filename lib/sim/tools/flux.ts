/**
 * Stand-in for the `flux` CLI v2.4.0 in the simulated cluster, printing what the real one prints (the ► ✔ ✗ ◎ ✚
 * progress lines on stderr, tables on stdout) and acting on the store like the real one acts on the API.
 *
 *   flux --version | flux version --client
 *   flux check [--pre]
 *   flux install [--version=v2.4.0] [--namespace=flux-system] [--components-extra=...]
 *   flux bootstrap github --owner=O --repository=R [--branch=main] [--path=P] [--personal] [--token-auth]
 *        the token comes from $GITHUB_TOKEN or stdin only; there is no flag for it (an unknown flag is an error)
 *   flux reconcile source git|helm|oci NAME | flux reconcile ks|kustomization NAME [--with-source] | flux reconcile hr NAME
 *   flux suspend|resume ks|hr|source git NAME | --all   [-n NS | -A]
 *   flux get ks|hr|sources git|sources helm|sources oci [-A] [-n NS] [NAME]
 */
import { type FluxController, FLUX_COMPONENTS, FLUX_INSTALL_KINDS, FLUX_NS, FLUX_VERSION, fluxRunning, writeFluxComponents } from "../controllers/flux.ts";
import { notReady, waitReady } from "../controllers/helm-releases.ts";
import type { Condition, KObj } from "../controllers/obj.ts";
import type { Ctx } from "../controllers/runtime.ts";
import { crdEstablished } from "../controllers/crds.ts";
import { parseGoDuration } from "../timing.ts";
import type { ToolCall, ToolResult } from "../tools.ts";

const KS = { group: "kustomize.toolkit.fluxcd.io", resource: "kustomizations" };
const HR = { group: "helm.toolkit.fluxcd.io", resource: "helmreleases" };
const SOURCES: Record<string, { group: string; resource: string; kind: string }> = {
  git: { group: "source.toolkit.fluxcd.io", resource: "gitrepositories", kind: "GitRepository" },
  helm: { group: "source.toolkit.fluxcd.io", resource: "helmrepositories", kind: "HelmRepository" },
  oci: { group: "source.toolkit.fluxcd.io", resource: "ocirepositories", kind: "OCIRepository" },
};

interface Parsed {
  positional: string[];
  flags: Map<string, string>;
}

const BOOL = new Set(["pre", "all", "all-namespaces", "A", "with-source", "personal", "token-auth", "private", "client", "export", "wait", "version-flag", "read-write-key", "silent", "s"]);
const KNOWN = new Set([
  "pre", "all", "all-namespaces", "with-source", "personal", "token-auth", "private", "client", "export", "wait", "read-write-key", "silent",
  "namespace", "version", "components", "components-extra", "owner", "repository", "branch", "path", "hostname", "timeout", "kubeconfig", "context",
  "interval", "network-policy", "cluster-domain", "watch-all-namespaces", "log-level", "team", "visibility", "reconcile", "ssh-key-algorithm",
  "ssh-ecdsa-curve", "author-name", "author-email", "registry", "image-pull-secret", "secret-name", "ca-file", "toleration-keys", "output",
]);
const SHORT: Record<string, string> = { n: "namespace", A: "all-namespaces", v: "version", s: "silent", o: "output" };

function parse(argv: string[]): Parsed | string {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    if (!a.startsWith("-") || a === "-") {
      positional.push(a);
      continue;
    }
    let name = a.replace(/^--?/, "");
    let value: string | undefined;
    const eq = name.indexOf("=");
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    if (!a.startsWith("--")) name = SHORT[name] ?? name;
    if (name === "all-namespaces" || BOOL.has(name)) {
      flags.set(name, value ?? "true");
      continue;
    }
    if (!KNOWN.has(name)) return `unknown flag: ${a.startsWith("--") ? `--${name}` : a}`;
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) return `flag needs an argument: ${a}`;
    }
    flags.set(name, value);
  }
  for (const f of flags.keys()) if (!KNOWN.has(f)) return `unknown flag: --${f}`;
  return { positional, flags };
}

class Out {
  stdout = "";
  stderr = "";
  step(symbol: string, text: string): void {
    this.stderr += `${symbol} ${text}\n`;
  }
  ok(): ToolResult {
    return { stdout: this.stdout, stderr: this.stderr, exitCode: 0 };
  }
  fail(text: string): ToolResult {
    this.stderr += `✗ ${text}\n`;
    return { stdout: this.stdout, stderr: this.stderr, exitCode: 1 };
  }
}

function readyCond(o: KObj | undefined): Condition | undefined {
  return ((o?.status?.conditions ?? []) as Condition[]).find((c) => c.type === "Ready");
}

function tab(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return `${rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : `${c.padEnd(widths[i] ?? 0)}\t`)).join("")).join("\n")}\n`;
}

/** Waits (store-watching) until `check` returns a value or the scaled timeout passes. */
async function until<T>(ctx: Ctx, timeoutMs: number, check: () => T | undefined): Promise<T | undefined> {
  const first = check();
  if (first !== undefined) return first;
  const deadline = Math.max(1, ctx.host.timing.ms(timeoutMs));
  return await new Promise<T | undefined>((resolve) => {
    let done = false;
    const finish = (v: T | undefined) => {
      if (done) return;
      done = true;
      off();
      clearTimeout(timer);
      resolve(v);
    };
    const off = ctx.store.subscribe(() => {
      queueMicrotask(() => {
        const v = check();
        if (v !== undefined) finish(v);
      });
    });
    const timer = setTimeout(() => finish(check()), deadline);
  });
}

export function createFluxTool(ctx: Ctx, flux: FluxController): (call: ToolCall) => Promise<ToolResult> {
  const installComponents = async (o: Out, version: string, timeoutMs: number): Promise<string | undefined> => {
    if (!/^v?2\.\d+\.\d+$/.test(version)) return `install failed: failed to download manifests from https://github.com/fluxcd/flux2/releases/download/${version}/install.yaml: 404 Not Found`;
    for (const line of writeFluxComponents(ctx, version, "crds")) o.stdout += `${line}\n`;
    const established = await until(ctx, timeoutMs, () =>
      FLUX_INSTALL_KINDS.every((k) => crdEstablished(ctx.get("customresourcedefinitions", `${k.plural}.${k.group}`))) ? true : undefined,
    );
    if (!established) return "install failed: timeout waiting for CustomResourceDefinitions to become Established";
    for (const line of writeFluxComponents(ctx, version, "deployments")) o.stdout += `${line}\n`;
    o.step("◎", "verifying installation");
    const deployments = Object.keys(FLUX_COMPONENTS).map((name) => ({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name, namespace: FLUX_NS } }) as KObj);
    const pending = await waitReady(ctx, deployments, timeoutMs);
    for (const name of Object.keys(FLUX_COMPONENTS).sort()) {
      if (pending.some((p) => p.includes(`/${name}.`))) return `install failed: timeout waiting for: [Deployment/${FLUX_NS}/${name} status: 'InProgress']`;
      o.step("✔", `${name}: deployment ready`);
    }
    return undefined;
  };

  const waitFor = async (kind: { group: string; resource: string }, name: string, ns: string, requestedAt: string | undefined, timeoutMs: number) =>
    await until(ctx, timeoutMs, () => {
      const obj = ctx.get(kind, name, ns);
      if (!obj) return undefined;
      if (requestedAt && obj.status?.lastHandledReconcileAt !== requestedAt) return undefined;
      if ((obj.status?.observedGeneration ?? 0) < (obj.metadata.generation ?? 1)) return undefined;
      const r = readyCond(obj);
      if (!r || r.status === "Unknown") return undefined;
      return { obj, ready: r };
    });

  return async (call) => {
    const p = parse(call.argv);
    if (typeof p === "string") return { stdout: "", stderr: `✗ ${p}\n`, exitCode: 1 };
    const o = new Out();
    const [cmd, ...rest] = p.positional;
    const ns = p.flags.get("namespace") ?? FLUX_NS;
    const timeoutText = p.flags.get("timeout") ?? "5m0s";
    const timeoutMs = parseGoDuration(timeoutText);
    if (timeoutMs === null) return o.fail(`invalid argument "${timeoutText}" for "--timeout" flag: time: invalid duration "${timeoutText}"`);
    if (p.flags.has("version") && cmd === undefined) {
      o.stdout += `flux version ${FLUX_VERSION.slice(1)}\n`;
      return o.ok();
    }
    if (cmd !== "version" && cmd !== undefined && !call.env.KUBECONFIG && !p.flags.has("kubeconfig")) {
      return o.fail('Get "http://localhost:8080/api?timeout=32s": dial tcp [::1]:8080: connect: connection refused');
    }
    const k8sVersion = (() => {
      const n = ctx.list("nodes")[0];
      const v = (n?.status?.nodeInfo?.kubeletVersion as string | undefined) ?? (ctx.host as { kubernetesVersion?: string }).kubernetesVersion ?? "v1.32.0";
      return v.replace(/^v/, "");
    })();

    switch (cmd) {
      case undefined:
        o.stdout += "Command line utility for assembling Kubernetes CD pipelines the GitOps way.\n";
        return o.ok();
      case "version":
        o.stdout += `flux: ${FLUX_VERSION}\n`;
        if (!p.flags.has("client")) {
          const sc = ctx.get("deployments", "source-controller", FLUX_NS);
          if (sc) {
            o.stdout += `distribution: flux-${sc.metadata.labels?.["app.kubernetes.io/version"] ?? FLUX_VERSION}\n`;
            for (const [name, image] of Object.entries(FLUX_COMPONENTS)) if (ctx.get("deployments", name, FLUX_NS)) o.stdout += `${name}: ${image.split(":")[1]}\n`;
          }
        }
        return o.ok();
      case "check": {
        o.step("►", "checking prerequisites");
        const [maj, min] = k8sVersion.split(".").map(Number);
        if ((maj ?? 0) < 1 || (maj === 1 && (min ?? 0) < 30)) return o.fail(`Kubernetes ${k8sVersion} <1.30.0-0 (flux ${FLUX_VERSION} needs >=1.30.0-0)`);
        o.step("✔", `Kubernetes ${k8sVersion} >=1.30.0-0`);
        if (p.flags.has("pre")) {
          o.step("✔", "prerequisites checks passed");
          return o.ok();
        }
        o.step("►", "checking version in cluster");
        const sc = ctx.get("deployments", "source-controller", FLUX_NS);
        if (!sc) return o.fail(`no deployments found in ${FLUX_NS} namespace`);
        o.step("✔", `distribution: flux-${sc.metadata.labels?.["app.kubernetes.io/version"] ?? FLUX_VERSION}`);
        o.step("✔", `bootstrapped: ${ctx.get({ group: "source.toolkit.fluxcd.io", resource: "gitrepositories" }, "flux-system", FLUX_NS) ? "true" : "false"}`);
        o.step("►", "checking controllers");
        let bad = false;
        for (const [name, image] of Object.entries(FLUX_COMPONENTS)) {
          const d = ctx.get("deployments", name, FLUX_NS);
          if (!d) continue;
          if (notReady(ctx, [d]).length > 0) {
            o.step("✗", `${name}: deployment not ready`);
            bad = true;
          } else o.step("✔", `${name}: deployment ready`);
          o.step("►", image);
        }
        o.step("►", "checking crds");
        for (const k of [...FLUX_INSTALL_KINDS].sort((a, b) => `${a.plural}.${a.group}`.localeCompare(`${b.plural}.${b.group}`))) {
          if (ctx.get("customresourcedefinitions", `${k.plural}.${k.group}`)) o.step("✔", `${k.plural}.${k.group}/${k.version}`);
        }
        if (bad) return o.fail("check failed");
        o.step("✔", "all checks passed");
        return o.ok();
      }
      case "install": {
        const version = p.flags.get("version") ?? FLUX_VERSION;
        o.step("✚", "generating manifests");
        o.step("✔", "manifests build completed");
        o.step("►", `installing components in ${FLUX_NS} namespace`);
        const err = await installComponents(o, version.startsWith("v") ? version : `v${version}`, timeoutMs);
        if (err) return o.fail(err);
        o.step("✔", "install finished");
        return o.ok();
      }
      case "bootstrap": {
        const provider = rest[0];
        if (provider !== "github") return o.fail(`the simulated cluster supports "flux bootstrap github" only`);
        const owner = p.flags.get("owner");
        const repository = p.flags.get("repository");
        if (!owner || !repository) return o.fail("--owner and --repository are required");
        const branch = p.flags.get("branch") ?? "main";
        const repoPath = (p.flags.get("path") ?? ".").replace(/^\.\//, "").replace(/\/$/, "");
        let token = call.env.GITHUB_TOKEN ?? "";
        if (!token) {
          o.stdout += "Please enter your GitHub personal access token (PAT): ";
          token = call.stdin.split("\n")[0]?.trim() ?? "";
          o.stdout += "\n";
        }
        if (!token) return o.fail("could not read token: EOF");
        const tokenAuth = p.flags.has("token-auth");
        const url = tokenAuth ? `https://github.com/${owner}/${repository}.git` : `ssh://git@github.com/${owner}/${repository}`;
        o.step("►", "connecting to github.com");
        o.step("►", `cloning branch "${branch}" from Git repository "https://github.com/${owner}/${repository}.git"`);
        o.step("✔", "cloned repository");
        o.step("►", "generating component manifests");
        o.step("✔", "generated component manifests");
        o.step("✔", "component manifests are up to date");
        o.step("►", `installing components in "${FLUX_NS}" namespace`);
        const err = await installComponents(new Out(), FLUX_VERSION, timeoutMs);
        if (err) return o.fail(err);
        o.step("✔", "installed components");
        o.step("✔", "reconciled components");
        o.step("►", `determining if source secret "${FLUX_NS}/flux-system" exists`);
        o.step("►", "generating source secret");
        const data: Record<string, string> = tokenAuth
          ? { username: Buffer.from("git").toString("base64"), password: Buffer.from(token).toString("base64") }
          : (() => {
              const pub = `ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQ${Buffer.from(crypto.getRandomValues(new Uint8Array(48))).toString("base64")}`;
              const priv = `-----BEGIN OPENSSH PRIVATE KEY-----\n${Buffer.from(crypto.getRandomValues(new Uint8Array(96))).toString("base64")}\n-----END OPENSSH PRIVATE KEY-----\n`;
              o.step("✔", `public key: ${pub}`);
              o.step("✔", `configured deploy key "flux-system-${branch}-flux-system-./${repoPath}" for "https://github.com/${owner}/${repository}"`);
              return {
                identity: Buffer.from(priv).toString("base64"),
                "identity.pub": Buffer.from(`${pub}\n`).toString("base64"),
                known_hosts: Buffer.from("github.com ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg=\n").toString("base64"),
              };
            })();
        o.step("►", `applying source secret "${FLUX_NS}/flux-system"`);
        ctx.store.apply({ apiVersion: "v1", kind: "Secret", type: "Opaque", metadata: { name: "flux-system", namespace: FLUX_NS }, data }, { fieldManager: "flux", force: true });
        o.step("✔", "reconciled source secret");
        o.step("►", "generating sync manifests");
        o.step("✔", "generated sync manifests");
        o.step("✔", "sync manifests are up to date");
        o.step("►", "applying sync manifests");
        ctx.store.apply({ apiVersion: "source.toolkit.fluxcd.io/v1", kind: "GitRepository", metadata: { name: "flux-system", namespace: FLUX_NS }, spec: { interval: "1m0s", ref: { branch }, secretRef: { name: "flux-system" }, url } }, { fieldManager: "flux", force: true });
        ctx.store.apply({ apiVersion: "kustomize.toolkit.fluxcd.io/v1", kind: "Kustomization", metadata: { name: "flux-system", namespace: FLUX_NS }, spec: { interval: "10m0s", path: `./${repoPath}`, prune: true, sourceRef: { kind: "GitRepository", name: "flux-system" } } }, { fieldManager: "flux", force: true });
        o.step("✔", "reconciled sync configuration");
        o.step("◎", `waiting for GitRepository "${FLUX_NS}/flux-system" to be reconciled`);
        const src = await waitFor(SOURCES.git!, "flux-system", FLUX_NS, undefined, timeoutMs);
        if (!src || src.ready.status !== "True") return o.fail(`gitrepository 'flux-system/flux-system' not ready: '${src?.ready.message ?? "timeout waiting for condition"}'`);
        o.step("✔", "GitRepository reconciled successfully");
        o.step("◎", `waiting for Kustomization "${FLUX_NS}/flux-system" to be reconciled`);
        const ks = await waitFor(KS, "flux-system", FLUX_NS, undefined, timeoutMs);
        if (!ks || ks.ready.status !== "True") return o.fail(`kustomization 'flux-system/flux-system' not ready: '${ks?.ready.message ?? "timeout waiting for condition"}'`);
        o.step("✔", "Kustomization reconciled successfully");
        o.step("►", "confirming components are healthy");
        for (const name of Object.keys(FLUX_COMPONENTS).sort()) o.step("✔", `${name}: deployment ready`);
        o.step("✔", "all components are healthy");
        return o.ok();
      }
      case "reconcile": {
        const { kind, name, label } = resolveKind(rest);
        if (!kind) return o.fail(`unknown resource "${rest.join(" ")}"`);
        if (!name) return o.fail(`${label} name is required`);
        const obj = ctx.get(kind, name, ns);
        if (!obj) return o.fail(`${label}.${kind.group} "${name}" not found`);
        if (obj.spec?.suspend) return o.fail("resource is suspended");
        if (!fluxRunning(ctx)) return o.fail(`Get "http://source-controller.${FLUX_NS}": no Flux controllers are running`);
        if (p.flags.has("with-source") && label !== "GitRepository") {
          const ref = (obj.spec?.sourceRef ?? obj.spec?.chart?.spec?.sourceRef ?? {}) as { kind?: string; name?: string; namespace?: string };
          const srcKind = Object.values(SOURCES).find((s) => s.kind === ref.kind);
          if (srcKind && ref.name) {
            const at = new Date().toISOString();
            o.step("►", `annotating ${ref.kind} ${ref.name} in ${ref.namespace ?? ns} namespace`);
            ctx.store.patch(srcKind, ref.name, ref.namespace ?? ns, { metadata: { annotations: { "reconcile.fluxcd.io/requestedAt": at } } }, { type: "merge", fieldManager: "flux" });
            o.step("✔", `${ref.kind} annotated`);
            o.step("◎", `waiting for ${ref.kind} reconciliation`);
            const s = await waitFor(srcKind, ref.name, ref.namespace ?? ns, at, timeoutMs);
            if (!s) return o.fail(`timeout waiting for ${ref.kind} reconciliation`);
            if (s.ready.status !== "True") return o.fail(s.ready.message);
            o.step("✔", `fetched revision ${s.obj.status?.artifact?.revision ?? ""}`);
          }
        }
        const at = new Date().toISOString();
        o.step("►", `annotating ${label} ${name} in ${ns} namespace`);
        ctx.store.patch(kind, name, ns, { metadata: { annotations: { "reconcile.fluxcd.io/requestedAt": at } } }, { type: "merge", fieldManager: "flux" });
        o.step("✔", `${label} annotated`);
        o.step("◎", `waiting for ${label} reconciliation`);
        const r = await waitFor(kind, name, ns, at, timeoutMs);
        if (!r) return o.fail(`timeout waiting for ${label} reconciliation`);
        if (r.ready.status !== "True") return o.fail(r.ready.message);
        if (label === "Kustomization") o.step("✔", `applied revision ${r.obj.status?.lastAppliedRevision ?? ""}`);
        else if (label === "HelmRelease") o.step("✔", `applied revision ${r.obj.status?.lastAttemptedRevision ?? ""}`);
        else o.step("✔", `fetched revision ${r.obj.status?.artifact?.revision ?? ""}`);
        return o.ok();
      }
      case "suspend":
      case "resume": {
        const { kind, name, label } = resolveKind(rest);
        if (!kind) return o.fail(`unknown resource "${rest.join(" ")}"`);
        const all = p.flags.has("all");
        const allNs = p.flags.has("all-namespaces");
        if (!name && !all) return o.fail(`${label} name is required`);
        const targets = all ? ctx.list(kind, allNs ? undefined : ns) : [ctx.get(kind, name ?? "", ns)].filter((x): x is KObj => x !== undefined);
        if (!all && targets.length === 0) return o.fail(`${label}.${kind.group} "${name}" not found`);
        if (all && targets.length === 0) {
          o.step("✗", `no ${label} objects found in ${allNs ? "any" : ns} namespace`);
          return o.ok();
        }
        const suspend = cmd === "suspend";
        const lower = label.toLowerCase();
        const stamps: [KObj, string][] = [];
        for (const t of targets) {
          o.step("►", `${suspend ? "suspending" : "resuming"} ${lower} ${t.metadata.name} in ${t.metadata.namespace} namespace`);
          const at = new Date().toISOString();
          ctx.store.patch(kind, t.metadata.name, t.metadata.namespace, { spec: { suspend: suspend ? true : null }, ...(suspend ? {} : { metadata: { annotations: { "reconcile.fluxcd.io/requestedAt": at } } }) }, { type: "merge", fieldManager: "flux" });
          o.step("✔", `${lower} ${suspend ? "suspended" : "resumed"}`);
          stamps.push([t, at]);
        }
        if (!suspend && p.flags.get("wait") !== "false") {
          for (const [t, at] of stamps) {
            o.step("◎", `waiting for ${label} reconciliation`);
            const r = await waitFor(kind, t.metadata.name, t.metadata.namespace ?? ns, at, timeoutMs);
            if (!r) return o.fail(`timeout waiting for ${label} reconciliation`);
            if (r.ready.status !== "True") return o.fail(r.ready.message);
            o.step("✔", `${label} reconciliation completed`);
            if (label === "Kustomization") o.step("✔", `applied revision ${r.obj.status?.lastAppliedRevision ?? ""}`);
          }
        }
        return o.ok();
      }
      case "get": {
        const { kind, name, label } = resolveKind(rest);
        if (!kind) return o.fail(`unknown resource "${rest.join(" ")}"`);
        if (!ctx.store.kinds.tryResolve(kind)) return o.fail(`no matches for kind "${label}" in group "${kind.group}"`);
        const allNs = p.flags.has("all-namespaces");
        const items = ctx.list(kind, allNs ? undefined : ns).filter((x) => !name || x.metadata.name === name);
        if (items.length === 0) {
          if (name) return o.fail(`${label} object '${name}' not found in "${ns}" namespace`);
          o.step("✗", `no ${label} objects found in ${allNs ? "any" : `"${ns}"`} namespace`);
          return o.ok();
        }
        const head = ["NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE"];
        const rows = items.map((x) => {
          const r = readyCond(x);
          const revision = (x.status?.lastAppliedRevision ?? x.status?.artifact?.revision ?? x.status?.lastAttemptedRevision ?? "") as string;
          return [x.metadata.name, revision, x.spec?.suspend ? "True" : "False", r?.status ?? "Unknown", r?.message ?? "waiting to be reconciled"];
        });
        const withNs = allNs ? items.map((x, i) => [x.metadata.namespace ?? "", ...(rows[i] ?? [])]) : rows;
        o.stdout += tab([allNs ? ["NAMESPACE", ...head] : head, ...withNs]);
        return o.ok();
      }
      default:
        return o.fail(`unknown command "${cmd}" for "flux"`);
    }
  };

  function resolveKind(args: string[]): { kind?: { group: string; resource: string }; name?: string; label: string } {
    const [a, b, c] = args;
    if (a === "ks" || a === "kustomization" || a === "kustomizations") return { kind: KS, ...(b ? { name: b } : {}), label: "Kustomization" };
    if (a === "hr" || a === "helmrelease" || a === "helmreleases") return { kind: HR, ...(b ? { name: b } : {}), label: "HelmRelease" };
    if (a === "source" || a === "sources") {
      const s = SOURCES[b ?? ""];
      if (s) return { kind: s, ...(c ? { name: c } : {}), label: s.kind };
    }
    void flux;
    return { label: a ?? "" };
  }
}
