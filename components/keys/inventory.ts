/**
 * The KMS key inventory (configs/kms/<stack>.yaml): which HSM tokens sign for
 * the cartório and which keys live on them. Plain module: the program, the
 * policy rules and the operator commands (kms:sync, hsm:slots) share it.
 */
import * as fs from "node:fs";
import { parseDocument } from "yaml";
import { z } from "zod";

const NAME = /^[a-z][a-z0-9-]{0,62}$/;

export const tokenSchema = z
  .object({
    /** How keys refer to this token. */
    name: z.string().regex(NAME, "expected a lowercase name such as assinatura"),
    /** CKA token label (at most 32 characters); labels can repeat across tokens. */
    label: z.string().min(1, "expected a token label").max(32, "expected a label of at most 32 characters"),
    /** Token serial number; pin it when several tokens share a label. */
    serial: z.string().min(1).max(16, "expected a serial of at most 16 characters").optional(),
    /** PKCS#11 mechanisms the token must offer, e.g. CKM_ECDSA. */
    mechanisms: z
      .array(z.string().regex(/^CKM_[A-Z0-9_]+$/, "expected a PKCS#11 mechanism name such as CKM_ECDSA"))
      .min(1, "expected at least one required mechanism"),
  })
  .strict();

export const keySchema = z
  .object({
    id: z.string().regex(NAME, "expected a lowercase key id such as atos-notariais"),
    purpose: z.enum(["notarial-signing", "digital-seal", "evidence-signing", "tls"]),
    algorithm: z.enum(["EC", "RSA"]),
    /** EC curve (algorithm EC). */
    curve: z.enum(["P-256", "P-384"]).optional(),
    /** RSA modulus size in bits (algorithm RSA). */
    size: z.number().int("expected an integer number of bits").optional(),
    /** Name of the token (tokens[].name) that holds the key. */
    token: z.string().min(1),
    /** Key version; CKA_LABEL and CKA_ID carry it. Rotation raises it. */
    version: z.number().int("expected an integer").min(1, "expected a version ≥ 1"),
    /** Originator-usage period in days (NIST SP 800-57). */
    cryptoperiodDays: z
      .number()
      .int("expected an integer number of days")
      .positive("expected a positive number of days"),
    /** Date the current version entered service (YYYY-MM-DD). */
    activatedOn: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "expected a date YYYY-MM-DD"),
    state: z.enum(["active", "retired"]),
  })
  .strict()
  .superRefine((k, ctx) => {
    if (k.algorithm === "EC") {
      if (!k.curve)
        ctx.addIssue({
          code: "custom",
          path: ["curve"],
          message: "expected a curve (P-256 or P-384) for algorithm EC",
        });
      if (k.size !== undefined)
        ctx.addIssue({ code: "custom", path: ["size"], message: "expected no size for algorithm EC; use curve" });
    } else {
      if (k.size === undefined)
        ctx.addIssue({
          code: "custom",
          path: ["size"],
          message: "expected a size in bits (2048, 3072 or 4096) for algorithm RSA",
        });
      if (k.curve)
        ctx.addIssue({ code: "custom", path: ["curve"], message: "expected no curve for algorithm RSA; use size" });
    }
    if (Number.isNaN(Date.parse(k.activatedOn))) {
      ctx.addIssue({ code: "custom", path: ["activatedOn"], message: "expected a real calendar date YYYY-MM-DD" });
    }
  });

export const inventorySchema = z
  .object({
    // A typed document like the Kubernetes manifests, so conftest checks it with the same rulebook.
    apiVersion: z.literal("cartorio.digital/v1", {
      errorMap: () => ({ message: "expected apiVersion cartorio.digital/v1" }),
    }),
    kind: z.literal("KmsInventory", { errorMap: () => ({ message: "expected kind KmsInventory" }) }),
    metadata: z.object({ name: z.string().regex(NAME, "expected the stack name, e.g. producao") }).strict(),
    version: z.literal(1, { errorMap: () => ({ message: "expected inventory format version 1" }) }),
    tokens: z.array(tokenSchema).min(1, "expected at least one token"),
    keys: z.array(keySchema),
  })
  .strict();

/**
 * Checks across entries, run on the raw document even when some entries are
 * malformed, so every problem of a file is reported in one go.
 */
function crossProblems(raw: unknown): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  const doc = (raw ?? {}) as { tokens?: unknown; keys?: unknown };
  const tokens = Array.isArray(doc.tokens) ? (doc.tokens as { name?: unknown }[]) : [];
  const keys = Array.isArray(doc.keys)
    ? (doc.keys as { id?: unknown; version?: unknown; token?: unknown; state?: unknown }[])
    : [];
  const tokenNames = new Set<string>();
  tokens.forEach((t, i) => {
    if (typeof t?.name !== "string") return;
    if (tokenNames.has(t.name))
      out.push({ path: ["tokens", i, "name"], message: `expected unique token names; '${t.name}' repeats` });
    tokenNames.add(t.name);
  });
  const seen = new Set<string>();
  const active = new Map<string, number>();
  keys.forEach((k, i) => {
    if (typeof k?.token === "string" && !tokenNames.has(k.token)) {
      out.push({
        path: ["keys", i, "token"],
        message: `expected one of the tokens (${[...tokenNames].join(", ")}); add token '${k.token}' under tokens or fix the name`,
      });
    }
    const id = `${String(k?.id)}@${String(k?.version)}`;
    if (seen.has(id))
      out.push({
        path: ["keys", i, "version"],
        message: `expected each id and version once; ${k.id} v${k.version} repeats`,
      });
    seen.add(id);
    if (k?.state === "active" && typeof k.id === "string") {
      if (active.has(k.id))
        out.push({
          path: ["keys", i, "state"],
          message: `expected one active version of '${k.id}'; mark older versions retired`,
        });
      else active.set(k.id, i);
    }
  });
  return out;
}

export type Inventory = z.infer<typeof inventorySchema>;
export type TokenSpec = z.infer<typeof tokenSchema>;
export type KeySpec = z.infer<typeof keySchema>;

export class InventoryError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(
      `${file}: ${problems.length} problem(s) in the key inventory:\n` + problems.map((p) => `  - ${p}`).join("\n"),
    );
    this.name = "InventoryError";
  }
}

function pathText(p: (string | number)[]): string {
  return p.map((s, i) => (typeof s === "number" ? `[${s}]` : i === 0 ? s : `.${s}`)).join("") || "<root>";
}

/** Parses and validates inventory text; `file` names it in errors. */
export function parseInventory(text: string, file: string): Inventory {
  if (text.trim() === "") throw new InventoryError(file, ["the file is empty; expected version, tokens and keys"]);
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new InventoryError(
      file,
      doc.errors.map((e) => `invalid YAML at line ${e.linePos?.[0]?.line ?? "?"}: ${e.message.split("\n")[0]}`),
    );
  }
  const raw = doc.toJS();
  const parsed = inventorySchema.safeParse(raw);
  const cross = crossProblems(raw).map((c) => `${pathText(c.path)}: ${c.message}`);
  if (!parsed.success || cross.length > 0) {
    const schemaProblems = parsed.success ? [] : parsed.error.issues;
    throw new InventoryError(file, [
      ...schemaProblems.map((i) => {
        const msg =
          i.code === "invalid_type"
            ? i.received === "undefined"
              ? `missing; expected ${i.expected}`
              : `expected ${i.expected}, got ${i.received}`
            : i.code === "unrecognized_keys"
              ? `unknown key(s) ${i.keys.join(", ")}; remove them or fix the spelling`
              : i.code === "invalid_enum_value"
                ? `expected one of ${i.options.join(", ")}, got ${JSON.stringify(i.received)}`
                : i.message;
        return `${pathText(i.path)}: ${msg}`;
      }),
      ...cross,
    ]);
  }
  return parsed.data;
}

export function loadInventory(file: string): Inventory {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new InventoryError(file, [
      `cannot read the file (${(e as NodeJS.ErrnoException).code ?? e}); check kms.inventory`,
    ]);
  }
  return parseInventory(text, file);
}

export { keyLabel, keyObjectId } from "./keyid";
