# CART-LGPD-001: required labels, including the LGPD data classification.
package main

import rego.v1

params := data.catalogue.parameters

labelled_kinds := {"Namespace", "Deployment", "StatefulSet", "DaemonSet", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"}

who := sprintf("%s %s%s", [input.kind, ns_prefix, object.get(input.metadata, "name", "<unnamed>")])

ns_prefix := sprintf("%s/", [input.metadata.namespace]) if input.metadata.namespace

else := ""

has_label(label) if object.get(input, ["metadata", "labels", label], false) != false

deny_cart_lgpd_001 contains msg if {
	labelled_kinds[input.kind]
	some label in params.requiredLabels
	not has_label(label)
	msg := sprintf("CART-LGPD-001: %s lacks the label %s", [who, label])
}

deny_cart_lgpd_001 contains msg if {
	labelled_kinds[input.kind]
	cls := input.metadata.labels[params.dataClassificationLabel]
	not cls in params.dataClassifications
	msg := sprintf("CART-LGPD-001: %s has %s=%s; expected one of %s", [
		who, params.dataClassificationLabel, cls,
		concat(", ", params.dataClassifications),
	])
}
