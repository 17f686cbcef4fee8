/**
 * The rule catalogue (policies/catalogue.yaml), typed. Both enforcers read the
 * same file: conftest through --data, the CrossGuard pack through this module.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { z } from "zod";

export const CATALOGUE_FILE = path.resolve(__dirname, "../../policies/catalogue.yaml");

/** The controls of the Pod Security Standards (kubernetes.io/docs/concepts/security/pod-security-standards), by title. */
export const PSS_CONTROLS = [
  "HostProcess",
  "Host Namespaces",
  "Privileged Containers",
  "Capabilities",
  "HostPath Volumes",
  "Host Ports",
  "Host Probes / Lifecycle Hooks",
  "AppArmor",
  "SELinux",
  "/proc Mount Type",
  "Seccomp",
  "Sysctls",
  "Volume Types",
  "Privilege Escalation",
  "Running as Non-root",
  "Running as Non-root user",
] as const;

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
    /**
     * The Pod Security Standards controls the rule enforces (its level and the control's name as the standard
     * titles it): the fuzzer's third oracle, the API server's Pod Security admission, must agree with the rule
     * on them (test/policy/psa-oracle.test.ts).
     */
    podSecurity: z
      .array(z.object({ level: z.enum(["baseline", "restricted"]), control: z.enum(PSS_CONTROLS) }).strict())
      .min(1)
      .optional(),
  })
  .strict();

const ISO_DAY = /^\d{4}-\d{2}-\d{2}$/;

/** Field paths ("a.b", "a[].b", "labels.*") and the JSON type Kubernetes gives them. */
const shapeMap = z.record(
  z
    .string()
    .regex(
      /^[A-Za-z][A-Za-z0-9]*(\[\])?(\.([A-Za-z][A-Za-z0-9]*(\[\])?|\*))*$/,
      "expected a field path such as spec.ports[].hostPort",
    ),
  z.enum(["string", "boolean", "integer", "number", "object", "array", "int-or-string"]),
);

/**
 * An accepted deviation from one rule: in force for the findings whose subject (kind,
 * namespace, name, as the message names it) falls in its scope, until its expiry day, on
 * both enforcers alike. Once expired it no longer excepts anything and is itself a
 * violation (CART-EXC-001).
 */
const exceptionSchema = z
  .object({
    rule: z.string().regex(/^CART-[A-Z0-9]+-\d{3}$/, "expected a rule id such as CART-IMG-001"),
    scope: z
      .object({ namespace: z.string().min(1), kind: z.string().min(1), name: z.string().min(1) })
      .partial()
      .strict()
      .refine((s) => !!(s.namespace || s.kind || s.name), "expected a scope: namespace, kind and/or name"),
    owner: z.string().min(1),
    reason: z.string().min(20, "expected a reason a reviewer can judge (at least 20 characters)"),
    /** The first day it no longer applies (UTC), YYYY-MM-DD. */
    expires: z
      .string()
      .regex(ISO_DAY, "expected a date YYYY-MM-DD")
      .refine((d) => {
        const t = Date.parse(`${d}T00:00:00Z`);
        return !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === d;
      }, "expected a real date"),
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
            allowedAppArmorProfiles: z.array(z.string().min(1)).min(1),
            allowedSELinuxTypes: z.array(z.string()),
            safeSysctls: z.array(z.string().min(1)),
            /** Namespaces CART-PSS-016 does not ask to enforce Pod Security restricted (Kubernetes' own). */
            podSecurityExemptNamespaces: z.array(z.string()),
            networkPolicyExemptNamespaces: z.array(z.string()),
            privateKeySecretExemptions: z.array(z.string().regex(/^[^/]+\/[^/]+$/)),
            gitops: z
              .object({
                url: z.string().min(1),
                /** A regular expression (the same in RE2 and JavaScript) for the local stack's loopback clone. */
                localUrlPattern: z.string().min(1),
                branch: z.string().min(1),
                path: z.string().min(1),
                /** The sync from the institutional repository must verify commit signatures (spec.verify). */
                requireVerify: z.boolean(),
              })
              .strict(),
            shapes: z
              .object({
                document: shapeMap,
                pod: shapeMap,
                podMetadata: shapeMap,
                container: shapeMap,
                kinds: z.record(z.string(), shapeMap),
              })
              .strict(),
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
        exceptions: z.array(exceptionSchema).default([]),
      })
      .strict()
      .superRefine((c, ctx) => {
        const ids = new Set(c.rules.map((r) => r.id));
        c.exceptions.forEach((e, i) => {
          if (!ids.has(e.rule) || e.rule === "CART-EXC-001") {
            ctx.addIssue({
              code: z.ZodIssueCode.custom,
              path: ["exceptions", i, "rule"],
              message: `${e.rule} is not a rule of the catalogue that findings can be excepted from`,
            });
          }
        });
      }),
  })
  .strict();

export type Catalogue = z.infer<typeof catalogueSchema>["catalogue"];
export type RuleEntry = Catalogue["rules"][number];
export type Parameters = Catalogue["parameters"];
export type PolicyException = Catalogue["exceptions"][number];

export function loadCatalogue(file: string = CATALOGUE_FILE): Catalogue {
  let data: unknown;
  try {
    data = parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`${file}: not a readable YAML rule catalogue: ${(e as Error).message}`);
  }
  return checkCatalogue(data, file);
}

/** The catalogue `file` parsed to `data`, checked: the catalogue itself, or an error naming the file and every problem. */
export function checkCatalogue(data: unknown, file: string = CATALOGUE_FILE): Catalogue {
  const parsed = catalogueSchema.safeParse(data);
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
