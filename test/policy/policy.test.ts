/**
 * The two enforcers of the rulebook: the Rego rules (real conftest) and the
 * pack's rule logic agree on the same documents. (The full parity corpus grows
 * with the catalogue.)
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { loadCatalogue } from "../../components/policy/catalogue";
import { K8sObject, RULES } from "../../components/policy/rules";
import { PROJECT_ROOT, tempDir, toolsBin } from "../helpers/tools";

const conftest = path.join(toolsBin(), "conftest");
const catalogue = loadCatalogue();

function conftestVerdicts(docs: Record<string, K8sObject>): Record<string, string[]> {
  if (!fs.existsSync(conftest)) throw new Error(`conftest is not built at ${conftest}: run scripts/toolchain/build.sh`);
  const dir = tempDir("corpus");
  for (const [name, doc] of Object.entries(docs)) fs.writeFileSync(path.join(dir, `${name}.yaml`), stringify(doc));
  const res = spawnSync(
    conftest,
    [
      "test",
      dir,
      "--policy",
      path.join(PROJECT_ROOT, "policies"),
      "--data",
      path.join(PROJECT_ROOT, "policies/catalogue.yaml"),
      "--output",
      "json",
      "--no-color",
    ],
    { encoding: "utf8" },
  );
  if (res.status !== 0 && res.status !== 1) throw new Error(`conftest failed: ${res.stderr}`);
  const out: Record<string, string[]> = {};
  for (const r of JSON.parse(res.stdout) as { filename: string; failures?: { msg: string }[] }[]) {
    out[path.basename(r.filename, ".yaml")] = (r.failures ?? []).map((f) => f.msg).sort();
  }
  return out;
}

function packVerdicts(docs: Record<string, K8sObject>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, doc] of Object.entries(docs)) {
    out[name] = catalogue.rules
      .filter((r) => r.kinds.includes(doc.kind!))
      .flatMap((r) => RULES[r.id](doc, catalogue.parameters))
      .sort();
  }
  return out;
}

const labels = {
  "app.kubernetes.io/name": "cartorio-api",
  "app.kubernetes.io/part-of": "cartorio-plataforma",
  "cartorio.digital/owner": "time-aplicacao",
  "cartorio.digital/data-classification": "confidencial",
  "cartorio.digital/citizen-facing": "true",
};
const hpa = (min: number | undefined, l: Record<string, string> = labels): K8sObject => ({
  apiVersion: "autoscaling/v2",
  kind: "HorizontalPodAutoscaler",
  metadata: { name: "cartorio-api", namespace: "cartorio", labels: l },
  spec: { ...(min === undefined ? {} : { minReplicas: min }), maxReplicas: 10 },
});
const without = (k: string) => Object.fromEntries(Object.entries(labels).filter(([x]) => x !== k));

describe("rulebook", () => {
  it("every catalogue rule has an implementation in the pack and a deny rule in Rego", () => {
    const rego = fs
      .readdirSync(path.join(PROJECT_ROOT, "policies"))
      .filter((f) => f.endsWith(".rego") && !f.endsWith("_test.rego"))
      .map((f) => fs.readFileSync(path.join(PROJECT_ROOT, "policies", f), "utf8"))
      .join("\n");
    for (const rule of catalogue.rules) {
      expect(RULES[rule.id], `${rule.id} in components/policy/rules.ts`).toBeDefined();
      expect(rego, `${rule.id} in policies/*.rego`).toContain(
        `deny_${rule.id.toLowerCase().replace(/-/g, "_")} contains`,
      );
    }
    expect(Object.keys(RULES).sort()).toEqual(catalogue.rules.map((r) => r.id).sort());
  });

  it("the Rego unit tests pass (conftest verify)", () => {
    const out = execFileSync(conftest, ["verify", "--policy", path.join(PROJECT_ROOT, "policies"), "--no-color"], {
      encoding: "utf8",
    });
    expect(out).toMatch(/(\d+) tests, \1 passed, 0 warnings, 0 failures/);
  });

  it("conftest and the pack's logic give the same verdicts on the same documents", () => {
    const docs: Record<string, K8sObject> = {
      "hpa-ok": hpa(3),
      "hpa-min-1": hpa(1),
      "hpa-no-min": hpa(undefined),
      "hpa-not-citizen-facing": hpa(1, without("cartorio.digital/citizen-facing")),
      "hpa-no-owner": hpa(3, without("cartorio.digital/owner")),
      "hpa-bad-classification": hpa(3, { ...labels, "cartorio.digital/data-classification": "secreto" }),
      "namespace-no-labels": { apiVersion: "v1", kind: "Namespace", metadata: { name: "cartorio" } },
      "configmap-ignored": { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x" } },
    };
    const rego = conftestVerdicts(docs);
    const pack = packVerdicts(docs);
    expect(rego).toEqual(pack);
    // The corpus exercises both verdicts of both rules.
    expect(pack["hpa-ok"]).toEqual([]);
    expect(pack["hpa-min-1"]).toEqual([expect.stringMatching(/^CART-SCL-001: /)]);
    expect(pack["namespace-no-labels"]).toHaveLength(4);
  });
});
