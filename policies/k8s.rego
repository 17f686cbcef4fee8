# CART-K8S-001: every document is an object with a kind the rulebook knows.
package rulebook

import rego.v1

deny_cart_k8s_001 contains msg if {
	some obj in all_docs
	not is_object(obj)
	msg := sprintf("CART-K8S-001: %v: the document is %v, not an object", [who(obj), type_name(obj)])
	not excepted(msg)
}

deny_cart_k8s_001 contains msg if {
	some obj in all_docs
	is_object(obj)
	object.get(obj, "kind", null) in {null, ""}
	msg := sprintf("CART-K8S-001: %v: the document has no kind", [who(obj)])
	not excepted(msg)
}

deny_cart_k8s_001 contains msg if {
	some obj in all_docs
	is_string(obj.kind)
	obj.kind != ""
	not obj.kind in params.knownKinds
	msg := sprintf("CART-K8S-001: %v: kind %v is not in the rulebook; fix the spelling or add it to parameters.knownKinds", [who(obj), obj.kind])
	not excepted(msg)
}
