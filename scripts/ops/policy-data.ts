/**
 * npm run policy:data — writes policies/catalogue_data.rego from
 * policies/catalogue.yaml, so the Rego rules have their parameters even when
 * conftest runs without --data (`conftest test manifests/ --policy policies/`,
 * `conftest verify --policy policies/`). The YAML stays the one source: a test
 * fails when the generated file is out of date. --check only compares.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { loadCatalogue } from "../../components/policy/catalogue";
import { shapeTables } from "../../components/policy/shapes";

export const DATA_REGO = path.resolve(__dirname, "../../policies/catalogue_data.rego");

/** One-line Rego term in the layout opa fmt keeps (", " and ": " separators). */
function term(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(term).join(", ")}]`;
  if (v && typeof v === "object") {
    return `{${Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${JSON.stringify(k)}: ${term(x)}`)
      .join(", ")}}`;
  }
  return JSON.stringify(v);
}

export function catalogueDataRego(): string {
  const catalogue = loadCatalogue();
  return [
    "# Generated from policies/catalogue.yaml by `npm run policy:data`; do not edit.",
    "# `conftest --data policies/catalogue.yaml` takes precedence (data.catalogue).",
    "package rulebook",
    "",
    "import rego.v1",
    "",
    // The rules read the parameters, the exceptions and each rule's level; one line, which opa fmt leaves as it is.
    `catalogue_default := ${term({
      parameters: catalogue.parameters,
      exceptions: catalogue.exceptions,
      rules: catalogue.rules.map((r) => ({ id: r.id, enforcement: r.enforcement })),
    })}`,
    "",
    // parameters.shapes expanded per kind (every parent implied), computed here once instead of for every
    // document conftest evaluates (the expansion is components/policy/shapes.ts's, the one both enforcers use).
    `shape_tables_default := ${term(shapeTables(catalogue.parameters))}`,
    "",
  ].join("\n");
}

if (require.main === module) {
  const want = catalogueDataRego();
  const have = fs.existsSync(DATA_REGO) ? fs.readFileSync(DATA_REGO, "utf8") : "";
  if (process.argv.includes("--check")) {
    if (want !== have) {
      console.error(`${DATA_REGO} is out of date: run npm run policy:data`);
      process.exit(1);
    }
  } else if (want !== have) {
    fs.writeFileSync(DATA_REGO, want);
    console.log(`wrote ${DATA_REGO}`);
  }
}
