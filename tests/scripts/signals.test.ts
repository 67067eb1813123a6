import { describe, expect, test } from "bun:test";
import path from "node:path";

/**
 * Ctrl-C and SIGTERM in the middle of a real wait: a rolling reboot waiting for its node (simulated, slowed down so
 * the wait lasts seconds) stops cleanly (the simulation it started is torn down) and exits 130 or 143, never 1.
 * Every script runs in defineScript's frame, which turns both signals into the same abort; the frame's own test is
 * in cli-contract.test.ts.
 */
const root = path.resolve(import.meta.dir, "../..");

async function stopDuringWait(args: string[], signal: "SIGINT" | "SIGTERM", waitingFor: RegExp) {
  const proc = Bun.spawn([process.execPath, ...args], {
    cwd: root,
    env: { ...process.env, NO_COLOR: "1", HOMEOPS_SIM_STATE: "bootstrapped", HOMEOPS_SIM_TIME_SCALE: "0.2" },
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
  });
  const reader = proc.stderr.getReader();
  let seen = "";
  while (!waitingFor.test(seen)) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += new TextDecoder().decode(value);
  }
  expect(seen).toMatch(waitingFor);
  proc.kill(signal);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += new TextDecoder().decode(value);
  }
  return { code: await proc.exited, stderr: seen, stdout: await new Response(proc.stdout).text() };
}

describe("a signal during talos-reboot's wait for its node", () => {
  for (const [signal, code, word] of [["SIGINT", 130, "interrupted"], ["SIGTERM", 143, "terminated"]] as const) {
    test(`${signal}: exit ${code} after cleanup, one line saying so`, async () => {
      // the non-TTY line of a wait longer than two seconds
      const r = await stopDuringWait(["scripts/talos-reboot.ts", "--simulate", "--yes", "--node", "mini01", "--json"], signal, /… mini01: rebooting/);
      expect(r.code).toBe(code);
      expect(r.stderr).toContain(`${word}: stopping cleanly`);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      const doc = JSON.parse(r.stdout) as { ok: boolean; error: { exitCode: number } };
      expect(doc.ok).toBe(false);
      expect(doc.error.exitCode).toBe(code);
    }, 120_000);
  }
});
