/**
 * Verifying evidence the way an auditor would, years later: with the repository's trust anchor and the
 * folders alone — no cluster, no HSM, no network. One report: its schema (every section, field and the
 * signature present), its signature by a key the anchor lists for that date, and what it attests (a report
 * written before Flux applied its commit fails). A chain: every report of a stack folder, in sequence,
 * each naming the digest of the one before; the first break is named. Plain module.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Anchor } from "./anchor";
import { EvidenceReport, validateReport } from "./schema";
import { verifyReport } from "./signature";

export const reportDigest = (bytes: Buffer) => "sha256:" + createHash("sha256").update(bytes).digest("hex");

export interface FolderResult {
  folder: string;
  bytes?: Buffer;
  report?: EvidenceReport;
  problems: string[];
}

/** What a valid report attests that must hold for it to be evidence of a converged deployment. */
function attestationProblems(r: EvidenceReport): string[] {
  const out: string[] = [];
  if (r.flux.status === "collected") {
    const f = r.flux.data;
    if (!f.converged)
      out.push(
        `flux.converged is false: the report was written before Flux applied commit ${f.expected} (${f.detail}); it does not attest what runs`,
      );
    else if (f.expected !== r.commit.sha || !f.revision.endsWith(f.expected))
      out.push(`flux.revision ${f.revision} is not the report's commit ${r.commit.sha}`);
  }
  if (r.keys.status === "collected")
    for (const k of r.keys.data.keys.filter((k) => k.problems.length))
      out.push(`keys: ${k.label} does not conform: ${k.problems.join("; ")}`);
  if (r.keys.status === "collected" && !r.keys.data.keys.some((k) => k.fingerprint === r.signer.fingerprint))
    out.push(`keys: the signer ${r.signer.keyLabel} is not among the inspected keys`);
  return out;
}

/** One evidence folder (report.json, report.json.sig) against the anchor. */
export function verifyFolder(dir: string, anchor: Anchor, anchorWhere: string): FolderResult {
  const folder = path.basename(dir);
  const file = path.join(dir, "report.json");
  if (!fs.existsSync(file)) return { folder, problems: ["report.json is missing"] };
  const bytes = fs.readFileSync(file);
  const problems: string[] = [];
  let report: EvidenceReport | undefined;
  try {
    report = validateReport(JSON.parse(bytes.toString("utf8")), "report.json");
  } catch (e) {
    problems.push((e as Error).message);
  }
  const sigFile = path.join(dir, "report.json.sig");
  if (!fs.existsSync(sigFile)) problems.push("report.json.sig is missing");
  else problems.push(...verifyReport(bytes, fs.readFileSync(sigFile, "utf8"), anchor, anchorWhere));
  if (report) problems.push(...attestationProblems(report));
  return { folder, bytes, report, problems };
}

/** The evidence folders of a stack folder, by name (each a <UTC>-<sequence>-<commit> folder; unfinished *.partial left out). */
export function evidenceFolders(stackDir: string): string[] {
  if (!fs.existsSync(stackDir)) return [];
  return fs
    .readdirSync(stackDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.endsWith(".partial"))
    .map((e) => e.name)
    .sort();
}

/**
 * Where the next report of a stack joins its chain: after the report with the highest sequence (which must
 * itself be readable), or sequence 1 when the folder holds none. A folder whose newest report can't be read
 * is refused rather than silently restarted.
 */
export function nextLink(stackDir: string): EvidenceReport["chain"] {
  let last: { folder: string; bytes: Buffer; sequence: number } | undefined;
  for (const folder of evidenceFolders(stackDir)) {
    const file = path.join(stackDir, folder, "report.json");
    let sequence: unknown;
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
      sequence = JSON.parse(bytes.toString("utf8"))?.chain?.sequence;
    } catch (e) {
      throw new Error(
        `${file} can't be read (${(e as Error).message}): the chain can't be continued; see docs/evidence.md`,
      );
    }
    if (!Number.isInteger(sequence))
      throw new Error(
        `${file} has no chain.sequence (written before reports were chained, schema v1?): the chain can't be continued. ` +
          `Move ${stackDir} aside (its reports stay verifiable by the version that wrote them) and start a new chain with --genesis`,
      );
    if (!last || (sequence as number) > last.sequence) last = { folder, bytes, sequence: sequence as number };
  }
  if (!last) return { sequence: 1, previous: null };
  return {
    sequence: last.sequence + 1,
    previous: { sequence: last.sequence, folder: last.folder, digest: reportDigest(last.bytes) },
  };
}

export interface ChainResult {
  reports: number;
  /** The first break, named, and everything wrong with the report where it is; empty: the chain holds. */
  problems: string[];
  /** The chain's reports in sequence, as verified. */
  links: { folder: string; sequence: number; digest: string }[];
}

/**
 * Walks every report of a stack folder in sequence: each must verify on its own, the sequence must run
 * 1, 2, 3 … with no gap or repeat, each must name the previous report's folder and digest, and dates must
 * not go back. Stops at the first break.
 */
export function verifyChain(stackDir: string, anchor: Anchor, anchorWhere: string): ChainResult {
  const folders = evidenceFolders(stackDir);
  if (folders.length === 0) return { reports: 0, problems: [`${stackDir} holds no evidence report`], links: [] };
  const results = folders.map((f) => verifyFolder(path.join(stackDir, f), anchor, anchorWhere));
  const bad = results.find((r) => r.problems.length);
  const links: ChainResult["links"] = [];
  if (bad)
    return {
      reports: results.length,
      problems: bad.problems.map((p) => `${bad.folder}: ${p}`),
      links,
    };
  const ordered = results
    .map((r) => ({ ...r, report: r.report!, bytes: r.bytes! }))
    .sort((a, b) => a.report.chain.sequence - b.report.chain.sequence);
  let prev: (typeof ordered)[number] | undefined;
  for (const r of ordered) {
    const { sequence, previous } = r.report.chain;
    const fail = (p: string) => ({ reports: results.length, problems: [p], links });
    if (r.report.stack.name !== anchor.stack)
      return fail(`${r.folder}: a report of stack ${r.report.stack.name} in the chain of ${anchor.stack}`);
    if (!prev) {
      if (sequence !== 1)
        return fail(
          `the chain starts at sequence ${sequence} (${r.folder}): report${sequence > 2 ? `s 1 to ${sequence - 1} are` : " 1 is"} missing`,
        );
    } else {
      const want = prev.report.chain.sequence + 1;
      if (sequence === prev.report.chain.sequence)
        return fail(`two reports claim sequence ${sequence}: ${prev.folder} and ${r.folder}`);
      if (sequence !== want)
        return fail(
          `sequence ${want}${sequence - want > 1 ? ` to ${sequence - 1}` : ""} missing between ${prev.folder} (sequence ${prev.report.chain.sequence}) and ${r.folder} (sequence ${sequence}): a report was deleted`,
        );
      const digest = reportDigest(prev.bytes);
      if (previous!.folder !== prev.folder || previous!.digest !== digest)
        return fail(
          `${r.folder} (sequence ${sequence}) names ${previous!.folder} ${previous!.digest} as its previous report, but sequence ${prev.report.chain.sequence} is ${prev.folder} ${digest}: altered, replaced or moved`,
        );
      if (Date.parse(r.report.generatedAt) < Date.parse(prev.report.generatedAt))
        return fail(`${r.folder} (sequence ${sequence}) is dated before ${prev.folder}: reordered`);
    }
    links.push({ folder: r.folder, sequence, digest: reportDigest(r.bytes) });
    prev = r;
  }
  return { reports: results.length, problems: [], links };
}
