/**
 * Flux postBuild substitution (reference/flux-render.md §2), applied to rendered objects in memory.
 *
 * Flux runs envsubst over each object's YAML after the build; here the same rules run over the object's strings:
 * `${v}`, `${v:=d}`, `${v:-d}`, `${v=d}`, `${v-d}` (the default is used when the value is empty or unset, and is
 * itself substituted: `${a:-${b}}`),
 * `$$` escapes a `$`, `$v` is untouched, an undefined `${v}` becomes "". Substitution runs only when at least one
 * variable was loaded, and a resource labelled or annotated `kustomize.toolkit.fluxcd.io/substitute: disabled` is
 * skipped.
 */

export const SUBSTITUTE_DISABLED = "kustomize.toolkit.fluxcd.io/substitute";
const VAR_NAME = /^[_a-zA-Z][_a-zA-Z0-9]*$/;

export interface SubstituteResult {
  value: unknown;
  /** variables used without a value or default, each with the object path of its first use */
  undefinedVars: Map<string, (string | number)[]>;
}

export function isValidVarName(name: string): boolean {
  return VAR_NAME.test(name);
}

/**
 * `vars` undefined means "a source could not be read offline (SOPS, a Secret made at bootstrap)": variables
 * without a known value then stay as written instead of becoming "", and are not reported.
 */
export function substituteObject(
  obj: unknown,
  vars: Record<string, string>,
  opts: { opaque: boolean },
): SubstituteResult {
  const undefinedVars = new Map<string, (string | number)[]>();
  /** One `${...}` expression's value (`expr` is what is between its braces); `whole` is it as written. */
  const value = (expr: string, whole: string, p: (string | number)[]): string => {
    const m = /^([^:=\-]+)(?::?[=-]([\s\S]*))?$/.exec(expr);
    if (!m?.[1] || !isValidVarName(m[1])) return whole; // ${v:?x}, ${v:+x} and odd text are left as written
    const name = m[1];
    const def = m[2];
    const v = vars[name];
    if (v !== undefined && v !== "") return v;
    // a default is itself substituted (drone/envsubst, which Flux runs: `${a:-${b}}`, `${a=x-${b}}`)
    if (def !== undefined) return subst(def, p);
    if (v !== undefined) return v;
    if (opts.opaque) return whole;
    if (!undefinedVars.has(name)) undefinedVars.set(name, p);
    return "";
  };
  const subst = (s: string, p: (string | number)[]): string => {
    if (!s.includes("$")) return s;
    let out = "";
    let i = 0;
    while (i < s.length) {
      const at = s.indexOf("$", i);
      if (at < 0 || at === s.length - 1) return out + s.slice(i);
      out += s.slice(i, at);
      if (s[at + 1] === "$") {
        out += "$"; // `$$` escapes a `$`
        i = at + 2;
        continue;
      }
      if (s[at + 1] !== "{") {
        out += "$";
        i = at + 1;
        continue;
      }
      // the matching brace: `${` inside (a default's own variables) opens another level
      let depth = 1;
      let j = at + 2;
      while (j < s.length && depth > 0) {
        if (s[j] === "$" && s[j + 1] === "{") {
          depth++;
          j += 2;
        } else {
          if (s[j] === "}") depth--;
          j++;
        }
      }
      if (depth > 0) return out + s.slice(at); // unclosed: left as written
      out += value(s.slice(at + 2, j - 1), s.slice(at, j), p);
      i = j;
    }
    return out;
  };
  const walk = (v: unknown, p: (string | number)[]): unknown => {
    if (typeof v === "string") {
      const out = subst(v, p);
      // Flux re-reads the substituted YAML: a plain scalar that became a number or boolean is one.
      if (out !== v && /^\$\{[^}]*\}$/.test(v)) {
        if (/^-?\d+(\.\d+)?$/.test(out)) return Number(out);
        if (out === "true" || out === "false") return out === "true";
      }
      return out;
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, [...p, i]));
    if (v && typeof v === "object") {
      const o: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) o[k] = walk(x, [...p, k]);
      return o;
    }
    return v;
  };
  return { value: walk(obj, []), undefinedVars };
}

/** Substitution switched off on this object (label or annotation `kustomize.toolkit.fluxcd.io/substitute: disabled`). */
export function substitutionDisabled(obj: unknown): boolean {
  const md = (obj as { metadata?: { labels?: Record<string, unknown>; annotations?: Record<string, unknown> } })?.metadata;
  return md?.labels?.[SUBSTITUTE_DISABLED] === "disabled" || md?.annotations?.[SUBSTITUTE_DISABLED] === "disabled";
}
