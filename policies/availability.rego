# CART-AVL-001: PodDisruptionBudgets do not block eviction.
# CART-SCL-001: citizen-facing autoscalers keep at least two replicas.
# CART-SCL-002: a Deployment an HPA scales sets no spec.replicas (set rule: --combine).
package main

import rego.v1

deny_cart_avl_001 contains msg if {
	some obj in docs
	obj.kind == "PodDisruptionBudget"
	obj.spec.maxUnavailable in {0, "0%"}
	msg := sprintf("CART-AVL-001: %v: maxUnavailable %v blocks every eviction", [who(obj), obj.spec.maxUnavailable])
	not excepted(msg)
}

deny_cart_avl_001 contains msg if {
	some obj in docs
	obj.kind == "PodDisruptionBudget"
	obj.spec.minAvailable == "100%"
	msg := sprintf("CART-AVL-001: %v: minAvailable 100%% blocks every eviction", [who(obj)])
	not excepted(msg)
}

deny_cart_scl_001 contains msg if {
	some obj in docs
	obj.kind == "HorizontalPodAutoscaler"
	obj.metadata.labels[params.citizenFacingLabel] == "true"
	min := object.get(obj, ["spec", "minReplicas"], 1)
	min < params.minReplicasCitizenFacing
	msg := sprintf("CART-SCL-001: %v: sets minReplicas %v; citizen-facing workloads need at least %v", [who(obj), min, params.minReplicasCitizenFacing])
	not excepted(msg)
}

deny_cart_scl_002 contains msg if {
	combined
	some h in docs
	h.kind == "HorizontalPodAutoscaler"
	ref := h.spec.scaleTargetRef
	some d in docs
	d.kind in {"Deployment", "StatefulSet"}
	d.kind == ref.kind
	d.metadata.name == ref.name
	object.get(d, ["metadata", "namespace"], "default") == object.get(h, ["metadata", "namespace"], "default")
	"replicas" in object.keys(object.get(d, "spec", {}))
	msg := sprintf("CART-SCL-002: %v: sets spec.replicas (%v) but %v scales it; remove spec.replicas", [who(d), d.spec.replicas, who(h)])
	not excepted(msg)
}
