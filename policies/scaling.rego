# CART-SCL-001: citizen-facing autoscalers keep at least two replicas.
package main

import rego.v1

deny_cart_scl_001 contains msg if {
	input.kind == "HorizontalPodAutoscaler"
	input.metadata.labels[data.catalogue.parameters.citizenFacingLabel] == "true"
	min := object.get(input, ["spec", "minReplicas"], 1)
	min < data.catalogue.parameters.minReplicasCitizenFacing
	msg := sprintf("CART-SCL-001: %s sets minReplicas %d; citizen-facing workloads need at least %d", [
		who, min, data.catalogue.parameters.minReplicasCitizenFacing,
	])
}
