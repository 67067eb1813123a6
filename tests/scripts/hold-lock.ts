/**
 * Test helper process: takes the maintenance lock of the cluster in KUBECONFIG (as an operation would), prints
 * `locked <identity>` and holds it, renewing, until killed. The lock tests SIGKILL it to leave a lock behind.
 */
import { KubeClient } from "../../lib/kube/client.ts";
import { acquireLease, kubeLeaseApi, leaseSeconds } from "../../lib/safety/lock.ts";

const lock = await acquireLease(kubeLeaseApi(KubeClient.fromEnv(process.env)), {
  operation: process.argv[2] ?? "hold-lock (test)",
  durationSeconds: leaseSeconds(process.env),
});
process.stdout.write(`locked ${lock.holder.identity}\n`);
setInterval(() => {}, 1 << 30);
