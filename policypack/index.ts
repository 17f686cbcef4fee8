/**
 * The CrossGuard pack: one policy per catalogue rule, named by the rule id,
 * enforcement level from the catalogue. The logic lives in
 * components/policy/rules.ts so tests import it without starting a pack.
 */
import { PolicyPack, ResourceValidationPolicy } from "@pulumi/policy";
import { loadCatalogue } from "../components/policy/catalogue";
import { RULES, K8sObject } from "../components/policy/rules";

const catalogue = loadCatalogue();

/** Kubernetes resource types look like kubernetes:autoscaling/v2:HorizontalPodAutoscaler. */
function kindOf(type: string): string | undefined {
  return type.startsWith("kubernetes:") ? type.split(":")[2] : undefined;
}

const policies: ResourceValidationPolicy[] = catalogue.rules.map((rule) => {
  const check = RULES[rule.id];
  if (!check)
    throw new Error(
      `policies/catalogue.yaml names ${rule.id}, which has no implementation in components/policy/rules.ts`,
    );
  return {
    name: rule.id,
    description: `${rule.id}: ${rule.title}`,
    enforcementLevel: rule.enforcement,
    validateResource: (args, reportViolation) => {
      const kind = kindOf(args.type);
      if (!kind || !rule.kinds.includes(kind)) return;
      const obj = { kind, ...(args.props as K8sObject) };
      for (const message of check(obj, catalogue.parameters)) reportViolation(message, args.urn);
    },
  };
});

new PolicyPack("cartorio-plataforma", { policies });
