/**
 * Evidence verification as an auditor does it, with the trust anchor and the folders alone: the anchor's
 * checks, a single report's signature, key and period, what it attests, and the hash chain's breaks. The
 * reports here are signed with keys made in this process (ECDSA P-256, r || s, as the HSM signs), so no HSM
 * and no clock: every date is fixed. test/evidence/ runs the same checks on reports the HSM signed.
 */
import { generateKeyPairSync, KeyObject, sign } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import { describe, expect, it } from "vitest";
import {
  Anchor,
  ANCHOR_SCHEMA,
  anchorText,
  fingerprintOfPem,
  loadAnchor,
  rotateAnchor,
} from "../../components/evidence/anchor";
import { EvidenceReport, notRun, SCHEMA_ID } from "../../components/evidence/schema";
import { SIGNATURE_SCHEMA } from "../../components/evidence/signature";
import { nextLink, reportDigest, verifyChain, verifyFolder } from "../../components/evidence/verify";
import { tempDir } from "../helpers/tools";

interface Key {
  label: string;
  privateKey: KeyObject;
  publicKey: string;
  fingerprint: string;
}

function makeKey(label: string): Key {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
  return { label, privateKey, publicKey: pem, fingerprint: fingerprintOfPem(pem) };
}

function anchorOf(keys: { key: Key; from: string; until?: string }[]): Anchor {
  return {
    schema: ANCHOR_SCHEMA,
    stack: "producao",
    keys: keys.map(({ key, from, until }) => ({
      label: key.label,
      purpose: "evidence-signing" as const,
      fingerprint: key.fingerprint,
      publicKey: key.publicKey,
      validFrom: from,
      validUntil: until ?? null,
    })),
  };
}

const SHA = "a".repeat(40);

/** A schema-valid report: every part "not run" but the ones a test sets. */
function report(
  key: Key,
  at: string,
  chain: EvidenceReport["chain"],
  extra: Partial<EvidenceReport> = {},
): EvidenceReport {
  const off = notRun("not part of this test");
  return {
    schema: SCHEMA_ID,
    generatedAt: at,
    commit: { sha: SHA, dirty: false },
    approval: { approvedBy: "revisora", source: "environment CARTORIO_APPROVED_BY", runUrl: null },
    stack: { name: "producao", configFile: "Pulumi.producao.yaml", configDigest: "sha256:" + "0".repeat(64) },
    rulebook: off,
    audit: off,
    hsm: off,
    keys: off,
    hpa: off,
    capacity: off,
    loadTest: off,
    flux: off,
    running: off,
    breakGlass: off,
    chain,
    anchor: { file: "configs/evidencias/producao.yaml", digest: "sha256:" + "1".repeat(64) },
    signer: { keyLabel: key.label, token: "assinatura", algorithm: "ECDSA-P256-SHA256", fingerprint: key.fingerprint },
    ...extra,
  };
}

/** Writes report.json and report.json.sig as npm run evidence does, signed with `key`; returns the bytes. */
function writeFolder(dir: string, r: EvidenceReport, key: Key): Buffer {
  fs.mkdirSync(dir, { recursive: true });
  const bytes = Buffer.from(JSON.stringify(r, null, 2) + "\n");
  const signature = sign("sha256", bytes, { key: key.privateKey, dsaEncoding: "ieee-p1363" });
  fs.writeFileSync(path.join(dir, "report.json"), bytes);
  const sig = {
    schema: SIGNATURE_SCHEMA,
    keyLabel: key.label,
    fingerprint: key.fingerprint,
    algorithm: "ECDSA-P256-SHA256",
    signature: signature.toString("base64"),
  };
  fs.writeFileSync(path.join(dir, "report.json.sig"), JSON.stringify(sig));
  return bytes;
}

const DATES = ["2026-03-01T10:00:00.000Z", "2026-03-02T10:00:00.000Z", "2026-03-03T10:00:00.000Z"];
const folderOf = (i: number) => `2026030${i + 1}T100000Z-${SHA.slice(0, 12)}`;

/** A chain of three reports in <tmp>/producao, each written after nextLink says where it goes. */
function chainOfThree(key: Key): string {
  const stackDir = path.join(tempDir("evidencias"), "producao");
  for (const [i, at] of DATES.entries())
    writeFolder(path.join(stackDir, folderOf(i)), report(key, at, nextLink(stackDir)), key);
  return stackDir;
}

describe("evidence trust anchor", () => {
  const key = makeKey("evidencias-v1");

  it("reads an anchor file and refuses one with a missing field or a PEM that is not its fingerprint", () => {
    const dir = tempDir("ancora");
    const file = path.join(dir, "producao.yaml");
    fs.writeFileSync(file, anchorText(anchorOf([{ key, from: DATES[0] }])));
    expect(loadAnchor(file).keys[0].fingerprint).toBe(key.fingerprint);
    const without = anchorOf([{ key, from: DATES[0] }]) as unknown as { keys: Record<string, unknown>[] };
    delete without.keys[0].purpose;
    fs.writeFileSync(file, stringify(without));
    expect(() => loadAnchor(file)).toThrow(
      /producao\.yaml.*keys\.0\.purpose: Invalid literal value, expected "evidence-signing"/,
    );
    const other = makeKey("outra");
    fs.writeFileSync(
      file,
      stringify({
        ...anchorOf([{ key, from: DATES[0] }]),
        keys: [{ ...anchorOf([{ key, from: DATES[0] }]).keys[0], publicKey: other.publicKey }],
      }),
    );
    expect(() => loadAnchor(file)).toThrow(`publicKey has fingerprint ${other.fingerprint}, not ${key.fingerprint}`);
    expect(() => loadAnchor(path.join(dir, "absent.yaml"))).toThrow(/does not exist: run npm run evidence:anchor/);
  });

  it("rotates: a new key is valid from now, the old one is closed at now and stays", () => {
    const next = makeKey("evidencias-v2");
    const now = new Date("2026-06-01T00:00:00.000Z");
    const r = rotateAnchor(anchorOf([{ key, from: DATES[0] }]), [next], now);
    expect(r.anchor.keys.map((k) => [k.label, k.validFrom, k.validUntil])).toEqual([
      ["evidencias-v1", DATES[0], now.toISOString()],
      ["evidencias-v2", now.toISOString(), null],
    ]);
    expect(r.changes).toHaveLength(2);
    expect(rotateAnchor(r.anchor, [next], new Date("2026-07-01T00:00:00.000Z")).changes).toEqual([]);
  });
});

describe("one evidence report", () => {
  const key = makeKey("evidencias-v1");
  const anchor = anchorOf([{ key, from: DATES[0] }]);

  it("verifies with the anchor's key", () => {
    const dir = path.join(tempDir("rel"), folderOf(0));
    writeFolder(dir, report(key, DATES[1], { sequence: 1, previous: null }), key);
    expect(verifyFolder(dir, anchor, "a.yaml").problems).toEqual([]);
  });

  it("refuses a forged report re-signed with a key that a cluster ConfigMap publishes but the anchor does not list", () => {
    const dir = path.join(tempDir("rel"), folderOf(0));
    const forger = makeKey("evidencias-v1");
    // What the forger wrote into the cluster: the ConfigMap the old verifier trusted. Nothing reads it now.
    fs.writeFileSync(
      path.join(path.dirname(dir), "cartorio-kms-inventory.yaml"),
      stringify({
        kind: "ConfigMap",
        metadata: { name: "cartorio-kms-inventory" },
        data: {
          "inventory.json": JSON.stringify({
            keys: [
              {
                label: forger.label,
                purpose: "evidence-signing",
                fingerprint: forger.fingerprint,
                publicKey: forger.publicKey,
              },
            ],
          }),
        },
      }),
    );
    const forged = report(
      forger,
      DATES[1],
      { sequence: 1, previous: null },
      { commit: { sha: "b".repeat(40), dirty: false } },
    );
    writeFolder(dir, forged, forger);
    const problems = verifyFolder(dir, anchor, "configs/evidencias/producao.yaml").problems;
    expect(problems.join("\n")).toContain(
      `key evidencias-v1 (${forger.fingerprint}) is not in the trust anchor configs/evidencias/producao.yaml`,
    );
  });

  it("refuses a report dated outside its key's period, and accepts a retired key's report from its period", () => {
    const dir = path.join(tempDir("rel"), folderOf(0));
    writeFolder(dir, report(key, DATES[1], { sequence: 1, previous: null }), key);
    const retired = anchorOf([{ key, from: DATES[0], until: DATES[2] }]);
    expect(verifyFolder(dir, retired, "a.yaml").problems).toEqual([]);
    const early = anchorOf([{ key, from: DATES[2] }]);
    expect(verifyFolder(dir, early, "a.yaml").problems.join("\n")).toMatch(
      /dated 2026-03-02T10:00:00.000Z, outside the period of key evidencias-v1/,
    );
    const ended = anchorOf([{ key, from: DATES[0], until: DATES[1] }]);
    expect(verifyFolder(dir, ended, "a.yaml").problems.join("\n")).toMatch(/outside the period/);
  });

  it("names what is missing: the signature file, a section, a field", () => {
    const dir = path.join(tempDir("rel"), folderOf(0));
    const r = report(key, DATES[1], { sequence: 1, previous: null });
    writeFolder(dir, r, key);
    fs.rmSync(path.join(dir, "report.json.sig"));
    expect(verifyFolder(dir, anchor, "a.yaml").problems).toEqual(["report.json.sig is missing"]);
    const noKeys = { ...r } as Partial<EvidenceReport>;
    delete noKeys.keys;
    writeFolder(dir, noKeys as EvidenceReport, key);
    expect(verifyFolder(dir, anchor, "a.yaml").problems.join("\n")).toMatch(/keys: Required/);
    const noChain = { ...r, chain: { sequence: 1 } } as unknown as EvidenceReport;
    writeFolder(dir, noChain, key);
    expect(verifyFolder(dir, anchor, "a.yaml").problems.join("\n")).toMatch(/chain\.previous: Required/);
  });

  it("refuses a report written before Flux applied its commit, and one whose keys did not conform", () => {
    const dir = path.join(tempDir("rel"), folderOf(0));
    const flux = {
      expected: SHA,
      revision: `main@sha1:${"c".repeat(40)}`,
      converged: false,
      detail: "Kustomization Ready=False",
      waitedSeconds: 300,
      source: "s",
    };
    writeFolder(
      dir,
      report(key, DATES[1], { sequence: 1, previous: null }, { flux: { status: "collected", data: flux } }),
      key,
    );
    expect(verifyFolder(dir, anchor, "a.yaml").problems.join("\n")).toMatch(
      /flux\.converged is false: the report was written before Flux applied commit a{40}/,
    );
    const converged = { ...flux, converged: true, revision: `main@sha1:${SHA}` };
    writeFolder(
      dir,
      report(key, DATES[1], { sequence: 1, previous: null }, { flux: { status: "collected", data: converged } }),
      key,
    );
    expect(verifyFolder(dir, anchor, "a.yaml").problems).toEqual([]);
    const stale = { ...converged, revision: `main@sha1:${"c".repeat(40)}` };
    writeFolder(
      dir,
      report(key, DATES[1], { sequence: 1, previous: null }, { flux: { status: "collected", data: stale } }),
      key,
    );
    expect(verifyFolder(dir, anchor, "a.yaml").problems.join("\n")).toMatch(/is not the report's commit/);
    const planted = {
      label: "atos-notariais-v1",
      purpose: "notarial-signing",
      algorithm: "EC P-384",
      token: "assinatura",
      state: "active" as const,
      activatedOn: "2026-01-01",
      endsOn: "2027-12-31",
      daysLeft: 400,
      cryptoperiod: "ok" as const,
      fingerprint: null,
      present: "yes" as const,
      problems: ["CKA_EXTRACTABLE is true (expected false: the private key must never leave the HSM)"],
      attestation: null,
    };
    const signer = {
      ...planted,
      label: key.label,
      purpose: "evidence-signing",
      fingerprint: key.fingerprint,
      problems: [],
    };
    writeFolder(
      dir,
      report(
        key,
        DATES[1],
        { sequence: 1, previous: null },
        { keys: { status: "collected", data: { warnDays: 90, keys: [planted, signer] } } },
      ),
      key,
    );
    expect(verifyFolder(dir, anchor, "a.yaml").problems.join("\n")).toContain(
      "keys: atos-notariais-v1 does not conform: CKA_EXTRACTABLE is true",
    );
  });
});

describe("the evidence chain", () => {
  const key = makeKey("evidencias-v1");
  const anchor = anchorOf([{ key, from: DATES[0] }]);

  it("holds for three reports written in turn", () => {
    const stackDir = chainOfThree(key);
    const r = verifyChain(stackDir, anchor, "a.yaml");
    expect(r.problems).toEqual([]);
    expect(r.links.map((l) => l.sequence)).toEqual([1, 2, 3]);
    expect(nextLink(stackDir)).toEqual({
      sequence: 4,
      previous: {
        sequence: 3,
        folder: folderOf(2),
        digest: reportDigest(fs.readFileSync(path.join(stackDir, folderOf(2), "report.json"))),
      },
    });
  });

  it("names the gap when the middle report is deleted", () => {
    const stackDir = chainOfThree(key);
    fs.rmSync(path.join(stackDir, folderOf(1)), { recursive: true });
    expect(verifyChain(stackDir, anchor, "a.yaml").problems).toEqual([
      `sequence 2 missing between ${folderOf(0)} (sequence 1) and ${folderOf(2)} (sequence 3): a report was deleted`,
    ]);
  });

  it("names the start when the first report is deleted", () => {
    const stackDir = chainOfThree(key);
    fs.rmSync(path.join(stackDir, folderOf(0)), { recursive: true });
    expect(verifyChain(stackDir, anchor, "a.yaml").problems[0]).toMatch(
      /^the chain starts at sequence 2 .*report 1 is missing/,
    );
  });

  it("names an altered report (its signature) and a re-signed one (the link after it)", () => {
    const altered = chainOfThree(key);
    const file = path.join(altered, folderOf(1), "report.json");
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace('"revisora"', '"outra"'));
    expect(verifyChain(altered, anchor, "a.yaml").problems).toEqual([
      `${folderOf(1)}: the signature does not match report.json (changed after signing, or another key signed it)`,
    ]);
    // Changed and re-signed with the anchor's own key (someone who holds the HSM): the next link breaks.
    const resigned = chainOfThree(key);
    const r2 = JSON.parse(fs.readFileSync(path.join(resigned, folderOf(1), "report.json"), "utf8")) as EvidenceReport;
    writeFolder(path.join(resigned, folderOf(1)), { ...r2, approval: { ...r2.approval, approvedBy: "outra" } }, key);
    expect(verifyChain(resigned, anchor, "a.yaml").problems[0]).toMatch(
      new RegExp(
        `^${folderOf(2)} \\(sequence 3\\) names ${folderOf(1)} sha256:[0-9a-f]{64} as its previous report, but sequence 2 is ${folderOf(1)} sha256:[0-9a-f]{64}: altered, replaced or moved$`,
      ),
    );
  });

  it("names a report re-signed with a key the anchor does not list, and reordered reports", () => {
    const stackDir = chainOfThree(key);
    const r2 = JSON.parse(fs.readFileSync(path.join(stackDir, folderOf(1), "report.json"), "utf8")) as EvidenceReport;
    const stranger = makeKey("evidencias-v1");
    writeFolder(
      path.join(stackDir, folderOf(1)),
      { ...r2, signer: { ...r2.signer, fingerprint: stranger.fingerprint } },
      stranger,
    );
    expect(verifyChain(stackDir, anchor, "a.yaml").problems[0]).toMatch(
      new RegExp(
        `^${folderOf(1)}: key evidencias-v1 \\(${stranger.fingerprint.replace(/[+/]/g, "\\$&")}\\) is not in the trust anchor`,
      ),
    );
    // Two reports swapped in time: sequence 2 dated after sequence 3.
    const swapped = path.join(tempDir("evidencias"), "producao");
    for (const [i, at] of [DATES[0], DATES[2], DATES[1]].entries())
      writeFolder(path.join(swapped, folderOf(i)), report(key, at, nextLink(swapped)), key);
    expect(verifyChain(swapped, anchor, "a.yaml").problems).toEqual([
      `${folderOf(2)} (sequence 3) is dated before ${folderOf(1)}: reordered`,
    ]);
  });

  it("refuses to continue a chain whose newest report has no sequence", () => {
    const stackDir = path.join(tempDir("evidencias"), "producao");
    fs.mkdirSync(path.join(stackDir, folderOf(0)), { recursive: true });
    fs.writeFileSync(
      path.join(stackDir, folderOf(0), "report.json"),
      JSON.stringify({ schema: "cartorio.digital/evidencia/v1" }),
    );
    expect(() => nextLink(stackDir)).toThrow(/has no chain\.sequence/);
    expect(nextLink(path.join(stackDir, "nada"))).toEqual({ sequence: 1, previous: null });
  });
});
