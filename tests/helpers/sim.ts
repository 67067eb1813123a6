/**
 * Simulated clusters for tests, at the time scale the script tests run at: 0.005 of real Talos/Kubernetes time (a
 * 2-minute reboot takes 0.6 s). Slower than that buys nothing; the tests wait by watching, never by sleeping.
 */
import { startSimulation, type Simulation, type StartOptions } from "../../lib/sim/index.ts";

export const TEST_TIMING = { scale: 0.005 } as const;

export function simulate(opts: StartOptions = {}): Promise<Simulation> {
  return startSimulation({ ...opts, timing: { ...TEST_TIMING, ...opts.timing } });
}
