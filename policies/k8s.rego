# CART-K8S-001: every document has a kind the rulebook knows.
package main

import rego.v1

deny_cart_k8s_001 contains msg if {
	some obj in docs
	object.get(obj, "kind", "") == ""
	msg := sprintf("CART-K8S-001: %v: the document has no kind", [who(obj)])
	not excepted(msg)
}

deny_cart_k8s_001 contains msg if {
	some obj in docs
	is_string(obj.kind)
	obj.kind != ""
	not obj.kind in params.knownKinds
	msg := sprintf("CART-K8S-001: %v: kind %v is not in the rulebook; fix the spelling or add it to parameters.knownKinds", [who(obj), obj.kind])
	not excepted(msg)
}
