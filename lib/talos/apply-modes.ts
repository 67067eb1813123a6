/** talosctl apply-config --mode values; a leaf, so talos-apply-config --help reads them without talosctl.ts. */
export const APPLY_MODES = ["auto", "no-reboot", "reboot", "staged", "try"] as const;
export type ApplyMode = (typeof APPLY_MODES)[number];
/** Maintenance mode accepts only these (talos.md). */
export const MAINTENANCE_APPLY_MODES: readonly ApplyMode[] = ["auto", "reboot", "try"];
