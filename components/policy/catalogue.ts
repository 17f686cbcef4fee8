/**
 * The rule catalogue (policies/catalogue.yaml), typed. Both enforcers read the
 * same file: conftest through --data, the CrossGuard pack through this module.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { z } from "zod";

export const CATALOGUE_FILE = path.resolve(__dirname, "../../policies/catalogue.yaml");

const ruleSchema = z
  .object({
    id: z.string().regex(/^CART-[A-Z0-9]+-\d{3}$/),
    title: z.string().min(1),
    severity: z.enum(["low", "medium", "high", "critical"]),
    enforcement: z.enum(["advisory", "mandatory", "disabled"]),
    /** Kind names, or the groups "*" (every document), "workload", "labelled", "inventory" and "set" (several documents). */
    kinds: z.array(z.string().min(1)).min(1),
    checks: z.string().min(1),
    sources: z.array(z.string().min(1)).min(1),
  })
  .strict();

const catalogueSchema = z
  .object({
    catalogue: z
      .object({
        version: z.literal(1),
        parameters: z
          .object({
            workloadKinds: z.array(z.string().min(1)).min(1),
            knownKinds: z.array(z.string().min(1)).min(1),
            requiredLabels: z.array(z.string().min(1)),
            labelledKinds: z.array(z.string().min(1)),
            dataClassificationLabel: z.string().min(1),
            dataClassifications: z.array(z.string().min(1)).min(1),
            citizenFacingLabel: z.string().min(1),
            minReplicasCitizenFacing: z.number().int().min(1),
            allowedRegistries: z.array(z.string().min(1)).min(1),
            allowedVolumeTypes: z.array(z.string().min(1)).min(1),
            allowedAddedCapabilities: z.array(z.string()),
            allowedSeccompProfiles: z.array(z.string().min(1)).min(1),
            networkPolicyExemptNamespaces: z.array(z.string()),
            privateKeySecretExemptions: z.array(z.string().regex(/^[^/]+\/[^/]+$/)),
            gitops: z.object({ url: z.string().min(1), branch: z.string().min(1), path: z.string().min(1) }).strict(),
            kms: z
              .object({
                allowedAlgorithms: z
                  .object({ EC: z.array(z.string().min(1)), RSA: z.array(z.number().int().positive()) })
                  .strict(),
                maxCryptoperiodDays: z.record(z.string(), z.number().int().positive()),
              })
              .strict(),
          })
          .strict(),
        rules: z.array(ruleSchema).min(1),
      })
      .strict(),
  })
  .strict();

export type Catalogue = z.infer<typeof catalogueSchema>["catalogue"];
export type RuleEntry = Catalogue["rules"][number];
export type Parameters = Catalogue["parameters"];

export function loadCatalogue(file: string = CATALOGUE_FILE): Catalogue {
  const parsed = catalogueSchema.safeParse(parse(fs.readFileSync(file, "utf8")));
  if (!parsed.success) {
    throw new Error(
      `${file}: invalid rule catalogue:\n` +
        parsed.error.issues.map((i) => `  - ${i.path.join(".")}: ${i.message}`).join("\n"),
    );
  }
  const ids = parsed.data.catalogue.rules.map((r) => r.id);
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup) throw new Error(`${file}: rule id ${dup} appears twice`);
  return parsed.data.catalogue;
}
