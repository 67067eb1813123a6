/**
 * The simulated 1Password account the `op` stand-in reads from. Values are generated per run (random, never real
 * secrets) unless a test sets them; they only ever leave through `op`'s stdout, like the real CLI.
 */
import { randomBytes, randomUUID } from "node:crypto";

export interface VaultField {
  id: string;
  label: string;
  value: string;
  /** CONCEALED for secrets, STRING otherwise */
  type: "CONCEALED" | "STRING";
  purpose?: "USERNAME" | "PASSWORD" | "NOTES";
}

export interface VaultItem {
  id: string;
  title: string;
  vault: string;
  category: string;
  fields: VaultField[];
  createdAt: string;
  updatedAt: string;
  version: number;
}

export class SimVault {
  signedIn = true;
  account = "my.1password.com";
  email = "homeops-sim@example.invalid";
  userId = shortId();
  readonly vaultIds = new Map<string, string>();
  private readonly items = new Map<string, Map<string, VaultItem>>();

  /** Creates or replaces an item; `fields` maps label -> value (values are CONCEALED unless listed as plain). */
  setItem(
    vault: string,
    title: string,
    fields: Record<string, string>,
    opts: { category?: string; plain?: string[] } = {},
  ): VaultItem {
    if (!this.vaultIds.has(vault)) this.vaultIds.set(vault, shortId());
    let byTitle = this.items.get(vault);
    if (!byTitle) this.items.set(vault, (byTitle = new Map()));
    const now = new Date().toISOString();
    const prev = byTitle.get(title);
    const item: VaultItem = {
      id: prev?.id ?? shortId(),
      title,
      vault,
      category: opts.category ?? prev?.category ?? "PASSWORD",
      fields: Object.entries(fields).map(([label, value]) => ({
        id: label === "password" ? "password" : label === "username" ? "username" : label,
        label,
        value,
        type: opts.plain?.includes(label) || label === "username" ? "STRING" : "CONCEALED",
        ...(label === "password" ? { purpose: "PASSWORD" as const } : label === "username" ? { purpose: "USERNAME" as const } : {}),
      })),
      createdAt: prev?.createdAt ?? now,
      updatedAt: now,
      version: (prev?.version ?? 0) + 1,
    };
    byTitle.set(title, item);
    return item;
  }

  vaults(): string[] {
    return [...this.vaultIds.keys()];
  }

  hasVault(vault: string): boolean {
    return this.vaultIds.has(vault) || [...this.vaultIds.values()].includes(vault);
  }

  /** An item by title or id; `vault` by name or id (any vault when undefined). */
  getItem(vault: string | undefined, ref: string): VaultItem | undefined {
    for (const [name, byTitle] of this.items) {
      if (vault !== undefined && vault !== name && vault !== this.vaultIds.get(name)) continue;
      const hit = byTitle.get(ref) ?? [...byTitle.values()].find((i) => i.id === ref);
      if (hit) return hit;
    }
    return undefined;
  }

  list(vault?: string): VaultItem[] {
    const out: VaultItem[] = [];
    for (const [name, byTitle] of this.items)
      if (vault === undefined || vault === name || vault === this.vaultIds.get(name)) out.push(...byTitle.values());
    return out;
  }

  deleteItem(vault: string, title: string): boolean {
    return this.items.get(vault)?.delete(title) ?? false;
  }

  /** Every secret value held, so tests can assert none of them leaked into argv, logs or files. */
  allValues(): string[] {
    return this.list()
      .flatMap((i) => i.fields)
      .filter((f) => f.type === "CONCEALED")
      .map((f) => f.value);
  }
}

/** A random value shaped like a generated secret. */
export function fakeSecret(bytes = 24): string {
  return randomBytes(bytes).toString("base64url");
}

function shortId(): string {
  return randomUUID().replaceAll("-", "").slice(0, 26);
}
