/**
 * The ensaio stack is producao's configuration: Pulumi.ensaio.yaml may differ from Pulumi.producao.yaml only in
 * its allow-listed endpoints (scripts/ensaio/standins.ts), and its key inventory only in the tokens' serials.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { rawFromStackFile } from "../../components/config/load";
import { platformSchema } from "../../components/config/schema";
import { configDiff, ENDPOINT_KEYS, ensaioInventory, stackLeaves } from "../../scripts/ensaio/standins";
import { PROJECT_ROOT } from "../helpers/tools";

const read = (f: string) => fs.readFileSync(path.join(PROJECT_ROOT, f), "utf8");
const producao = read("Pulumi.producao.yaml");
const ensaio = read("Pulumi.ensaio.yaml");

describe("ensaio rehearses producao", () => {
  it("Pulumi.ensaio.yaml differs from Pulumi.producao.yaml only in allow-listed endpoints", () => {
    expect(configDiff(producao, ensaio)).toEqual([]);
    // Every allow-listed key is one ensaio really changes (a stale entry would hide a future difference).
    const p = stackLeaves(producao, "p");
    const e = stackLeaves(ensaio, "e");
    const changed = Object.keys(ENDPOINT_KEYS).filter((k) => p.get(k) !== e.get(k));
    expect(changed.sort()).toEqual(Object.keys(ENDPOINT_KEYS).sort());
  });

  it("a change to producao that ensaio does not carry fails it, and so does one ensaio makes alone", () => {
    const planted = producao.replace("maxReplicas: 30", "maxReplicas: 40");
    expect(planted).not.toBe(producao);
    expect(configDiff(planted, ensaio)).toEqual([{ key: "scaling.maxReplicas", producao: "40", ensaio: "30" }]);
    // A key producao gains (a new setting) is missing from ensaio.
    const added = producao.replace("    mode: gate\n", "    mode: gate\n    timeoutSeconds: 1200\n");
    expect(configDiff(added, ensaio)).toEqual([
      { key: "loadtest.timeoutSeconds", producao: "1200", ensaio: undefined },
    ]);
    // ensaio switching a feature off is not an endpoint.
    const weakened = ensaio.replace("    loadtest: true", "    loadtest: false");
    expect(configDiff(producao, weakened)).toEqual([{ key: "features.loadtest", producao: "true", ensaio: "false" }]);
  });

  it("both files validate, and ensaio sends nothing to GitHub (record) and verifies signed history like producao", () => {
    // The schema's verdict (the file checks need what npm run ensaio writes: its inventory and keys).
    const e = platformSchema.parse(rawFromStackFile(path.join(PROJECT_ROOT, "Pulumi.ensaio.yaml")));
    const p = platformSchema.parse(rawFromStackFile(path.join(PROJECT_ROOT, "Pulumi.producao.yaml")));
    expect(e.gitops.github.api).toBe("record");
    expect(p.gitops.github.api).toBe("github");
    expect(e.gitops.requireSignedCommits).toBe(true);
    expect(e.loadtest.mode).toBe(p.loadtest.mode);
    expect(e.features).toEqual(p.features);
    expect(e.gitops.flux).toEqual(p.gitops.flux);
  });

  it("the rehearsal's inventory is producao's with the stand-in tokens' serials, nothing else", () => {
    const text = read("configs/kms/producao.yaml");
    const out = ensaioInventory(text, { "cartorio-assinatura": "0123abcd4567ef89" });
    const a = parse(text);
    const b = parse(out);
    expect(b.tokens[0].serial).toBe("0123abcd4567ef89");
    b.tokens[0].serial = a.tokens[0].serial;
    expect(b).toEqual(a);
    expect(() => ensaioInventory(text, {})).toThrow(/no SoftHSM2 token labelled cartorio-assinatura/);
  });
});
