/**
 * The evidence report of one deployment (evidence/<stack>/<UTC>-<sequence>-<commit>/report.json): what the rulebook,
 * the cluster, the HSM, the autoscaler and the load test said, from the same run, for the corregedoria.
 * Versioned (`schema`); every part says whether it was collected or why not, so a part that did not run is
 * never read as passed. Plain module: the evidence commands and the tests share it.
 */
import { z } from "zod";

/** v2: the report joins its stack's hash chain, attests what runs, and its keys as inspected (v1 had none). */
export const SCHEMA_ID = "cartorio.digital/evidencia/v2";

/** A part of the report: collected, or not run (switched off, no cluster, no PIN …) with the reason. */
function part<T extends z.ZodTypeAny>(data: T) {
  return z.discriminatedUnion("status", [
    z.object({ status: z.literal("collected"), data }).strict(),
    z.object({ status: z.literal("not run"), reason: z.string().min(1) }).strict(),
  ]);
}

const finding = z.object({ level: z.enum(["deny", "warn"]), message: z.string() }).strict();

const enforcerResult = z
  .object({ deny: z.number().int().min(0), warn: z.number().int().min(0), messages: z.array(z.string()) })
  .strict();

export const rulebookSchema = z
  .object({
    catalogueVersion: z.number().int(),
    catalogueDigest: z.string().regex(/^sha256:[0-9a-f]{64}$/),
    /** What was judged: folders and files, relative to the project. */
    inputs: z.array(z.string()),
    documents: z.number().int().min(0),
    rules: z.array(
      z
        .object({
          id: z.string(),
          title: z.string(),
          level: z.enum(["mandatory", "advisory", "disabled"]),
          conftest: enforcerResult,
          pack: enforcerResult,
          /** Both enforcers reported the same findings at the same level. */
          agree: z.boolean(),
        })
        .strict(),
    ),
    exceptions: z.array(
      z
        .object({
          rule: z.string(),
          scope: z.string(),
          owner: z.string(),
          reason: z.string(),
          expires: z.string(),
          daysLeft: z.number().int(),
          active: z.boolean(),
        })
        .strict(),
    ),
    /** Mandatory findings on either enforcer. */
    mandatoryFindings: z.number().int().min(0),
    enforcersAgree: z.boolean(),
  })
  .strict();

export const reportSchema = z
  .object({
    schema: z.literal(SCHEMA_ID),
    generatedAt: z.string().datetime(),
    commit: z.object({ sha: z.string().regex(/^[0-9a-f]{40}$/), dirty: z.boolean() }).strict(),
    approval: z
      .object({
        /** Who approved the deployment, from the CI environment; null when the run records none (a local run). */
        approvedBy: z.string().nullable(),
        source: z.string(),
        runUrl: z.string().nullable(),
      })
      .strict(),
    stack: z
      .object({ name: z.string(), configFile: z.string(), configDigest: z.string().regex(/^sha256:[0-9a-f]{64}$/) })
      .strict(),
    rulebook: part(rulebookSchema),
    audit: part(
      z
        .object({
          where: z.string(),
          objects: z.number().int(),
          deny: z.number().int(),
          warn: z.number().int(),
          findings: z.array(finding.extend({ namespace: z.string() }).strict()),
        })
        .strict(),
    ),
    hsm: part(
      z
        .object({
          tokens: z.array(
            z
              .object({
                name: z.string(),
                label: z.string(),
                serial: z.string().nullable(),
                slotId: z.string().nullable(),
                ok: z.boolean(),
                problems: z.array(z.string()),
              })
              .strict(),
          ),
        })
        .strict(),
    ),
    keys: part(
      z
        .object({
          warnDays: z.number().int(),
          keys: z.array(
            z
              .object({
                label: z.string(),
                purpose: z.string(),
                algorithm: z.string(),
                token: z.string(),
                state: z.enum(["active", "retired"]),
                activatedOn: z.string(),
                endsOn: z.string(),
                daysLeft: z.number().int(),
                /** ok, expiring (within warnDays), expired, or retired (signs nothing). */
                cryptoperiod: z.enum(["ok", "expiring", "expired", "retired"]),
                fingerprint: z.string().nullable(),
                /** On the token: yes, no, or half (one half of the pair). */
                present: z.enum(["yes", "no", "half"]),
                /** What the inspection found wrong, attribute by attribute (adoption's judgement); empty: conforms. */
                problems: z.array(z.string()),
                attestation: z
                  .object({ alwaysSensitive: z.boolean(), neverExtractable: z.boolean(), local: z.boolean() })
                  .strict()
                  .nullable(),
              })
              .strict(),
          ),
        })
        .strict(),
    ),
    hpa: part(
      z
        .object({
          name: z.string(),
          namespace: z.string(),
          describe: z.string(),
          /**
           * What the HPA controller read and decided, from its status and events (reports made before
           * the embedded cluster had a metrics API lack them; every report written now has them).
           */
          replicas: z
            .object({ current: z.number(), desired: z.number(), min: z.number(), max: z.number() })
            .strict()
            .optional(),
          currentMetrics: z
            .array(
              z
                .object({ resource: z.string(), utilization: z.number().nullable(), target: z.number().nullable() })
                .strict(),
            )
            .optional(),
          /** SuccessfulRescale events still kept by the API (about an hour), newest last. */
          decisions: z.array(z.object({ at: z.string(), message: z.string(), count: z.number() }).strict()).optional(),
        })
        .strict(),
    ),
    capacity: part(
      z
        .object({
          ok: z.boolean(),
          reasons: z.array(z.string()),
          peakRps: z.number(),
          baselineRps: z.number(),
          replicaThroughputRps: z.number(),
          throughputSource: z.string(),
          minReplicas: z.number().int(),
          maxReplicas: z.number().int(),
          neededAtPeak: z.number().int(),
          neededAtBaseline: z.number().int(),
          secondsToScale: z.number().nullable(),
          timeline: z.array(z.object({ t: z.number(), replicas: z.number() }).strict()),
        })
        .strict(),
    ),
    loadTest: part(
      z
        .object({
          passed: z.boolean(),
          p95Ms: z.number().nullable(),
          p99Ms: z.number().nullable(),
          errorRate: z.number().nullable(),
          achievedRps: z.number().nullable(),
          requests: z.number().int(),
          thresholds: z.array(z.object({ metric: z.string(), expression: z.string(), ok: z.boolean() }).strict()),
        })
        .strict(),
    ),
    flux: part(
      z
        .object({
          /** The commit this deployment applies (the report's commit). */
          expected: z.string().regex(/^[0-9a-f]{40}$/),
          /** The Kustomization's last applied revision when the wait ended, read from the cluster. */
          revision: z.string(),
          /** True only when Flux reported the expected commit applied; false: written before it converged. */
          converged: z.boolean(),
          /** The controllers' own words when the wait ended. */
          detail: z.string(),
          waitedSeconds: z.number().min(0),
          source: z.string(),
        })
        .strict(),
    ),
    /** The images that run in the workload namespace, by digest as the kubelet reports them. */
    running: part(
      z
        .object({
          namespace: z.string(),
          pods: z.array(
            z
              .object({
                name: z.string(),
                phase: z.string(),
                ready: z.boolean(),
                containers: z.array(
                  z
                    .object({ name: z.string(), image: z.string(), imageID: z.string().nullable(), ready: z.boolean() })
                    .strict(),
                ),
              })
              .strict(),
          ),
        })
        .strict(),
    ),
    /**
     * The rulebook at admission: the webhook as the API server holds it (digest of its canonical JSON), and
     * the digest of the rule files the stack gave OPA. Reports made before admission existed lack the part;
     * every report written now has it.
     */
    admission: part(
      z
        .object({
          server: z.string(),
          webhook: z.string(),
          rulesDigest: z.string().regex(/^sha256:[0-9a-f]{64}$/),
          configurationDigest: z.string().regex(/^sha256:[0-9a-f]{64}$/),
          failurePolicy: z.string(),
          exemptNamespaces: z.array(z.string()),
        })
        .strict(),
    ).optional(),
    /**
     * Break-glass use: a merge or deployment that bypassed the rulebook's checks. This program declares no
     * break-glass path yet, so the part says so ("not run"), never "none used".
     */
    breakGlass: part(
      z
        .object({ used: z.boolean(), who: z.string().nullable(), reason: z.string().nullable(), source: z.string() })
        .strict(),
    ),
    /**
     * The report's place in its stack's hash chain: sequence 1 starts it; every later report names the
     * previous one and the SHA-256 of its report.json, so a deleted, reordered or altered report breaks it.
     */
    chain: z
      .object({
        sequence: z.number().int().min(1),
        previous: z
          .object({
            sequence: z.number().int().min(1),
            folder: z.string().min(1),
            digest: z.string().regex(/^sha256:[0-9a-f]{64}$/),
          })
          .strict()
          .nullable(),
      })
      .strict()
      .superRefine((c, ctx) => {
        if ((c.sequence === 1) !== (c.previous === null))
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: "sequence 1, and only it, has no previous report" });
        else if (c.previous && c.previous.sequence !== c.sequence - 1)
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: "previous.sequence must be sequence - 1" });
      }),
    /** The trust anchor the signer was taken from (anchor.ts): its file and its digest. */
    anchor: z.object({ file: z.string(), digest: z.string().regex(/^sha256:[0-9a-f]{64}$/) }).strict(),
    /** The key that signs report.json (report.json.sig); its public key is published with the inventory. */
    signer: z
      .object({
        keyLabel: z.string(),
        token: z.string(),
        algorithm: z.literal("ECDSA-P256-SHA256"),
        fingerprint: z.string(),
      })
      .strict(),
  })
  .strict();

export type EvidenceReport = z.infer<typeof reportSchema>;
export type Part<K extends keyof EvidenceReport> = EvidenceReport[K];

/** Validates a report; the error lists every problem with its path. */
export function validateReport(value: unknown, where = "report.json"): EvidenceReport {
  const r = reportSchema.safeParse(value);
  if (!r.success)
    throw new Error(
      `${where} does not match ${SCHEMA_ID}:\n` +
        r.error.issues.map((i) => `  - ${i.path.join(".") || "(root)"}: ${i.message}`).join("\n"),
    );
  return r.data;
}

export const notRun = (reason: string) => ({ status: "not run" as const, reason });
export const collected = <T>(data: T) => ({ status: "collected" as const, data });
