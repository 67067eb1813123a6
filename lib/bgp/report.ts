/**
 * bgp-verify's human output: the node x peer x family table, then every missing prefix grouped by node, peer,
 * family and cause (one cause explained once, with its fix), Service-level problems, and notes.
 */
import type { Output } from "../cli/output.ts";
import type { BgpVerifyReport, MissingPrefix } from "./verify.ts";
import type { MigrationPlan } from "./migrate.ts";

function causeLabel(c: MissingPrefix["cause"]): string {
  return typeof c === "number" ? `cause ${c}` : c === "session" ? "session down" : "unexplained";
}

export function printVerifyReport(out: Output, r: BgpVerifyReport): void {
  const head = ["node", "peer", "family"];
  if (r.ciliumChecked) head.push("cilium session");
  if (r.routerChecked) head.push("router session");
  head.push("expected");
  if (r.ciliumChecked) head.push("advertised");
  if (r.routerChecked) head.push("at router");
  head.push("missing");
  const rows = r.rows.map((row) => {
    // a v1 neighbor has no name but its address
    const peer = row.peerAddress && row.peerAddress !== row.peer ? `${row.peer} (${row.peerAddress})` : row.peer;
    const cells: Array<string | number | undefined> = [row.node, peer, row.family];
    if (r.ciliumChecked) cells.push(row.ciliumSession);
    if (r.routerChecked) cells.push(row.routerSession);
    cells.push(row.expected);
    if (r.ciliumChecked) cells.push(row.advertised);
    if (r.routerChecked) cells.push(row.receivedAtRouter);
    cells.push(row.missing ? `${out.mark("fail")} ${row.missing}` : row.expected ? `${out.mark("ok")} 0` : "-");
    return cells;
  });
  out.printTable(head, rows);

  const groups = new Map<string, MissingPrefix[]>();
  for (const m of r.missing) {
    const k = `${m.node}|${m.peer}|${m.family}|${m.cause}|${m.message}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(m);
  }
  if (groups.size) {
    out.line();
    out.line(out.bold(`Missing at the router: ${r.missing.length} prefix(es)`));
    for (const g of groups.values()) {
      const m = g[0]!;
      out.line(`${out.mark("fail")} ${m.node} -> ${m.peer} ${m.family}: ${g.map((x) => `${x.prefix} (${x.service})`).join(", ")}`);
      out.line(`    ${causeLabel(m.cause)}: ${m.message}`);
      out.line(`    fix: ${m.fix}`);
    }
  }
  if (r.serviceIssues.length) {
    out.line();
    out.line(out.bold("Services without an advertisable IP"));
    for (const i of r.serviceIssues) {
      out.line(`${out.mark("fail")} ${i.service}${i.family ? ` ${i.family}` : ""}: cause ${i.diagnosis.cause}: ${i.diagnosis.message}`);
      out.line(`    fix: ${i.diagnosis.fix}`);
    }
  }
  if (r.sessionProblems.length) {
    out.line();
    out.line(out.bold("Router sessions that drop every route"));
    for (const p of r.sessionProblems) {
      out.line(`${out.mark("fail")} ${p.node} -> ${p.peer} ${p.family}: cause ${p.diagnosis.cause}: ${p.diagnosis.message}`);
      out.line(`    fix: ${p.diagnosis.fix}`);
    }
  }
  if (r.warnings.length) {
    out.line();
    for (const w of r.warnings) {
      out.line(`${out.mark("warn")} ${w.node}: cause ${w.diagnosis.cause}: ${w.diagnosis.message}`);
      out.line(`    fix: ${w.diagnosis.fix}`);
    }
  }
  if (r.unexpectedAtRouter.length) {
    out.line();
    out.line(out.bold("Held by the router but expected from no Service"));
    for (const u of r.unexpectedAtRouter) out.line(`${out.mark("warn")} ${u.prefix} from ${u.node} (${u.neighbor})`);
  }
  for (const n of r.notes) out.log(`${out.mark("info")} ${n}`);
  out.line();
  const expected = r.expectedTotal;
  if (expected === 0) {
    out.line(`${r.ok ? out.mark("info") : out.mark("fail")} nothing was checked: 0 expected routes, because ${r.nothingChecked ?? "nothing is expected"}`);
    return;
  }
  out.line(
    r.ok
      ? `${out.mark("ok")} every expected route (${expected}) ${r.routerChecked ? "is at the router" : r.ciliumChecked ? "is advertised by Cilium" : "is configured to be advertised"}`
      : `${out.mark("fail")} ${r.missing.length} of ${expected} expected route(s) missing${r.serviceIssues.length ? `, ${r.serviceIssues.length} Service problem(s)` : ""}${r.sessionProblems.length ? `, ${r.sessionProblems.length} router session(s) in (Policy)` : ""}`,
  );
}

/** bgp-migrate's human output: what is translated, the equivalence verdict per announcement, notes. */
export function printMigrationPlan(out: Output, plan: MigrationPlan, file: string | undefined): void {
  out.line(`CiliumBGPPeeringPolicy ${plan.policies.join(", ")} -> ${plan.objects.length} BGP v2 object(s)${file ? ` in ${file}` : ""}:`);
  for (const o of plan.objects) out.line(`  ${o.kind} ${o.metadata.name}`);
  out.line(plan.labels.length ? `labels to add: ${plan.labels.map((l) => `${l.kind} ${l.name}`).join(", ")}` : "labels to add: none (the v1 selectors carry over to the v2 advertisements unchanged)");
  for (const n of plan.notes) out.log(`${out.mark("info")} ${n}`);
  out.line();
  if (plan.differences.length) {
    out.line(out.bold(`Not equivalent: ${plan.differences.length} announcement(s) differ`));
    for (const d of plan.differences) out.line(`${out.mark("fail")} ${d.change === "lost" ? "lost  " : "gained"} ${d.node} -> ${d.peer} ${d.prefix}: ${d.why}`);
    return;
  }
  if (plan.before === 0)
    out.line(`${out.mark("info")} equivalent, but over nothing: neither configuration announces a route (see \`bun scripts/bgp-verify.ts --repo-only\` for why)`);
  else out.line(`${out.mark("ok")} equivalent: the same ${plan.before} announcement(s) (node, peer, prefix) before and after`);
}
