import { defineScript, ExitCode, WAIT_FLAGS } from "../lib/cli/index.ts";

export default defineScript(import.meta, {
  name: "bootstrap-1password-secrets",
  area: "bootstrap",
  summary: "write the 1Password Connect credentials and token Secrets from 1Password (--check: validate them)",
  description: `
Reads the 1Password Connect credentials file and token with \`op read\` (values stay in memory: never on a command
line, in a log or a file) and writes them as Kubernetes Secrets through the API, where the repo says they belong:
the Connect chart's connect.credentialsName/credentialsKey values and the ClusterSecretStore's
connectTokenSecretRef. The credentials are stored the way Connect reads them: the JSON file base64-encoded once
in the Secret's value (which the API encodes again), refusing a truncated or double-encoded item.
References: op://$OP_VAULT/1password-connect/{credentials,token}, or $OP_CONNECT_CREDENTIALS_REF / $OP_CONNECT_TOKEN_REF.
--check changes nothing: it verifies 1Password answers, the items have the right shape, and the Secrets on the
cluster exist, decode correctly and match 1Password.`,
  replaces: ["bootstrap:1password-secrets", "bootstrap:secrets", "bootstrap:k8s-secrets", "bootstrap:validate-1password-secrets"],
  live: true,
  mutates: true,
  flags: {
    check: { type: "boolean", description: "validate instead of write (exit 1 when anything is wrong)" },
    ...WAIT_FLAGS,
  },
  examples: ["bun scripts/bootstrap-1password-secrets.ts", "bun scripts/bootstrap-1password-secrets.ts --check", "bun scripts/bootstrap-1password-secrets.ts --dry-run"],
  async run(rc) {
    // loaded here, not at the top: --help and flag errors answer without the library
    const [
      { applyConnectSecrets, secretsState },
      { bootstrapContext },
      { CONNECT_CREDENTIALS, CONNECT_TOKEN, connectCredentialsTarget, connectCredentialsValue, connectTokenTarget, readSecret, referenceOf, requireOpSignedIn },
    ] = await Promise.all([
      import("../lib/bootstrap/phases/core.ts"),
      import("../lib/bootstrap/script.ts"),
      import("../lib/bootstrap/secrets.ts"),
    ]);
    const { out, json } = rc;
    const ctx = bootstrapContext(rc, rc.flags);
    try {
      const kube = await ctx.kube();
      if (!rc.flags.check) {
        await applyConnectSecrets(ctx, kube);
        if (rc.dryRun) {
          if (json) out.result({ ok: true, dryRun: true });
          else out.line("dry run: nothing was changed");
          return ExitCode.ok;
        }
      }
      const checks: Array<{ check: string; ok: boolean; detail: string }> = [];
      await requireOpSignedIn(ctx.exec);
      checks.push({ check: "1Password CLI signed in", ok: true, detail: "op whoami answered" });
      const ct = connectCredentialsTarget(ctx.model);
      const tt = connectTokenTarget(ctx.model);
      let expectedCreds: string | undefined;
      let expectedToken: string | undefined;
      try {
        const raw = await readSecret(ctx.exec, CONNECT_CREDENTIALS, ctx.env);
        expectedCreds = ctx.exec.secret(connectCredentialsValue(raw.reveal()), "connect-credentials").reveal();
        checks.push({ check: `credentials in 1Password (${referenceOf(CONNECT_CREDENTIALS, ctx.env)})`, ok: true, detail: "a 1password-credentials.json file" });
      } catch (e) {
        checks.push({ check: `credentials in 1Password (${referenceOf(CONNECT_CREDENTIALS, ctx.env)})`, ok: false, detail: (e as Error).message });
      }
      try {
        expectedToken = (await readSecret(ctx.exec, CONNECT_TOKEN, ctx.env)).reveal();
        checks.push({ check: `token in 1Password (${referenceOf(CONNECT_TOKEN, ctx.env)})`, ok: true, detail: "present" });
      } catch (e) {
        checks.push({ check: `token in 1Password (${referenceOf(CONNECT_TOKEN, ctx.env)})`, ok: false, detail: (e as Error).message });
      }
      const st = await secretsState(ctx, kube);
      checks.push({ check: `Secret ${st.credentials.where}`, ok: st.credentials.ok, detail: st.credentials.detail });
      checks.push({ check: `Secret ${st.token.where}`, ok: st.token.ok, detail: st.token.detail });
      const credsLive = await kube.get({ apiVersion: "v1", kind: "Secret" }, ct.name, ct.namespace);
      const tokenLive = await kube.get({ apiVersion: "v1", kind: "Secret" }, tt.name, tt.namespace);
      const decode = (v: string | undefined) => (v === undefined ? undefined : Buffer.from(v, "base64").toString("utf8"));
      if (st.credentials.ok && expectedCreds !== undefined) {
        const same = decode(credsLive?.data?.[ct.key]) === expectedCreds;
        checks.push({ check: `Secret ${st.credentials.where} matches 1Password`, ok: same, detail: same ? "same value" : "differs: run without --check to rewrite it" });
      }
      if (st.token.ok && expectedToken !== undefined) {
        const same = decode(tokenLive?.data?.[tt.key]) === expectedToken;
        checks.push({ check: `Secret ${st.token.where} matches 1Password`, ok: same, detail: same ? "same value" : "differs: run without --check to rewrite it" });
      }
      const ok = checks.every((c) => c.ok);
      if (json) out.result({ ok, checks });
      else {
        out.printTable(["check", "result", "detail"], checks.map((c) => [c.check, out.mark(c.ok ? "ok" : "fail"), c.detail]));
        out.line(ok ? "1Password Connect secrets are in place and match 1Password" : "some checks failed (above)");
      }
      return ok ? ExitCode.ok : ExitCode.failed;
    } finally {
      ctx.close();
    }
  },
});
