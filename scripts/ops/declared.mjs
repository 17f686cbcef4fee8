// Writes the Kubernetes objects a stack manages, as the API server stored them,
// to a folder (one JSON file per object) so conftest judges what was applied:
//   pulumi stack export | node scripts/ops/declared.mjs <out-dir>
// Read from the state's outputs (the live objects after `up`), not from the
// program: what the cluster accepted, defaults included. Server-managed fields
// (status, managedFields, uid...) are dropped; Secret values are never written.
// JSON, not YAML: conftest reads YAML as YAML 1.1, where a label value the API stored as the
// string "yes" (or on, no, off, y, ~, 0x1F, 1e3, a date) would come back as another type.
import * as fs from "node:fs";
import * as path from "node:path";

const out = process.argv[2];
if (!out) {
  console.error("usage: pulumi stack export | node scripts/ops/declared.mjs <out-dir>");
  process.exit(2);
}
// The engine's marker of a secret value in a state export.
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const unsecret = (v) =>
  Array.isArray(v)
    ? v.map(unsecret)
    : v && typeof v === "object"
      ? SECRET_SIG in v
        ? "(secret)"
        : Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unsecret(x)]))
      : v;

let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => {
  const resources = JSON.parse(input).deployment?.resources ?? [];
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  let n = 0;
  for (const r of resources) {
    const o = r.outputs;
    if (!r.type.startsWith("kubernetes:") || r.type.startsWith("pulumi:") || !o?.kind || !o?.apiVersion) continue;
    const { status: _s, ...obj } = unsecret(o);
    delete obj.__inputs;
    delete obj.__initialApiVersion;
    for (const f of ["managedFields", "uid", "resourceVersion", "generation", "creationTimestamp"])
      delete obj.metadata?.[f];
    if (obj.kind === "Secret") {
      for (const f of ["data", "stringData"])
        if (obj[f] && typeof obj[f] === "object")
          obj[f] = Object.fromEntries(Object.keys(obj[f]).map((k) => [k, "(redacted)"]));
        // The whole map is one secret in the state: its keys are unknown too. An empty map keeps the
        // document's shape (CART-K8S-002 wants a map here); the annotation says what was left out.
        else if (obj[f]) {
          obj[f] = {};
          obj.metadata = {
            ...obj.metadata,
            annotations: { ...obj.metadata?.annotations, "cartorio.digital/declared-redacted": f },
          };
        }
    }
    const ns = obj.metadata?.namespace ? `${obj.metadata.namespace}-` : "";
    const file = `${obj.kind.toLowerCase()}-${ns}${obj.metadata?.name}.json`.replace(/[^a-zA-Z0-9._-]/g, "_");
    fs.writeFileSync(path.join(out, file), JSON.stringify(obj, null, 2) + "\n");
    n++;
  }
  console.error(`[declared] ${n} objects written to ${out}`);
});
