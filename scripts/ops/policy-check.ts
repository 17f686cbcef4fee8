/**
 * npm run policy:check -- [--stack producao] [--root DIR] [conftest options...]
 *
 * The rulebook over what a change proposes, as PR CI runs it: conftest
 * --combine (so the set rules run: a default deny per namespace, an HPA-scaled
 * Deployment without spec.replicas) over manifests/, clusters/,
 * infrastructure/, configs/kms/ and the objects the program declares for the
 * stack's workload (namespace, default deny, HPA, PDB), built by the same plain
 * functions the Scaling component applies, so no engine and no cluster are
 * needed. Options it does not know go to conftest (e.g. --output github,
 * --data clock.yaml). Exit code: conftest's.
 */
import { spawnSync } from "node:child_process";
import { spawnProblem } from "../../components/platform/tools";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { loadStackFile } from "../../components/config/load";
import { defaultDenyObject, hpaObject, namespaceObject, pdbObject } from "../../components/scaling/objects";
import { PROJECT_ROOT } from "./operator";

const args = process.argv.slice(2);
const take = (flag: string, fallback: string): string => {
  const i = args.indexOf(flag);
  if (i < 0) return fallback;
  const [, value] = args.splice(i, 2);
  if (!value) throw new Error(`${flag} needs a value`);
  return value;
};
try {
  const stack = take("--stack", "producao");
  const root = path.resolve(take("--root", PROJECT_ROOT));
  const cfg = loadStackFile(PROJECT_ROOT, stack);
  const declared = fs.mkdtempSync(path.join(os.tmpdir(), "cartorio-declared-"));
  if (cfg.features.scaling) {
    const docs = [
      namespaceObject(cfg.workload),
      defaultDenyObject(cfg.workload),
      hpaObject(cfg.workload, cfg.scaling),
      pdbObject(cfg.workload, cfg.scaling),
    ];
    for (const d of docs)
      fs.writeFileSync(
        path.join(declared, `${d.kind.toLowerCase()}-${d.metadata.name}.yaml`),
        stringify(d, { version: "1.1" }),
      );
  }
  const targets = ["manifests", "clusters", "infrastructure", "configs/kms"].map((d) => path.join(root, d));
  const res = spawnSync(
    "conftest",
    [
      "test",
      ...targets,
      declared,
      "--combine",
      "--policy",
      path.join(root, "policies"),
      "--data",
      path.join(root, "policies/catalogue.yaml"),
      "--no-color",
      ...args,
    ],
    { stdio: "inherit" },
  );
  fs.rmSync(declared, { recursive: true, force: true });
  if (res.error) throw new Error(spawnProblem("conftest", res.error, "npm run policy:check"));
  process.exitCode = res.status ?? 2;
} catch (e) {
  console.error(`error: ${(e as Error).message}`);
  process.exitCode = 2;
}
