/**
 * A small JSON-Schema / OpenAPI v3 validator for the dev checks: enough of the spec for the upstream Cilium CRDs
 * (structural schemas) and the Talos / talhelper JSON schemas. Unknown properties are errors even where the schema
 * does not say `additionalProperties: false`, because the API server silently prunes them — exactly the failure
 * (a field that does nothing) these checks exist to catch.
 */

export interface SchemaError {
  path: string;
  message: string;
}

type Schema = Record<string, unknown>;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export function validate(value: unknown, schema: Schema, root: Schema = schema, path = ""): SchemaError[] {
  const errs: SchemaError[] = [];
  const at = path || "(root)";
  if (typeof schema.$ref === "string") {
    const target = resolveRef(root, schema.$ref);
    if (!target) return [{ path: at, message: `unresolvable $ref ${schema.$ref}` }];
    return validate(value, target, root, path);
  }
  if (Array.isArray(schema.oneOf)) {
    const results = (schema.oneOf as Schema[]).map((s) => validate(value, s, root, path));
    const ok = results.filter((r) => r.length === 0).length;
    if (ok !== 1) {
      // Report the branch with the fewest errors: the one the author most likely meant.
      const best = results.reduce((a, b) => (b.length < a.length ? b : a));
      return ok === 0 ? best : [{ path: at, message: `matches ${ok} of the oneOf schemas, expected exactly 1` }];
    }
  }
  if (Array.isArray(schema.anyOf)) {
    const results = (schema.anyOf as Schema[]).map((s) => validate(value, s, root, path));
    if (!results.some((r) => r.length === 0)) errs.push(...(results[0] ?? []));
  }
  if (Array.isArray(schema.allOf)) for (const s of schema.allOf as Schema[]) errs.push(...validate(value, s, root, path));

  if (value === null || value === undefined) {
    if (schema.nullable === true) return errs;
  }
  const intOrString = schema["x-kubernetes-int-or-string"] === true;
  const type = schema.type as string | string[] | undefined;
  if (type !== undefined && !intOrString) {
    const types = Array.isArray(type) ? type : [type];
    if (!types.some((t) => typeMatches(value, t))) {
      errs.push({ path: at, message: `expected ${types.join("|")}, got ${describe(value)}` });
      return errs;
    }
  } else if (intOrString && !(typeof value === "string" || Number.isInteger(value))) {
    errs.push({ path: at, message: `expected integer or string, got ${describe(value)}` });
  }
  if (Array.isArray(schema.enum)) {
    // Talos' generated schema puts the items' enum on some array fields (e.g. systemDiskEncryption options):
    // for an array of scalars, check each item.
    const scalarEnum = schema.enum.every((e) => typeof e !== "object" || e === null);
    if (Array.isArray(value) && scalarEnum) {
      for (const [i, v] of value.entries())
        if (!schema.enum.some((e) => e === v)) errs.push({ path: `${path}[${i}]`, message: `${JSON.stringify(v)} is not one of ${JSON.stringify(schema.enum)}` });
    } else if (!schema.enum.some((e) => e === value))
      errs.push({ path: at, message: `${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}` });
  }
  if (typeof value === "string") {
    if (typeof schema.pattern === "string" && !new RegExp(schema.pattern, "u").test(value))
      errs.push({ path: at, message: `${JSON.stringify(value)} does not match ${schema.pattern}` });
    if (typeof schema.minLength === "number" && value.length < schema.minLength)
      errs.push({ path: at, message: `shorter than ${schema.minLength}` });
    if (typeof schema.maxLength === "number" && value.length > schema.maxLength)
      errs.push({ path: at, message: `longer than ${schema.maxLength}` });
  }
  if (typeof value === "number") {
    if (typeof schema.minimum === "number" && value < schema.minimum) errs.push({ path: at, message: `below ${schema.minimum}` });
    if (typeof schema.maximum === "number" && value > schema.maximum) errs.push({ path: at, message: `above ${schema.maximum}` });
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === "number" && value.length < schema.minItems)
      errs.push({ path: at, message: `fewer than ${schema.minItems} items` });
    if (typeof schema.maxItems === "number" && value.length > schema.maxItems)
      errs.push({ path: at, message: `more than ${schema.maxItems} items` });
    if (isObj(schema.items)) value.forEach((v, i) => errs.push(...validate(v, schema.items as Schema, root, `${path}[${i}]`)));
  }
  if (isObj(value))
    for (const r of (schema.required as string[] | undefined) ?? [])
      if (!(r in value)) errs.push({ path: at, message: `missing required field "${r}"` });
  if (isObj(value) && (type === "object" || schema.properties !== undefined || schema.additionalProperties !== undefined)) {
    const props = isObj(schema.properties) ? (schema.properties as Record<string, Schema>) : {};
    const preserve = schema["x-kubernetes-preserve-unknown-fields"] === true;
    for (const [k, v] of Object.entries(value)) {
      const child = `${path ? `${path}.` : ""}${k}`;
      if (props[k]) errs.push(...validate(v, props[k]!, root, child));
      else if (isObj(schema.additionalProperties)) errs.push(...validate(v, schema.additionalProperties as Schema, root, child));
      else if (schema.additionalProperties === true || preserve) continue;
      else if (Object.keys(props).length > 0 || schema.additionalProperties === false)
        errs.push({ path: child, message: "unknown field" });
    }
  }
  return errs;
}

function typeMatches(v: unknown, t: string): boolean {
  switch (t) {
    case "object":
      return isObj(v);
    case "array":
      return Array.isArray(v);
    case "string":
      return typeof v === "string";
    case "integer":
      return Number.isInteger(v);
    case "number":
      return typeof v === "number";
    case "boolean":
      return typeof v === "boolean";
    case "null":
      return v === null;
    default:
      return true;
  }
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v === "object" ? "object" : `${typeof v} ${JSON.stringify(v)}`;
}

function resolveRef(root: Schema, ref: string): Schema | undefined {
  if (!ref.startsWith("#/")) return undefined;
  let cur: unknown = root;
  for (const seg of ref.slice(2).split("/")) {
    const key = seg.replace(/~1/g, "/").replace(/~0/g, "~");
    cur = isObj(cur) ? cur[key] : undefined;
  }
  return isObj(cur) ? cur : undefined;
}
