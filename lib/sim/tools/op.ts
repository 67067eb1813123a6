/**
 * The 1Password CLI (`op` 2.x) stand-in over SimVault: `op read op://vault/item/field`, `op item get`, `op item
 * list`, `op vault list`, `op whoami`, `op --version`. Values only ever go to stdout; errors look like the real CLI's
 * (`[ERROR] YYYY/MM/DD HH:MM:SS ...`, exit 1), including the signed-out one.
 */
import type { Faults } from "../faults.ts";
import { tabwrite } from "../talos-format.ts";
import { FlagParseError, type ToolCall, type ToolResult, fail, ok, parsePflags } from "../tools.ts";
import type { SimVault, VaultItem } from "../vault.ts";

export const OP_VERSION = "2.31.1";

export interface OpHost {
  vault: SimVault;
  faults: Faults;
  /** the version it reports (default OP_VERSION) */
  version?: string;
}

function opError(message: string): ToolResult {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, "0");
  const stamp = `${d.getFullYear()}/${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  return fail(`[ERROR] ${stamp} ${message}`);
}

const NOT_SIGNED_IN = "You are not currently signed in. Please run `op signin --help` for instructions";

export function opHandler(host: OpHost) {
  return async (call: ToolCall): Promise<ToolResult> => {
    const argv = call.argv;
    if (argv[0] === "--version" || argv[0] === "-v") return ok(`${host.version ?? OP_VERSION}\n`);
    const signedIn = host.vault.signedIn && !host.faults.opSignedOut;
    try {
      const [cmd, sub] = argv;
      if (cmd === "whoami") {
        if (!signedIn) return opError("account is not signed in");
        const sa = !!call.env.OP_SERVICE_ACCOUNT_TOKEN;
        return ok(
          tabwrite([
            ["URL:", `https://${host.vault.account}`],
            ["Email:", sa ? "" : host.vault.email],
            ["User ID:", host.vault.userId],
            ["User Type:", sa ? "SERVICE_ACCOUNT" : "HUMAN"],
          ]).replace(/ +\n/g, "\n"),
        );
      }
      if (!signedIn) return opError(NOT_SIGNED_IN);
      if (cmd === "read") return read(host, argv.slice(1));
      if (cmd === "item" && sub === "get") return itemGet(host, argv.slice(2));
      if (cmd === "item" && sub === "list") return itemList(host, argv.slice(2));
      if (cmd === "vault" && sub === "list") return vaultList(host, argv.slice(2));
      if (cmd === "signin") return ok("");
      return opError(`unknown command "${[cmd, sub].filter(Boolean).join(" ")}" for "op"`);
    } catch (e) {
      if (e instanceof FlagParseError) return opError(e.message);
      throw e;
    }
  };
}

function read(host: OpHost, argv: string[]): ToolResult {
  const { flags, positionals } = parsePflags(argv, [
    { name: "no-newline", short: "n", type: "bool" },
    { name: "account", type: "string" },
    { name: "out-file", short: "o", type: "string" },
    { name: "force", short: "f", type: "bool" },
  ]);
  const ref = positionals[0];
  if (!ref) return opError('expected exactly 1 argument, a secret reference, e.g. "op://vault/item/field"');
  if (flags["out-file"]) return opError("writing secrets to files is disabled in the home-ops simulation (use stdout)");
  const m = /^op:\/\/([^/]+)\/([^/]+)\/(?:([^/]+)\/)?([^/?]+)$/.exec(ref);
  if (!m) return opError(`could not read secret '${ref}': invalid secret reference '${ref}': must be of the form op://vault/item/[section/]field`);
  const [, vault, itemRef, , field] = m as unknown as [string, string, string, string | undefined, string];
  if (!host.vault.hasVault(vault))
    return opError(`could not read secret '${ref}': could not get item ${itemRef} from vault ${vault}: "${vault}" isn't a vault in this account. Specify the vault with its ID or name.`);
  const item = host.vault.getItem(vault, itemRef);
  if (!item)
    return opError(`could not read secret '${ref}': could not get item ${itemRef} from vault ${vault}: "${itemRef}" isn't an item in the "${vault}" vault. Specify the item with its UUID, name, or domain.`);
  const f = item.fields.find((x) => x.label === field || x.id === field);
  if (!f) return opError(`could not read secret '${ref}': item '${vault}/${item.title}' does not have a field '${field}'`);
  return ok(flags["no-newline"] === true ? f.value : `${f.value}\n`);
}

function itemJson(item: VaultItem, host: OpHost, fieldsFilter?: string[]): unknown {
  const fields = item.fields
    .filter((f) => !fieldsFilter || fieldsFilter.includes(f.label))
    .map((f) => ({
      id: f.id,
      type: f.type,
      ...(f.purpose ? { purpose: f.purpose } : {}),
      label: f.label,
      value: f.value,
      reference: `op://${item.vault}/${item.title}/${f.label}`,
    }));
  if (fieldsFilter) return fields.length === 1 ? fields[0] : fields;
  return {
    id: item.id,
    title: item.title,
    version: item.version,
    vault: { id: host.vault.vaultIds.get(item.vault), name: item.vault },
    category: item.category,
    last_edited_by: host.vault.userId,
    created_at: item.createdAt,
    updated_at: item.updatedAt,
    fields,
  };
}

function itemGet(host: OpHost, argv: string[]): ToolResult {
  const { flags, positionals } = parsePflags(argv, [
    { name: "vault", type: "string" },
    { name: "format", type: "string" },
    { name: "fields", type: "strings" },
    { name: "reveal", type: "bool" },
    { name: "account", type: "string" },
  ]);
  const ref = positionals[0];
  if (!ref) return opError('expected exactly 1 item (name, ID or share link), e.g. "op item get mysecret"');
  const vault = flags.vault as string | undefined;
  if (vault !== undefined && !host.vault.hasVault(vault))
    return opError(`"${vault}" isn't a vault in this account. Specify the vault with its ID or name.`);
  const item = host.vault.getItem(vault, ref);
  if (!item)
    return opError(`"${ref}" isn't an item${vault ? ` in the "${vault}" vault` : ""}. Specify the item with its UUID, name, or domain.`);
  const labels = (flags.fields as string[] | undefined)?.map((f) => f.replace(/^label=/, ""));
  if (labels) for (const l of labels) if (!item.fields.some((f) => f.label === l)) return opError(`"${l}" isn't a field in the "${item.title}" item`);
  if (flags.format === "json") return ok(JSON.stringify(itemJson(item, host, labels), null, 2) + "\n");
  if (labels) {
    const vals = item.fields.filter((f) => labels.includes(f.label));
    const reveal = flags.reveal === true;
    return ok(vals.map((f) => (f.type === "CONCEALED" && !reveal ? `[use 'op item get ${item.id} --reveal' to reveal]` : f.value)).join(",") + "\n");
  }
  const rows = [
    ["ID:", item.id],
    ["Title:", item.title],
    ["Vault:", `${item.vault} (${host.vault.vaultIds.get(item.vault)})`],
    ["Created:", item.createdAt],
    ["Updated:", item.updatedAt],
    ["Category:", item.category],
  ];
  let out = tabwrite(rows) + "Fields:\n";
  for (const f of item.fields)
    out += `  ${f.label}:    ${f.type === "CONCEALED" && flags.reveal !== true ? `[use 'op item get ${item.id} --reveal' to reveal]` : f.value}\n`;
  return ok(out);
}

function itemList(host: OpHost, argv: string[]): ToolResult {
  const { flags } = parsePflags(argv, [
    { name: "vault", type: "string" },
    { name: "format", type: "string" },
    { name: "account", type: "string" },
    { name: "categories", type: "strings" },
  ]);
  const vault = flags.vault as string | undefined;
  if (vault !== undefined && !host.vault.hasVault(vault))
    return opError(`"${vault}" isn't a vault in this account. Specify the vault with its ID or name.`);
  const items = host.vault.list(vault);
  if (flags.format === "json")
    return ok(
      JSON.stringify(
        items.map((i) => ({
          id: i.id,
          title: i.title,
          version: i.version,
          vault: { id: host.vault.vaultIds.get(i.vault), name: i.vault },
          category: i.category,
          created_at: i.createdAt,
          updated_at: i.updatedAt,
        })),
        null,
        2,
      ) + "\n",
    );
  return ok(tabwrite([["ID", "TITLE", "VAULT", "EDITED"], ...items.map((i) => [i.id, i.title, i.vault, "just now"])]));
}

function vaultList(host: OpHost, argv: string[]): ToolResult {
  const { flags } = parsePflags(argv, [
    { name: "format", type: "string" },
    { name: "account", type: "string" },
  ]);
  const vaults = host.vault.vaults();
  if (flags.format === "json")
    return ok(JSON.stringify(vaults.map((v) => ({ id: host.vault.vaultIds.get(v), name: v, content_version: 1 })), null, 2) + "\n");
  return ok(tabwrite([["ID", "NAME"], ...vaults.map((v) => [host.vault.vaultIds.get(v) ?? "", v])]));
}
