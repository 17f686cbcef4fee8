/**
 * The CrossGuard pack: one policy per catalogue rule, named by the rule id,
 * enforcement level from the catalogue. Single-document rules validate each
 * Kubernetes resource; set rules and the KMS inventory rules are stack
 * policies. The logic lives in components/policy/rules.ts, shared word for word
 * with the parity tests against conftest.
 */
import { PolicyPack, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { CATALOGUE_FILE, checkCatalogue, loadCatalogue } from "../components/policy/catalogue";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseAllDocuments } from "yaml";
import { kmsSchema } from "../components/config/schema";
import { k8sDoc } from "../components/policy/resources";
import type { K8sObject } from "../components/policy/rules";
import { judged, OBJECT_RULES, RuleContext, SET_RULES, unexcepted, wallClock } from "../components/policy/rules";
import { shareDeserializedProperties, skipUnusedRemediation } from "./sdk";

shareDeserializedProperties();

/**
 * policies/catalogue.yaml as build.js parsed it into the bundle (esbuild `define`; the file is one of the
 * bundle's inputs, so an edit rebuilds it): parsing its YAML was a tenth of the pack's start, which the
 * engine waits for before it runs the program. Unbundled (ts-node), or when the file didn't parse at build
 * time, the file is read here, with the same checks and the same errors.
 */
declare const CARTORIO_BUNDLED_CATALOGUE: string;
const catalogue =
  typeof CARTORIO_BUNDLED_CATALOGUE === "undefined"
    ? loadCatalogue()
    : checkCatalogue(JSON.parse(CARTORIO_BUNDLED_CATALOGUE), CATALOGUE_FILE);
const params = catalogue.parameters;
/** The wall clock and the catalogue's exceptions, honoured as conftest honours them (lib.rego `excepted`). */
const context = (now?: string): RuleContext => ({
  ...(now ? { now: Date.parse(now) } : wallClock()),
  exceptions: catalogue.exceptions,
});

/** The project this pack belongs to: where config paths resolve (the catalogue's folder's parent, as bundled or not). */
const PROJECT_ROOT = path.resolve(path.dirname(CATALOGUE_FILE), "..");

let inventoryRead: { key: string; docs: K8sObject[] } | undefined;
/** The stack's KMS inventory file, read as conftest reads it (every document, raw), or why it can't be. */
function stackInventory(): { file: string; docs: K8sObject[] } | { file: string; problem: string } {
  const kms = kmsSchema.safeParse(new pulumi.Config("cartorio-plataforma").getObject("kms") ?? {});
  if (!kms.success) return { file: "cartorio-plataforma:kms", problem: "the stack's kms config is invalid" };
  const file = path.resolve(PROJECT_ROOT, kms.data.inventory);
  try {
    // Each inventory rule reads it in the same AnalyzeStack: parsed once while the file is unchanged.
    const st = fs.statSync(file);
    const key = `${file}:${st.size}:${st.mtimeMs}`;
    if (inventoryRead?.key !== key) {
      const docs = parseAllDocuments(fs.readFileSync(file, "utf8")).map((d) => d.toJS() as K8sObject);
      inventoryRead = { key, docs: docs.filter((d) => d !== null) };
    }
    return { file: kms.data.inventory, docs: inventoryRead.docs };
  } catch (e) {
    return {
      file: kms.data.inventory,
      problem: `the KMS inventory cannot be read (${(e as Error).message}); nothing in it passes unchecked`,
    };
  }
}

/**
 * A resource's document, made once per resource rather than once per rule: every policy gets the same `props`
 * object for one resource (shareDeserializedProperties), and the rules' own shape check (`judged`) is
 * remembered per document.
 */
const resourceDocs = new WeakMap<object, K8sObject | null>();
function resourceDoc(type: string, props: Record<string, unknown>): K8sObject | null {
  let doc = resourceDocs.get(props);
  if (doc === undefined) resourceDocs.set(props, (doc = k8sDoc(type, props) ?? null));
  return doc;
}

const policies: (ResourceValidationPolicy | StackValidationPolicy)[] = catalogue.rules.map((rule) => {
  const base = { name: rule.id, description: `${rule.id}: ${rule.title}`, enforcementLevel: rule.enforcement };
  const setRule = SET_RULES[rule.id];
  const objectRule = OBJECT_RULES[rule.id];
  if (setRule) {
    return {
      ...base,
      validateStack: (args, reportViolation) => {
        const docs = args.resources.flatMap((r) => {
          const doc = resourceDoc(r.type, r.props);
          return doc ? [doc] : [];
        });
        const ctx = context();
        for (const message of new Set(unexcepted(setRule(judged(rule.id, docs, params), params, ctx), ctx)))
          reportViolation(message);
      },
    };
  }
  if (!objectRule)
    throw new Error(
      `policies/catalogue.yaml names ${rule.id}, which has no implementation in components/policy/rules.ts`,
    );
  if (rule.kinds.includes("inventory")) {
    return {
      ...base,
      // The time cryptoperiods are judged at: the wall clock, unless the run pins it
      // (--policy-pack-config {"<rule id>": {"now": "<RFC 3339>"}}): PR previews pin it to the
      // inventory's last change, so a key expiring later fails no unrelated PR (npm run kms:expiry
      // reports it on schedule), while a deployment always judges at the wall clock.
      configSchema: { properties: { now: { type: "string", format: "date-time" } } },
      // The stack's inventory file itself (cartorio-plataforma:kms.inventory), every version of every key,
      // retired ones included, as conftest reads it: not only the keys the program turns into resources.
      validateStack: (args, reportViolation) => {
        const ctx = context(args.getConfig<{ now?: string }>().now);
        const inventory = stackInventory();
        if ("problem" in inventory) {
          reportViolation(`${rule.id}: ${inventory.file}: ${inventory.problem}`);
          return;
        }
        for (const doc of inventory.docs)
          for (const d of judged(rule.id, [doc], params))
            for (const message of new Set(unexcepted(objectRule(d, params, ctx), ctx))) reportViolation(message);
      },
    };
  }
  return {
    ...base,
    validateResource: (args, reportViolation) => {
      const doc = resourceDoc(args.type, args.props);
      if (!doc) return;
      const ctx = context();
      // An ill-typed document is judged by CART-K8S-002 alone (components/policy/shapes.ts), as in Rego.
      for (const d of judged(rule.id, [doc], params))
        for (const message of new Set(unexcepted(objectRule(d, params, ctx), ctx))) reportViolation(message, args.urn);
    },
  };
});

skipUnusedRemediation(policies);
new PolicyPack("cartorio-plataforma", { policies });
