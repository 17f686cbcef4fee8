# CART-RBAC-001: no wildcard verbs or resources in RBAC roles.
# CART-RBAC-002: nothing is bound to cluster-admin.
package rulebook

import rego.v1

deny_cart_rbac_001 contains msg if {
	some obj in docs
	obj.kind in {"Role", "ClusterRole"}
	some i, rule in list_at(obj, "rules")
	some field in ["verbs", "resources"]
	"*" in list_at(rule, field)
	msg := sprintf("CART-RBAC-001: %v: rule %v grants every %v (\"*\")", [who(obj), i, trim_suffix(field, "s")])
	not excepted(msg)
}

deny_cart_rbac_002 contains msg if {
	some obj in docs
	obj.kind in {"RoleBinding", "ClusterRoleBinding"}
	object.get(obj, ["roleRef", "kind"], null) == "ClusterRole"
	object.get(obj, ["roleRef", "name"], null) == "cluster-admin"
	msg := sprintf("CART-RBAC-002: %v: binds the ClusterRole cluster-admin", [who(obj)])
	not excepted(msg)
}
