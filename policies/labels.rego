# CART-LGPD-001: required labels, including the LGPD data classification.
package rulebook

import rego.v1

deny_cart_lgpd_001 contains msg if {
	some obj in docs
	obj.kind in params.labelledKinds
	some label in params.requiredLabels
	# A null value is stored by the API server as "": either way the label says nothing.
	object.get(map_at(obj, ["metadata", "labels"]), label, null) in {null, ""}
	msg := sprintf("CART-LGPD-001: %v: lacks the label %v", [who(obj), label])
	not excepted(msg)
}

deny_cart_lgpd_001 contains msg if {
	some obj in docs
	obj.kind in params.labelledKinds
	cls := obj.metadata.labels[params.dataClassificationLabel]
	cls != null
	not cls in params.dataClassifications
	msg := sprintf("CART-LGPD-001: %v: has %v=%v; expected one of %v", [who(obj), params.dataClassificationLabel, cls, concat(", ", params.dataClassifications)])
	not excepted(msg)
}
