/**
 * The CrossGuard pack: one policy per catalogue rule, named by the rule id,
 * enforcement level from the catalogue. Single-document rules validate each
 * Kubernetes resource; set rules and the KMS inventory rules are stack
 * policies. The logic lives in components/policy/rules.ts, shared word for word
 * with the parity tests against conftest.
 */
import { PolicyPack, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { loadCatalogue } from "../components/policy/catalogue";
import { inventoryFromResources, k8sDoc } from "../components/policy/resources";
import { OBJECT_RULES, RuleContext, SET_RULES, unexcepted, wallClock } from "../components/policy/rules";

const catalogue = loadCatalogue();
const params = catalogue.parameters;
/** The wall clock and the catalogue's exceptions, honoured as conftest honours them (lib.rego `excepted`). */
const context = (now?: string): RuleContext => ({
  ...(now ? { now: Date.parse(now) } : wallClock()),
  exceptions: catalogue.exceptions,
});

const policies: (ResourceValidationPolicy | StackValidationPolicy)[] = catalogue.rules.map((rule) => {
  const base = { name: rule.id, description: `${rule.id}: ${rule.title}`, enforcementLevel: rule.enforcement };
  const setRule = SET_RULES[rule.id];
  const objectRule = OBJECT_RULES[rule.id];
  if (setRule) {
    return {
      ...base,
      validateStack: (args, reportViolation) => {
        const docs = args.resources.flatMap((r) => {
          const doc = k8sDoc(r.type, r.props);
          return doc ? [doc] : [];
        });
        const ctx = context();
        for (const message of unexcepted(setRule(docs, params, ctx), ctx)) reportViolation(message);
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
      validateStack: (args, reportViolation) => {
        const ctx = context(args.getConfig<{ now?: string }>().now);
        const inventory = inventoryFromResources(args.resources, "hsm-keys");
        if (inventory)
          for (const message of unexcepted(objectRule(inventory, params, ctx), ctx)) reportViolation(message);
      },
    };
  }
  return {
    ...base,
    validateResource: (args, reportViolation) => {
      const doc = k8sDoc(args.type, args.props);
      if (!doc) return;
      const ctx = context();
      for (const message of unexcepted(objectRule(doc, params, ctx), ctx)) reportViolation(message, args.urn);
    },
  };
});

new PolicyPack("cartorio-plataforma", { policies });
