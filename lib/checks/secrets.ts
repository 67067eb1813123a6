import { existsSync, readFileSync } from "node:fs";
import { isTalhelperRepo } from "./talos.ts";
import { miseFiles } from "../repo/load.ts";
import type { ClusterModel } from "../repo/model.ts";
import { FileResultCache, GitIgnore, lineAt, listRepoFiles, modelText, readText, repoOnce } from "./files.ts";
import { at } from "./locate.ts";
import { finding, type Finding } from "./types.ts";

/**
 * secrets: nothing secret in git. Secret manifests with data, private keys and tokens found by pattern, literal
 * passwords in YAML, and a .gitignore that keeps talhelper output, kubeconfig, talosconfig and .env out.
 */

interface Pattern {
  id: string;
  what: string;
  re: RegExp;
}

// Assembled from parts so this file does not match itself.
const DASHES = "-".repeat(5);
const PATTERNS: Pattern[] = [
    // the header and key material after it: a PEM header alone is a template (simulators, docs), not a key
  { id: "secrets/private-key", what: "a private key", re: new RegExp(`${DASHES}BEGIN ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?${DASHES}(\\s|\\\\n)+([A-Za-z0-9+/=]{4,}:[^\\n]*\\n)*[A-Za-z0-9+/=]{40,}`, "g") },
  { id: "secrets/token", what: "a GitHub token", re: /\b(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})\b/g },
  { id: "secrets/token", what: "an AWS access key id", re: /\b(AKIA|ASIA)[0-9A-Z]{16}\b/g },
  { id: "secrets/token", what: "a Slack token", re: /\bxox[abposr]-[A-Za-z0-9-]{10,}\b/g },
  { id: "secrets/token", what: "a JSON Web Token (1Password Connect and most API tokens are JWTs)", re: /\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/g },
  { id: "secrets/token", what: "a Kubernetes/Talos bootstrap token", re: /\b[a-z0-9]{6}\.[a-z0-9]{16}\b/g },
  { id: "secrets/token", what: "a 1Password service-account token", re: /\bops_eyJ[A-Za-z0-9_-]{20,}/g },
];

/** `password: <literal>` and friends in YAML / env files: a value that looks random enough to be a real secret. */
const KEYED = /^\s*-?\s*["']?([A-Za-z0-9_.-]*(?:password|passwd|secret|token|apikey|api_key|api-key|privatekey|private_key|secretboxencryptionsecret|aescbcencryptionsecret))["']?\s*[:=]\s*["']?([^\s"'#]+)["']?\s*(?:#.*)?$/i;

/**
 * References, not values: `${VAR}` / `$${VAR}` (Flux substitution, escaped for the app), `$(VAR)` (Kubernetes env
 * expansion), `{{ }}` templates, `{env:VAR}` (opencode), `os.environ/VAR` (LiteLLM), `op://` (1Password), SOPS.
 */
const PLACEHOLDER = /^(\$\$?\{|\$\(|\{\{|\{env:|os\.environ\/|<|op:\/\/|ref\+|ENC\[|\*|&|!)/;

/**
 * The whole value names an environment variable the app reads at run time: `$NAME` (Grafana provisioning, shells),
 * `env:NAME` (Komf and others), `${env:NAME}`; NAME in the POSIX shape of variable names (upper case, digits, `_`).
 */
const ENV_REFERENCE = /^(\$|env:)[A-Z_][A-Z0-9_]*$|^\$\{env:[A-Z_][A-Z0-9_]*\}$/;

function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/** A literal that is probably a credential rather than a name like `authentik-secret` or `password`. */
export function looksLikeSecretValue(v: string): boolean {
  if (v.length < 16 || PLACEHOLDER.test(v) || ENV_REFERENCE.test(v)) return false;
  if (/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(v)) return false; // a kebab-case name
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(v) && !/\d/.test(v)) return false; // an identifier
  if (/^(true|false|null|\d+)$/i.test(v)) return false;
  if (/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$/.test(v)) return false; // an environment variable's name
  return entropy(v) >= 3.5;
}

const TEXT_EXT = /\.(ya?ml|json5?|toml|ts|js|mjs|sh|env|md|txt|conf|cfg|ini|tpl|j2|jinja2|pem|key|crt)$|(^|\/)(\.env[^/]*|[^/.]+)$/i;
const KEYED_EXT = /\.(ya?ml|toml|env|conf|ini)$|(^|\/)\.env[^/]*$/i;
const MAX_SCAN_BYTES = 2_000_000;

/** One cheap pass that every pattern needs to hit before the precise ones run. */
const PREFILTER = /PRIVATE KEY|gh[pousr]_|github_pat_|AKIA|ASIA|xox[abposr]-|eyJ|\.[a-z0-9]{16}\b/;
const KEYWORDS = /password|passwd|secret|token|api.?key|private.?key|encryptionsecret/i;

/** A scan finding's fix names the secret store this way; secretsCheck puts the repo's own store in its place. */
const ANY_STORE = "the repo's secret store";

export function scanText(file: string, text: string): Finding[] {
  const out: Finding[] = [];
  if (PREFILTER.test(text)) for (const p of PATTERNS) {
    p.re.lastIndex = 0;
    for (const m of text.matchAll(p.re)) {
      out.push(
        finding(p.id, "error", { file, line: lineAt(text, m.index ?? 0) }, `${p.what} is committed in this file`, `remove it, rotate it, and load it from ${ANY_STORE} (an ExternalSecret, or read at run time)`),
      );
    }
  }
  if (KEYED_EXT.test(file) && KEYWORDS.test(text)) {
    const lines = text.split("\n");
    lines.forEach((l, i) => {
      if (!KEYWORDS.test(l)) return; // every KEYED key holds one of the keywords: the cheap test first
      const m = KEYED.exec(l);
      if (m && looksLikeSecretValue(m[2]!))
        out.push(
          finding("secrets/literal", "error", { file, line: i + 1 }, `\`${m[1]}\` holds what looks like a literal secret`, `move the value to ${ANY_STORE} and reference it (an ExternalSecret, a \${VAR} substitution, or the store's own reference such as op://)`),
        );
    });
  }
  return out;
}

function secretManifests(model: ClusterModel): Finding[] {
  const out: Finding[] = [];
  for (const d of model.documents) {
    if (d.kind !== "Secret" || typeof d.object !== "object" || d.object === null) continue;
    const o = d.object as Record<string, unknown>;
    if ("sops" in o) continue; // SOPS-encrypted: values are ciphertext
    for (const key of ["data", "stringData"] as const) {
      const v = o[key];
      // stringData made only of `op://` references is filled in by 1Password at apply time
      const onlyRefs = key === "stringData" && v && typeof v === "object" && Object.values(v).every((x) => typeof x === "string" && /^op:\/\//.test(x.trim()));
      if (v && typeof v === "object" && Object.keys(v).length > 0 && !onlyRefs) {
        out.push(
          finding("secrets/secret-manifest", "error", { file: d.file, line: lineOfKey(d, [key]) }, `Secret ${d.namespace ? d.namespace + "/" : ""}${d.name ?? "?"} carries \`${key}\` in git`, `replace it with an ExternalSecret that reads the values from ${storeFor(model, d.namespace)}`),
        );
      }
    }
  }
  return out;
}

/**
 * The secret store an ExternalSecret in `namespace` would read from, as the repo defines it: a SecretStore of that
 * namespace, else the ClusterSecretStore its ExternalSecrets use most; generic when the repo defines none.
 */
function storeFor(model: ClusterModel, namespace: string | undefined): string {
  const stores = model.secretStores;
  const uses = (s: (typeof stores)[number]) => model.externalSecrets.filter((e) => e.storeRef?.kind === s.kind && e.storeRef.name === s.name).length;
  const store =
    stores.find((s) => s.kind === "SecretStore" && namespace !== undefined && s.namespace === namespace) ??
    stores.filter((s) => s.kind === "ClusterSecretStore").sort((a, b) => uses(b) - uses(a))[0];
  if (!store) return "the repo's secret store (an External Secrets SecretStore or ClusterSecretStore), or encrypt the file with SOPS";
  return `the ${store.kind} \`${store.name}\`${store.provider ? ` (${store.provider})` : ""}`;
}

function lineOfKey(d: ClusterModel["documents"][number], path: string[]): number {
  return at(d, path).line;
}

/** Files that must never be committed, and a sample path for each, checked against the root .gitignore. */
/** talhelper: only where talhelper writes output; env: only where the repo uses a .env (mise `_.file`, a .env.example). */
export const MUST_IGNORE: Array<{ what: string; sample: string; talhelper?: true; env?: true }> = [
  { what: "talhelper output (clusterconfig/)", sample: "clusterconfig/home-ops-node.yaml", talhelper: true },
  { what: "talhelper output (talos/clusterconfig/)", sample: "talos/clusterconfig/home-ops-node.yaml", talhelper: true },
  { what: "talosconfig", sample: "clusterconfig/talosconfig", talhelper: true },
  { what: "kubeconfig", sample: "kubeconfig" },
  { what: "talosconfig", sample: "talosconfig" },
  { what: ".env", sample: ".env", env: true },
  { what: "the Talos secrets bundle", sample: "talos/talsecret.yaml", talhelper: true },
];

/** `talhelper`: the repo generates talhelper output (a repo without talos/talconfig.yaml never writes clusterconfig/). */
export function gitignoreCheck(root: string, talhelper = true): Finding[] {
  const text = readText(`${root}/.gitignore`);
  const ig = new GitIgnore(text ?? "");
  const usesEnv = existsSync(`${root}/.env.example`) || miseFiles(root).some((f) => /(^|[\s"'=])\.env\b/m.test(readText(`${root}/${f}`) ?? ""));
  const missing = MUST_IGNORE.filter((m) => (talhelper || !m.talhelper) && (usesEnv || !m.env) && !ig.ignores(m.sample));
  if (missing.length === 0) return [];
  return [
    finding(
      "secrets/gitignore",
      "error",
      { file: ".gitignore", line: 0 },
      `.gitignore does not cover ${[...new Set(missing.map((m) => m.what))].join(", ")}`,
      `add ignore lines for ${missing.map((m) => m.sample).join(", ")}`,
    ),
  ];
}

/** The scan's rules, as a cache salt: results found by other rules are never reused. */
let rulesSalt: string | undefined;
export function secretsScanSalt(): string {
  return (rulesSalt ??= `secrets-scan|${Bun.hash(readFileSync(import.meta.path, "utf8")).toString(36)}`);
}

/** A cache for the scan's per-file results (scripts/validate.ts: .home-ops/cache/validate-secrets.json). */
export function secretsScanCache(file: string): FileResultCache<Finding[]> {
  return new FileResultCache<Finding[]>(file, secretsScanSalt());
}

/** `cache`: reuse the scan results of files unchanged since the last run (validate's warm path). */
export function secretsCheck(model: ClusterModel, cache?: FileResultCache<Finding[]>): Finding[] {
  const out: Finding[] = [...secretManifests(model), ...gitignoreCheck(model.root, isTalhelperRepo(model))];
  // every committed file, whichever cluster it belongs to: scanned once for all the repo's clusters
  const scanned = repoOnce(model, "secrets/scan", () => {
    const found: Finding[] = [];
    const scan = (rel: string): Finding[] => {
      const text = modelText(model, rel);
      if (text === undefined || text.length > MAX_SCAN_BYTES || text.includes("\u0000")) return [];
      return scanText(rel, text);
    };
    for (const f of listRepoFiles(model.root)) {
      if (!TEXT_EXT.test(f.rel)) continue;
      found.push(...(cache ? cache.get(f.rel, f.abs, () => scan(f.rel)) : scan(f.rel)));
    }
    return found;
  });
  // the scan sees one file's text (and is cached per file): the store it names is the repo's, filled in here
  const store = storeFor(model, undefined);
  const named = store.startsWith(ANY_STORE) ? scanned : scanned.map((f) => (f.fix.includes(ANY_STORE) ? { ...f, fix: f.fix.replace(ANY_STORE, store) } : f));
  return [...out, ...named];
}
