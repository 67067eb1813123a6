/**
 * The stand-in talosctl answers the reads the storage and IPv6 checks make — `get addresses`, `get
 * kernelparamstatus`, `get mountstatus` (JSON streams of resources) and `read <file>` — from the machine config the
 * node runs, so storage-validate-usb-ssd and network-check-ipv6 run every check in rehearsal. Expected values come
 * from the repo (lib/repo, lib/storage facts), never literals.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import path from "node:path";
import { loadRepo } from "../../lib/repo/index.ts";
import { storageFacts } from "../../lib/storage/facts.ts";
import { checkUsbSsd, specsOf, TALOS_UDEV_RULES_FILE } from "../../lib/storage/usb-ssd.ts";
import { inventoryFromModel } from "../../lib/talos/cluster.ts";
import { type Simulation, startSimulation } from "../../lib/sim/index.ts";

const root = path.resolve(import.meta.dir, "../..");
const model = loadRepo(root);
const facts = storageFacts(model);
const nodes = inventoryFromModel(model);
let sim: Simulation;

beforeAll(async () => {
  sim = await startSimulation({ root, state: "bootstrapped", controllers: false, timing: { scale: 0 } });
});
afterAll(async () => {
  await sim?.stop();
});

const talosctl = (argv: string[]) => sim.cluster.tools.call("talosctl", { argv: ["--talosconfig", sim.env.TALOSCONFIG!, ...argv], env: sim.env });

test("get addresses: the node's IPv4 and its declared IPv6 as AddressStatus resources", async () => {
  const n = nodes.find((x) => x.ipv6)!;
  expect(n).toBeDefined();
  const r = await talosctl(["-n", n.ip, "get", "addresses", "-o", "json"]);
  expect(r.exitCode).toBe(0);
  const specs = specsOf(r.stdout);
  expect(specs.every((s) => s.node === n.ip)).toBe(true);
  const addrs = specs.map((s) => String(s.address).split("/")[0]);
  expect(addrs).toContain(n.ip);
  expect(addrs).toContain(n.ipv6!);
  expect(specs.find((s) => String(s.address).startsWith(`${n.ipv6}/`))).toMatchObject({ family: "inet6", scope: "global" });
  const table = await talosctl(["-n", n.ip, "get", "addresses"]);
  expect(table.stdout.split("\n")[0]).toMatch(/^NODE\s+NAMESPACE\s+TYPE\s+ID\s+VERSION\s+ADDRESS\s+LINK/);
});

test("get kernelparamstatus: every sysctl of the machine config is current", async () => {
  expect(Object.keys(facts.sysctls).length).toBeGreaterThan(0);
  const r = await talosctl(["-n", nodes[0]!.ip, "get", "kernelparamstatus", "-o", "json"]);
  expect(r.exitCode).toBe(0);
  const byId = new Map(specsOf(r.stdout).map((s) => [String(s.id).replace(/^proc\.sys\./, ""), s]));
  for (const [k, v] of Object.entries(facts.sysctls)) expect(byId.get(k)?.current).toBe(v);
});

test("read: the udev rules file Talos writes holds machine.udev.rules; a missing file is a per-node error", async () => {
  expect(facts.udevRules.length).toBeGreaterThan(0);
  const r = await talosctl(["-n", nodes[0]!.ip, "read", TALOS_UDEV_RULES_FILE]);
  expect(r.exitCode).toBe(0);
  expect(r.stdout.trim().split("\n")).toEqual(facts.udevRules.map((x) => x.trim()));
  const missing = await talosctl(["-n", nodes[0]!.ip, "read", "/etc/nothing-here"]);
  expect(missing.exitCode).toBe(1);
  expect(missing.stderr).toContain(`${nodes[0]!.ip}: rpc error`);
  expect(missing.stderr).toContain("no such file or directory");
});

test("the USB SSD check over the stand-in's answers: every check runs, none is 'not checked'", async () => {
  const ip = nodes[0]!.ip;
  const get = async (res: string) => specsOf((await talosctl(["-n", ip, "get", res, "-o", "json"])).stdout);
  const lines = checkUsbSsd(
    {
      node: nodes[0]!.hostname,
      address: ip,
      disks: await get("disks"),
      volumes: await get("volumestatus"),
      kernelParams: await get("kernelparamstatus"),
      mounts: await get("mountstatus"),
      udevRules: (await talosctl(["-n", ip, "read", TALOS_UDEV_RULES_FILE])).stdout,
    },
    facts,
  );
  expect(lines.filter((l) => l.status !== "ok")).toEqual([]);
  for (const uv of facts.userVolumes) expect(lines.some((l) => l.check === `mount ${uv.mountPath}` && l.detail.startsWith("mounted from"))).toBe(true);
  expect(lines.filter((l) => l.check.startsWith("sysctl ")).length).toBe(Object.keys(facts.sysctls).length);
});
