/**
 * What the ensaio stack may change of producao's configuration, and nothing else: its endpoints. The
 * rehearsal is worth something only while Pulumi.ensaio.yaml is producao's configuration; configDiff is how
 * test/unit/ensaio.test.ts (and npm run ensaio, before it starts) holds it to that. No Pulumi import.
 */
import * as fs from "node:fs";
import { isMap, isScalar, parseDocument } from "yaml";

const NS = "cartorio-plataforma:";

/** Keys (dotted, without the project namespace) that ensaio points at a local stand-in, and why. */
export const ENDPOINT_KEYS: Record<string, string> = {
  encryptionsalt: "the rehearsal's passphrase provider (no secret of value)",
  secretsprovider: "producao's AWS KMS key; the rehearsal has no cloud account",
  "kubernetes.kubeconfig": "the embedded cluster in place of producao's",
  "kubernetes.context": "the embedded cluster's context",
  "gitops.git.server": "the embedded cluster's Git server, as github.com",
  "gitops.git.localDir": "where that server keeps its address and host key",
  "gitops.maintainerKeys": "stand-ins of the trusted signers (GitHub's web-flow key, the App's, a maintainer's)",
  "gitops.github.api": "GitHub without GitHub: requests written as JSON",
  "gitops.github.recordDir": "where those requests are written",
  "kms.inventory": "producao's inventory with the SoftHSM2 tokens' serials (ensaioInventory)",
  "kms.module": "SoftHSM2 in place of the HSM vendor's PKCS#11 module",
  "loadtest.target": "a stand-in of the API of known capacity",
  "loadtest.k6Path": "k6's stand-in (k6 cannot be installed here; producao's deploy runner has the pinned k6)",
  "evidence.anchor": "the rehearsal token's evidence key and its anchor",
  "admission.server": "OPA as the embedded cluster's process (simulated pods serve nothing)",
};

/** Leaf values of a stack file by dotted key: config keys without the project namespace, top-level keys as is. */
export function stackLeaves(text: string, file: string): Map<string, string> {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0].message}`);
  const out = new Map<string, string>();
  const walk = (node: unknown, key: string) => {
    if (isMap(node)) {
      for (const item of node.items) {
        const k = String(isScalar(item.key) ? item.key.value : item.key);
        walk(item.value, key ? `${key}.${k}` : k);
      }
    } else
      out.set(
        key,
        JSON.stringify(isScalar(node) ? node.value : ((node as { toJSON?: () => unknown })?.toJSON?.() ?? node)),
      );
  };
  const root = doc.contents;
  if (!isMap(root)) throw new Error(`${file}: expected a mapping`);
  for (const item of root.items) {
    const top = String(isScalar(item.key) ? item.key.value : item.key);
    if (top !== "config") walk(item.value, top);
    else if (isMap(item.value))
      for (const c of item.value.items) walk(c.value, String(isScalar(c.key) ? c.key.value : c.key).replace(NS, ""));
  }
  return out;
}

export interface ConfigDifference {
  key: string;
  producao: string | undefined;
  ensaio: string | undefined;
}

/** Every key whose value differs between the two files and is not an endpoint. */
export function configDiff(producao: string, ensaio: string): ConfigDifference[] {
  const p = stackLeaves(producao, "Pulumi.producao.yaml");
  const e = stackLeaves(ensaio, "Pulumi.ensaio.yaml");
  const keys = [...new Set([...p.keys(), ...e.keys()])].sort();
  return keys
    .filter((k) => p.get(k) !== e.get(k) && !(k in ENDPOINT_KEYS))
    .map((k) => ({ key: k, producao: p.get(k), ensaio: e.get(k) }));
}

/** configDiff as an error naming each key, or nothing. */
export function assertRehearsesProducao(root: string): void {
  const read = (f: string) => fs.readFileSync(`${root}/${f}`, "utf8");
  const diff = configDiff(read("Pulumi.producao.yaml"), read("Pulumi.ensaio.yaml"));
  if (diff.length)
    throw new Error(
      `Pulumi.ensaio.yaml differs from Pulumi.producao.yaml beyond its endpoints:\n` +
        diff
          .map((d) => `  - ${d.key}: producao ${d.producao ?? "(unset)"}, ensaio ${d.ensaio ?? "(unset)"}`)
          .join("\n") +
        `\n  fix: carry producao's value into Pulumi.ensaio.yaml (or, for a new endpoint, allow-list it in scripts/ensaio/standins.ts with its reason)`,
    );
}

/**
 * producao's key inventory for the rehearsal's tokens: the same text, with each pinned serial replaced by the
 * serial of the SoftHSM2 token of that label (SoftHSM2 chooses serials; producao pins its HSM partition's).
 */
export function ensaioInventory(producaoText: string, serialsByLabel: Record<string, string>): string {
  const doc = parseDocument(producaoText);
  const tokens = doc.get("tokens");
  if (!tokens || !("items" in (tokens as object))) throw new Error("configs/kms/producao.yaml: no tokens list");
  for (const t of (tokens as { items: unknown[] }).items) {
    if (!isMap(t)) continue;
    const label = String(t.get("label"));
    if (t.has("serial")) {
      const serial = serialsByLabel[label];
      if (!serial) throw new Error(`no SoftHSM2 token labelled ${label} to stand in for producao's`);
      t.set("serial", serial);
    }
  }
  return `# Written by npm run ensaio from configs/kms/producao.yaml: only the serials differ (the SoftHSM2 tokens').\n${doc.toString()}`;
}
