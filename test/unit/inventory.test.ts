/** The key inventory: both files validate; malformed files name the file, the key path and the fix. */
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { InventoryError, loadInventory, parseInventory } from "../../components/keys/inventory";
import { PROJECT_ROOT } from "../helpers/tools";

const good = `
apiVersion: cartorio.digital/v1
kind: KmsInventory
metadata:
  name: teste
version: 1
tokens:
  - name: assinatura
    label: cartorio-assinatura
    mechanisms: [CKM_ECDSA]
keys:
  - id: atos-notariais
    purpose: notarial-signing
    algorithm: EC
    curve: P-384
    token: assinatura
    version: 1
    cryptoperiodDays: 730
    activatedOn: "2026-01-05"
    state: active
`;

function problems(text: string): string[] {
  try {
    parseInventory(text, "configs/kms/teste.yaml");
  } catch (e) {
    expect(e).toBeInstanceOf(InventoryError);
    expect((e as Error).message).toMatch(/^configs\/kms\/teste\.yaml: /);
    return (e as InventoryError).problems;
  }
  throw new Error("expected the inventory to be refused");
}

describe("key inventory", () => {
  it("the producao and local inventories validate", () => {
    const prod = loadInventory(path.join(PROJECT_ROOT, "configs/kms/producao.yaml"));
    expect(prod.keys.filter((k) => k.state === "active").map((k) => k.id)).toEqual([
      "atos-notariais",
      "selo-digital",
      "evidencias",
      "api-tls",
    ]);
    expect(prod.tokens[0].serial).toBe("4a1c9e0b7d3f2a65");
    const local = loadInventory(path.join(PROJECT_ROOT, "configs/kms/local.yaml"));
    expect(local.tokens.map((t) => t.label)).toEqual(["cartorio-local"]);
  });

  it("accepts the minimal good example", () => {
    expect(parseInventory(good, "x.yaml").keys).toHaveLength(1);
  });

  const malformed: [string, string, RegExp][] = [
    ["empty file", "", /the file is empty/],
    ["not YAML", "version: 1\ntokens: [\n", /invalid YAML at line/],
    ["wrong kind", good.replace("kind: KmsInventory", "kind: ConfigMap"), /^kind: expected kind KmsInventory/],
    ["duplicate YAML key", good.replace("version: 1\n", "version: 1\nversion: 1\n"), /invalid YAML/],
    [
      "wrong format version",
      good.replace("version: 1\n", "version: 2\n"),
      /^version: expected inventory format version 1/,
    ],
    [
      "unknown algorithm",
      good.replace("algorithm: EC", "algorithm: DSA"),
      /^keys\[0\]\.algorithm: expected one of EC, RSA, got "DSA"/,
    ],
    ["EC without curve", good.replace("    curve: P-384\n", ""), /^keys\[0\]\.curve: expected a curve/],
    [
      "RSA without size",
      good.replace("algorithm: EC", "algorithm: RSA").replace("    curve: P-384\n", ""),
      /^keys\[0\]\.size: expected a size in bits/,
    ],
    [
      "key on an unknown token",
      good.replace("token: assinatura", "token: selo"),
      /^keys\[0\]\.token: expected one of the tokens \(assinatura\); add token 'selo'/,
    ],
    [
      "negative cryptoperiod",
      good.replace("cryptoperiodDays: 730", "cryptoperiodDays: -30"),
      /^keys\[0\]\.cryptoperiodDays: expected a positive number of days/,
    ],
    [
      "bad mechanism name",
      good.replace("[CKM_ECDSA]", "[ecdsa]"),
      /^tokens\[0\]\.mechanisms\[0\]: expected a PKCS#11 mechanism name/,
    ],
    [
      "label too long",
      good.replace("label: cartorio-assinatura", `label: ${"x".repeat(40)}`),
      /^tokens\[0\]\.label: expected a label of at most 32/,
    ],
    ["missing version", good.replace("    version: 1\n", ""), /^keys\[0\]\.version: missing; expected number/],
    [
      "unknown key",
      good.replace("    state: active", "    state: active\n    exportable: true"),
      /^keys\[0\]: unknown key\(s\) exportable/,
    ],
    [
      "impossible date",
      good.replace('"2026-01-05"', '"2026-13-45"'),
      /^keys\[0\]\.activatedOn: expected a real calendar date/,
    ],
    [
      "two active versions",
      good + good.split("keys:\n")[1].replace("version: 1", "version: 2").replace(/^/, ""),
      /expected one active version of 'atos-notariais'/,
    ],
  ];

  it.each(malformed)("%s", (_name, text, expected) => {
    const list = problems(text);
    expect(
      list.some((p) => expected.test(p)),
      `${JSON.stringify(list)} should match ${expected}`,
    ).toBe(true);
  });

  it("reports every problem of a file at once", () => {
    const text = good
      .replace("algorithm: EC", "algorithm: DSA")
      .replace("token: assinatura", "token: selo")
      .replace("cryptoperiodDays: 730", "cryptoperiodDays: 0");
    expect(problems(text).length).toBeGreaterThanOrEqual(3);
  });

  it("names an unreadable file and the config key to fix", () => {
    expect(() => loadInventory("/nao/existe.yaml")).toThrow(/\/nao\/existe\.yaml: .*ENOENT.*kms\.inventory/s);
  });
});
