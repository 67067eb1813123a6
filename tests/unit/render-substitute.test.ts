// Flux's postBuild substitution as lib/repo/render/substitute.ts applies it. Flux runs drone/envsubst over each
// object; the cases below are that library's own documented expansions (its eval_test.go) for the forms Flux
// documents, plus what the render adds: undefined variables reported, sources read as opaque, numbers re-read.
import { describe, expect, test } from "bun:test";
import { substituteObject } from "../../lib/repo/render/substitute.ts";

const run = (input: unknown, vars: Record<string, string>, opaque = false) => substituteObject(input, vars, { opaque });

describe("postBuild substitution", () => {
  test("drone/envsubst's expansions: defaults, nested defaults, escapes", () => {
    const cases: [string, Record<string, string>, string][] = [
      ["abcdEFGH28ij", {}, "abcdEFGH28ij"],
      ["${var=abc}", { var: "abc" }, "abc"],
      ["${var=xyz}", {}, "xyz"],
      ["${var:=xyz}", {}, "xyz"],
      // a default is itself substituted
      ["something ${var=${default_var}}", { default_var: "foo" }, "something foo"],
      ["foo: ${var=${default_var}-suffix}", { default_var: "foo1" }, "foo: foo1-suffix"],
      ["foo: ${var=prefix${default_var}-suffix}", { default_var: "foo1" }, "foo: prefixfoo1-suffix"],
      // `$$` escapes a `$`; `$name` without braces is left alone
      ["$${var01}", { var01: "abcdEFGH28ij" }, "${var01}"],
      ["some text ${var01}$${var$${var01}$var01${var01}", { var01: "abcdEFGH28ij" }, "some text abcdEFGH28ij${var${var01}$var01abcdEFGH28ij"],
      ["something $${var=${default_var}}", { default_var: "foo" }, "something ${var=foo}"],
    ];
    for (const [input, vars, output] of cases) expect([input, run(input, vars).value]).toEqual([input, output]);
  });

  test("a shared component's claim name (bjw-s-labs' kopiur backup): `${KOPIUR_CLAIM:-${APP}}` is the app's name unless the claim is set", () => {
    expect(run({ metadata: { name: "${KOPIUR_CLAIM:-${APP}}" } }, { APP: "memini" }).value).toEqual({ metadata: { name: "memini" } });
    expect(run({ metadata: { name: "${KOPIUR_CLAIM:-${APP}}" } }, { APP: "memini", KOPIUR_CLAIM: "data" }).value).toEqual({ metadata: { name: "data" } });
  });

  test("an undefined variable becomes empty and is reported once, at its first use; opaque sources leave it as written", () => {
    const r = run({ a: "${NOPE}", b: ["x-${NOPE}"] }, { OTHER: "1" });
    expect(r.value).toEqual({ a: "", b: ["x-"] });
    expect([...r.undefinedVars]).toEqual([["NOPE", ["a"]]]);
    const o = run({ a: "${NOPE}", b: "${NOPE:-${ALSO}}" }, {}, true);
    expect(o.value).toEqual({ a: "${NOPE}", b: "${ALSO}" });
    expect(o.undefinedVars.size).toBe(0);
  });

  test("a whole scalar that became a number or boolean is one; forms Flux does not substitute stay as written", () => {
    expect(run({ n: "${N}", t: "${T}", s: "v${N}" }, { N: "3", T: "true" }).value).toEqual({ n: 3, t: true, s: "v3" });
    expect(run({ a: "${x:?y}", b: "${unclosed", c: "$" }, { x: "1" }).value).toEqual({ a: "${x:?y}", b: "${unclosed", c: "$" });
  });
});
