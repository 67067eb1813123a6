import { AREAS, defineScript } from "../lib/cli/index.ts";

export default defineScript(import.meta, {
  name: "help",
  area: "dev",
  summary: "list every script with its purpose and the Taskfile target it replaces",
  replaces: ["--list", "default"],
  examples: ["bun scripts/help.ts", "bun scripts/help.ts --json | jq '.scripts[].task'"],
  async run({ out, root, json }) {
    const { loadScripts } = await import("../lib/cli/registry.ts");
    const scripts = await loadScripts(root);
    if (json) {
      out.result({
        ok: true,
        scripts: scripts.map((s) => ({
          script: s.file,
          task: s.task,
          area: s.def.area,
          summary: s.def.summary,
          replaces: s.def.replaces,
          mutates: s.def.mutates === true,
          live: s.def.live === true,
        })),
      });
      return;
    }
    for (const area of AREAS) {
      const inArea = scripts.filter((s) => s.def.area === area);
      if (inArea.length === 0) continue;
      out.line(out.bold(area));
      const replaces = (s: (typeof inArea)[number]) => s.def.replaces.join(", ") || "(new)";
      // a narrow terminal gets two columns, the task and the replaced targets under the script and its purpose
      if (out.width !== undefined && out.width < 160)
        out.line(
          out.table(
            ["script, mise task", "purpose, replaces"],
            inArea.map((s) => [`${s.file}\n${s.task}`, `${s.def.summary}\nreplaces: ${replaces(s)}`]),
          ),
        );
      else out.printTable(["script", "mise task", "purpose", "replaces"], inArea.map((s) => [s.file, s.task, s.def.summary, replaces(s)]));
      out.line();
    }
    out.line(`${scripts.length} scripts. Run any with --help for its flags; \`mise run <task>\` runs the same script.`);
  },
});
