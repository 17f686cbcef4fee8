package main

import rego.v1

catalogue := {"parameters": {
	"requiredLabels": ["app.kubernetes.io/name", "cartorio.digital/data-classification"],
	"dataClassificationLabel": "cartorio.digital/data-classification",
	"dataClassifications": ["publico", "confidencial"],
	"citizenFacingLabel": "cartorio.digital/citizen-facing",
	"minReplicasCitizenFacing": 2,
}}

labels_ok := {"app.kubernetes.io/name": "cartorio-api", "cartorio.digital/data-classification": "confidencial", "cartorio.digital/citizen-facing": "true"}

hpa(min, labels) := {"kind": "HorizontalPodAutoscaler", "metadata": {"name": "cartorio-api", "namespace": "cartorio", "labels": labels}, "spec": {"minReplicas": min}}

test_lgpd_labels_present if {
	count(deny_cart_lgpd_001) == 0 with input as hpa(3, labels_ok) with data.catalogue as catalogue
}

test_lgpd_label_missing if {
	deny_cart_lgpd_001["CART-LGPD-001: HorizontalPodAutoscaler cartorio/cartorio-api lacks the label app.kubernetes.io/name"] with input as hpa(3, object.remove(labels_ok, ["app.kubernetes.io/name"])) with data.catalogue as catalogue
}

test_lgpd_unknown_classification if {
	some msg in deny_cart_lgpd_001 with input as hpa(3, object.union(labels_ok, {"cartorio.digital/data-classification": "secreto"})) with data.catalogue as catalogue
	contains(msg, "expected one of publico, confidencial")
}

test_lgpd_ignores_other_kinds if {
	count(deny_cart_lgpd_001) == 0 with input as {"kind": "ConfigMap", "metadata": {"name": "x"}} with data.catalogue as catalogue
}

test_scl_min_replicas_ok if {
	count(deny_cart_scl_001) == 0 with input as hpa(2, labels_ok) with data.catalogue as catalogue
}

test_scl_min_replicas_too_low if {
	deny_cart_scl_001["CART-SCL-001: HorizontalPodAutoscaler cartorio/cartorio-api sets minReplicas 1; citizen-facing workloads need at least 2"] with input as hpa(1, labels_ok) with data.catalogue as catalogue
}

test_scl_default_min_is_one if {
	count(deny_cart_scl_001) == 1 with input as object.remove(hpa(1, labels_ok), ["spec"]) with data.catalogue as catalogue
}

test_scl_not_citizen_facing if {
	count(deny_cart_scl_001) == 0 with input as hpa(1, object.remove(labels_ok, ["cartorio.digital/citizen-facing"])) with data.catalogue as catalogue
}
