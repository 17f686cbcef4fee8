/**
 * CART-K8S-002: the fields the rulebook reads have the types Kubernetes gives them (catalogue
 * parameters.shapes). A document that breaks this is judged by no other rule: an ill-typed field fails
 * closed instead of slipping past a rule that reads it. The same table and the same walk as
 * policies/shapes.rego, so both enforcers report the same fields in the same words. Plain module.
 */
import type { Parameters } from "./catalogue";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Where a workload kind keeps its pod spec. */
export function podRoot(kind: string): string[] {
  if (kind === "Pod") return ["spec"];
  if (kind === "CronJob") return ["spec", "jobTemplate", "spec", "template", "spec"];
  return ["spec", "template", "spec"];
}

/** Where a workload kind keeps its pod template's metadata (the Pod's own for a Pod). */
export function podMetaRoot(kind: string): string[] {
  if (kind === "Pod") return ["metadata"];
  return [...podRoot(kind).slice(0, -1), "metadata"];
}

/** "a[].b" -> ["a", "[]", "b"]. */
function segments(path: string): string[] {
  return path.split(".").flatMap((part) => (part.endsWith("[]") ? [part.slice(0, -2), "[]"] : [part]));
}

const CONTAINER_FIELDS = ["containers", "initContainers", "ephemeralContainers"];
const tables = new WeakMap<Parameters, Map<string, Map<string, string>>>();

/** Normalised path ("spec.template.spec.containers.[].name") -> expected type, for a document of `kind`. */
export function shapeTable(p: Parameters, kind: string): Map<string, string> {
  let byKind = tables.get(p);
  if (!byKind) tables.set(p, (byKind = new Map()));
  const known = byKind.get(kind);
  if (known) return known;
  const rows: [string[], string][] = Object.entries(p.shapes.document).map(([k, t]) => [segments(k), t]);
  if (p.workloadKinds.includes(kind)) {
    const root = podRoot(kind);
    for (const [k, t] of Object.entries(p.shapes.pod)) rows.push([[...root, ...segments(k)], t]);
    for (const [k, t] of Object.entries(p.shapes.podMetadata)) rows.push([[...podMetaRoot(kind), ...segments(k)], t]);
    for (const c of CONTAINER_FIELDS)
      for (const [k, t] of Object.entries(p.shapes.container)) rows.push([[...root, c, "[]", ...segments(k)], t]);
  }
  for (const [k, t] of Object.entries(p.shapes.kinds[kind] ?? {})) rows.push([segments(k), t]);
  const table = new Map<string, string>();
  // Every parent is implied: an array before "[]", an object otherwise; declared types win.
  for (const [segs] of rows)
    for (let i = 1; i < segs.length; i++) table.set(segs.slice(0, i).join("."), segs[i] === "[]" ? "array" : "object");
  for (const [segs, t] of rows) table.set(segs.join("."), t);
  byKind.set(kind, table);
  return table;
}

/** The type name Rego's type_name gives a JSON value. */
export function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v === "object" ? "object" : typeof v;
}

/** An integer both enforcers read exactly: whole and within ±2^53. */
const isInteger = (v: Json) => typeof v === "number" && Math.floor(v) === v && Math.abs(v) <= 2 ** 53;

function hasType(v: Json, t: string): boolean {
  switch (t) {
    case "integer":
      return isInteger(v);
    case "int-or-string":
      return typeof v === "string" || isInteger(v);
    default:
      return typeName(v) === t;
  }
}

/**
 * A number as Rego's sprintf("%v") prints it (Go's strconv 'g', shortest): exponent form from 1e+06 up and
 * below 1e-04, so both enforcers print the same text for the same value.
 */
export function regoNumber(v: number): string {
  const [mantissa, e] = v.toExponential().split("e");
  const exp = Number(e);
  if (exp < -4 || exp >= 6) return `${mantissa}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  return String(v);
}

/** A value in a message, as Rego's %v prints it (numbers as regoNumber, null as "null"). */
export function show(v: unknown): string {
  return typeof v === "number" ? regoNumber(v) : String(v);
}

/** "spec.containers[0].name": how both enforcers print a path. */
export function displayPath(p: (string | number)[]): string {
  return p.map((s, i) => (typeof s === "number" ? `[${s}]` : i === 0 ? s : `.${s}`)).join("");
}

const norm = (s: string | number) => (typeof s === "number" ? "[]" : s);

/** A node the shape table declares a type for: where it is, what it holds, the type it must have. */
interface Checked {
  path: (string | number)[];
  value: Json;
  want: string;
}

/**
 * The nodes of a document whose fields the table declares, depth first (what Rego's walk visits, order
 * aside, less the subtrees no table key reaches). An array index counts as "[]"; a key of a declared map
 * ("a.*") as "*". Every prefix of a table key is in the table, so a child whose path is not in it has no
 * checked node below it: the walk stops there, and a large document the rules don't read (a
 * CustomResourceDefinition's schema) costs a few lookups, not one per node.
 */
function checkedNodes(root: Json, table: Map<string, string>): Checked[] {
  const out: Checked[] = [];
  const visit = (v: Json, path: (string | number)[], key: string) => {
    const entries: [string | number, Json][] = Array.isArray(v)
      ? v.map((x, i) => [i, x])
      : v !== null && typeof v === "object"
        ? Object.entries(v)
        : [];
    // A declared map ("a.*") types every key under it alike.
    const starWant = table.get(key === "" ? "*" : `${key}.*`);
    for (const [k, x] of entries) {
      const childKey = key === "" ? String(norm(k)) : `${key}.${norm(k)}`;
      const want = starWant ?? table.get(childKey);
      const below = table.has(childKey);
      if (want === undefined && !below) continue;
      const childPath = [...path, k];
      if (want !== undefined) out.push({ path: childPath, value: x, want });
      if (below) visit(x, childPath, childKey);
    }
  };
  visit(root, [], "");
  return out;
}

/** The kind of a document as the shape table is chosen by it ("" when it has none). */
const kindOf = (obj: Record<string, unknown>) => (typeof obj.kind === "string" ? obj.kind : "");

/** Fields of an object document whose type is not the one Kubernetes gives them (messages without the rule id). */
export function shapeProblems(obj: Record<string, unknown>, p: Parameters): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  for (const { path, value, want } of checkedNodes(obj as Json, shapeTable(p, kindOf(obj)))) {
    // null is an unset field, as Kubernetes decodes it; a null item of a list is not.
    if (value === null && typeof path[path.length - 1] !== "number") continue;
    if (!hasType(value, want))
      out.push({ path: displayPath(path), message: `${displayPath(path)} is ${typeName(value)}; expected ${want}` });
  }
  return out.sort((a, b) => (a.message < b.message ? -1 : a.message > b.message ? 1 : 0));
}

/** An object whose fields the rulebook reads all have their types: the documents every other rule judges. */
export function wellFormed(obj: unknown, p: Parameters): boolean {
  return (
    obj !== null &&
    typeof obj === "object" &&
    !Array.isArray(obj) &&
    shapeProblems(obj as Record<string, unknown>, p).length === 0
  );
}

/** The tables of every kind the rulebook knows, and "" for the rest: what policies/catalogue_data.rego holds. */
export function shapeTables(p: Parameters): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const kind of ["", ...p.knownKinds]) out[kind] = Object.fromEntries([...shapeTable(p, kind)].sort());
  return out;
}
