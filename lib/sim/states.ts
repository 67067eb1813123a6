/** The states a simulation starts in (lib/sim/cluster.ts says what each means); a leaf, so --help reads it cheaply. */
export const SIM_STATES = ["bare", "configured", "talos", "bootstrapped", "complete"] as const;
export type SimState = (typeof SIM_STATES)[number];
