# CART-AVL-001: PodDisruptionBudgets do not block eviction.
# CART-SCL-001: citizen-facing autoscalers keep at least two replicas.
# CART-SCL-002: a Deployment an HPA scales sets no spec.replicas (set rule: --combine).
package rulebook

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
	citizen_facing(obj)
	min := min_replicas(obj)
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
	namespace_of(d) == namespace_of(h)
	object.get(d, ["spec", "replicas"], null) != null
	msg := sprintf("CART-SCL-002: %v: sets spec.replicas (%v) but %v scales it; remove spec.replicas", [who(d), d.spec.replicas, who(h)])
	not excepted(msg)
}

# Kubernetes' default when unset: 1.
min_replicas(obj) := m if {
	m := object.get(obj, ["spec", "minReplicas"], null)
	m != null
} else := 1

# Fails closed: citizen-facing unless explicitly labelled otherwise ("false"); a missing or unknown value
# never switches the minimum off.
citizen_facing(obj) if object.get(map_at(obj, ["metadata", "labels"]), params.citizenFacingLabel, null) != "false"
