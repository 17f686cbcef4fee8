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

# CART-RBAC-003: none of the escalation paths Kubernetes' "RBAC good practices" lists, granted by name
# (a wildcard is CART-RBAC-001's): the escalate, bind and impersonate verbs; the kubelet API through
# nodes/proxy; minting service-account tokens; approving certificate requests; and writing admission
# configuration, which can switch the rulebook at admission off.
rbac_escalation_verbs := ["bind", "escalate", "impersonate"]

rbac_write_verbs := {"create", "update", "patch", "delete", "deletecollection"}

rbac_admission_resources := [
	"mutatingadmissionpolicies",
	"mutatingadmissionpolicybindings",
	"mutatingwebhookconfigurations",
	"validatingadmissionpolicies",
	"validatingadmissionpolicybindings",
	"validatingwebhookconfigurations",
]

rbac_rules contains [obj, i, rule] if {
	some obj in docs
	obj.kind in {"Role", "ClusterRole"}
	some i, rule in list_at(obj, "rules")
}

rbac_paths contains [obj, i, sprintf("the %v verb", [v])] if {
	some [obj, i, rule] in rbac_rules
	some v in rbac_escalation_verbs
	v in list_at(rule, "verbs")
}

rbac_paths contains [obj, i, "the kubelet API (nodes/proxy)"] if {
	some [obj, i, rule] in rbac_rules
	"nodes/proxy" in list_at(rule, "resources")
}

rbac_paths contains [obj, i, "minting service-account tokens (serviceaccounts/token create)"] if {
	some [obj, i, rule] in rbac_rules
	"serviceaccounts/token" in list_at(rule, "resources")
	"create" in list_at(rule, "verbs")
}

rbac_paths contains [obj, i, "approving certificate requests (certificatesigningrequests/approval)"] if {
	some [obj, i, rule] in rbac_rules
	"certificatesigningrequests/approval" in list_at(rule, "resources")
	some v in list_at(rule, "verbs")
	v in {"update", "patch"}
}

rbac_paths contains [obj, i, sprintf("writing admission configuration (%v)", [r])] if {
	some [obj, i, rule] in rbac_rules
	some r in rbac_admission_resources
	r in list_at(rule, "resources")
	some v in list_at(rule, "verbs")
	v in rbac_write_verbs
}

deny_cart_rbac_003 contains msg if {
	some [obj, i, path] in rbac_paths
	msg := sprintf("CART-RBAC-003: %v: rule %v grants an escalation path: %v", [who(obj), i, path])
	not excepted(msg)
}
