import { describe, expect, test } from "bun:test";
import { PROGRESS, runInPty, type PtyRun } from "./pty-harness.ts";

/**
 * What a person sees in a real terminal at 80 and at 160 columns, for the scripts with the longest waits and the
 * most to say (each against the simulated cluster): no line wider than the terminal, a progress line whenever the
 * script is silent for a while, no progress line left behind, and each problem said once.
 */
const T = 240_000;
// the simulation's clock: slow enough that a reboot and a bootstrap wait for seconds, as real ones do for minutes
const SLOW = { HOMEOPS_SIM_TIME_SCALE: "0.1" };

function expectFitsAndClean(r: PtyRun, cols: number) {
  expect(r.overflow, `lines wider than ${cols} columns`).toEqual([]);
  expect(r.lines.filter((l) => PROGRESS.test(l)), "progress lines left on the screen").toEqual([]);
  // whenever the script went quiet, the screen said what it was waiting for
  for (const s of r.silences) expect(s.showing, `silent for ${s.ms}ms`).toMatch(PROGRESS);
}

function count(lines: string[], re: RegExp): number {
  return lines.filter((l) => re.test(l)).length;
}

for (const cols of [80, 160]) {
  describe(`a terminal of ${cols} columns`, () => {
    test("cluster-status with a node down: fits, and the node is one problem", async () => {
      const r = await runInPty("cluster-status", ["--simulate"], {
        cols,
        env: { HOMEOPS_SIM_STATE: "bootstrapped", HOMEOPS_SIM_FAULTS: "unreachable=mini03" },
      });
      expect(r.code).toBe(1);
      expectFitsAndClean(r, cols);
      const problems = r.lines.slice(r.lines.findIndex((l) => /^\d+ problems?/.test(l)));
      expect(problems.length).toBeGreaterThan(1);
      expect(count(problems, /mini03/)).toBe(1);
      // the part the cause names is not listed again among what follows from it
      expect(problems.join("\n")).not.toMatch(/Talos API[^\n]*Talos API/);
      expect(r.lines.join("\n")).not.toContain("transport:");
    }, T);

    test("bgp-verify on a cluster without the BGP CRDs: fits, and says so once", async () => {
      const r = await runInPty("bgp-verify", ["--simulate"], { cols, env: { HOMEOPS_SIM_STATE: "talos" } });
      expectFitsAndClean(r, cols);
      expect(count(r.lines, /CRDs? (is|are) not installed/)).toBe(1);
    }, T);

    test("talos-reboot of a node: fits, progress while the node reboots, none left behind", async () => {
      const r = await runInPty("talos-reboot", ["--simulate", "--yes", "--node", "mini01"], {
        cols,
        env: { HOMEOPS_SIM_STATE: "bootstrapped", ...SLOW },
      });
      expect(r.code).toBe(0);
      expectFitsAndClean(r, cols);
      expect(r.progressDraws).toBeGreaterThan(0);
      expect(r.lines).toContain("rebooted 1 node, cluster healthy");
    }, T);

    test("talos-reboot stopped by a gate: fits, and the reason is said once", async () => {
      const r = await runInPty("talos-reboot", ["--simulate", "--yes"], {
        cols,
        env: { HOMEOPS_SIM_STATE: "bootstrapped", HOMEOPS_SIM_FAULTS: "unreachable=mini02" },
      });
      expect(r.code).toBe(1);
      expectFitsAndClean(r, cols);
      const text = r.lines.join(" ").replace(/\s+/g, " ");
      expect(text.match(/does not answer/g)?.length).toBe(1);
      expect(text).not.toContain("transport:");
    }, T);

    test("bootstrap-phased from bare nodes: fits, progress during the long waits, none left behind", async () => {
      const r = await runInPty("bootstrap-phased", ["--simulate"], { cols, env: SLOW, timeoutMs: T - 10_000 });
      expect(r.code).toBe(0);
      expectFitsAndClean(r, cols);
      expect(r.progressDraws).toBeGreaterThan(0);
    }, T);
  });
}
