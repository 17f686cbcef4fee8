/**
 * Reading Kubernetes manifests from a folder: every YAML document with its file
 * and index, or errors that name them. Plain module (program, policy corpus, tests).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseAllDocuments } from "yaml";

export interface ManifestDoc {
  /** Path relative to the folder's parent, e.g. manifests/cartorio-api/deployment.yaml */
  file: string;
  /** 1-based document index within the file. */
  index: number;
  doc: { apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string }; [k: string]: unknown };
}

export class ManifestError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
    this.name = "ManifestError";
  }
}

function yamlFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) return yamlFiles(p);
      return /\.ya?ml$/.test(e.name) ? [p] : [];
    })
    .sort();
}

/** All documents under `dir`; throws ManifestError listing every unreadable one. */
export function loadManifests(dir: string): ManifestDoc[] {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new ManifestError([`${dir}: not a folder of manifests`]);
  }
  const base = path.dirname(dir);
  const docs: ManifestDoc[] = [];
  const problems: string[] = [];
  for (const abs of yamlFiles(dir)) {
    const file = path.relative(base, abs);
    const text = fs.readFileSync(abs, "utf8");
    if (text.trim() === "") {
      problems.push(`${file}: the file is empty; remove it or add a manifest`);
      continue;
    }
    parseAllDocuments(text).forEach((d, i) => {
      if (d.errors.length > 0) {
        problems.push(`${file}: document ${i + 1} is not valid YAML: ${d.errors[0].message.split("\n")[0]}`);
        return;
      }
      const value = d.toJS();
      if (value === null || value === undefined) return; // an empty document between separators
      if (typeof value !== "object" || Array.isArray(value)) {
        problems.push(`${file}: document ${i + 1} is not a Kubernetes object (a mapping with apiVersion and kind)`);
        return;
      }
      if (typeof value.kind !== "string" || value.kind === "") {
        problems.push(`${file}: document ${i + 1} has no kind`);
        return;
      }
      docs.push({ file, index: i + 1, doc: value });
    });
  }
  if (problems.length > 0) throw new ManifestError(problems);
  return docs;
}
