/**
 * The body of every stand-in executable in this folder: forwards argv, stdin (only when an argument asks for it
 * with `-`, so an inherited terminal or an open pipe never blocks), the working directory and the environment to
 * the simulated cluster's control endpoint, prints what it answers and exits with its code.
 */
export async function runStandIn(tool: string): Promise<never> {
  const url = process.env.HOMEOPS_SIM_URL;
  const token = process.env.HOMEOPS_SIM_TOKEN;
  if (!url || !token) {
    process.stderr.write(
      `${tool}: this is the home-ops simulated stand-in; no simulation is running (HOMEOPS_SIM_URL is not set)\n`,
    );
    process.exit(127);
  }
  const argv = process.argv.slice(2);
  const wantsStdin = argv.some((a) => a === "-" || a.endsWith("=-"));
  const stdin = wantsStdin ? await Bun.stdin.text() : "";
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  let res: Response;
  try {
    res = await fetch(`${url}/call`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ tool, argv, stdin, cwd: process.cwd(), env }),
    });
  } catch (e) {
    process.stderr.write(`${tool}: the simulated cluster at ${url} does not answer: ${(e as Error).message}\n`);
    process.exit(127);
  }
  if (!res.ok) {
    process.stderr.write(`${tool}: the simulated cluster refused the call (HTTP ${res.status})\n`);
    process.exit(127);
  }
  const out = (await res.json()) as { stdout: string; stderr: string; exitCode: number };
  if (out.stdout) await Bun.write(Bun.stdout, out.stdout);
  if (out.stderr) await Bun.write(Bun.stderr, out.stderr);
  process.exit(out.exitCode);
}
