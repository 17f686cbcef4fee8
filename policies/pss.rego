# CART-PSS-001..008: the Pod Security Standards "restricted" controls.
package rulebook

import rego.v1

deny_cart_pss_001 contains msg if {
	some [obj, _, c] in workload_containers
	c.securityContext.privileged == true
	msg := sprintf("CART-PSS-001: %v: container %v is privileged", [who(obj), cname(c)])
	not excepted(msg)
}

deny_cart_pss_002 contains msg if {
	some obj in docs
	is_workload(obj)
	some field in ["hostNetwork", "hostPID", "hostIPC"]
	pod_spec(obj)[field] == true
	msg := sprintf("CART-PSS-002: %v: %v is true", [who(obj), field])
	not excepted(msg)
}

deny_cart_pss_003 contains msg if {
	some obj in docs
	is_workload(obj)
	some v in list_at(pod_of(obj), "volumes")
	type := volume_type(v)
	not type in params.allowedVolumeTypes
	msg := sprintf("CART-PSS-003: %v: volume %v is of type %v; allowed: %v", [who(obj), unset_at(v, "name"), type, concat(", ", params.allowedVolumeTypes)])
	not excepted(msg)
}

# hostPort 0 is unset, as the API reads it.
deny_cart_pss_004 contains msg if {
	some [obj, _, c] in workload_containers
	some port in list_at(c, "ports")
	not object.get(port, "hostPort", null) in {null, 0}
	msg := sprintf("CART-PSS-004: %v: container %v sets hostPort %v", [who(obj), cname(c), port.hostPort])
	not excepted(msg)
}

# With hostNetwork the API sets every unset hostPort to its containerPort (Pod Security then refuses it).
deny_cart_pss_004 contains msg if {
	some [obj, pod, c] in workload_containers
	object.get(pod, "hostNetwork", null) == true
	some port in list_at(c, "ports")
	object.get(port, "hostPort", null) in {null, 0}
	not object.get(port, "containerPort", null) in {null, 0}
	msg := sprintf("CART-PSS-004: %v: container %v uses hostPort %v (hostNetwork sets it to the containerPort)", [who(obj), cname(c), port.containerPort])
	not excepted(msg)
}

deny_cart_pss_005 contains msg if {
	some [obj, _, c] in workload_containers
	object.get(c, ["securityContext", "allowPrivilegeEscalation"], null) != false
	msg := sprintf("CART-PSS-005: %v: container %v does not set allowPrivilegeEscalation: false", [who(obj), cname(c)])
	not excepted(msg)
}

deny_cart_pss_006 contains msg if {
	some obj in docs
	is_workload(obj)
	not user_namespace(pod_of(obj))
	pod_of(obj).securityContext.runAsUser == 0
	msg := sprintf("CART-PSS-006: %v: the pod sets runAsUser 0", [who(obj)])
	not excepted(msg)
}

# The pod's own false is refused even when every container says true (as Pod Security reads it).
deny_cart_pss_006 contains msg if {
	some obj in docs
	is_workload(obj)
	not user_namespace(pod_of(obj))
	pod_of(obj).securityContext.runAsNonRoot == false
	msg := sprintf("CART-PSS-006: %v: the pod sets runAsNonRoot: false", [who(obj)])
	not excepted(msg)
}

deny_cart_pss_006 contains msg if {
	some [obj, pod, c] in workload_containers
	not user_namespace(pod_of(obj))
	effective := first_set(object.get(c, ["securityContext", "runAsNonRoot"], null), object.get(pod, ["securityContext", "runAsNonRoot"], null))
	effective != true
	msg := sprintf("CART-PSS-006: %v: container %v does not set runAsNonRoot: true", [who(obj), cname(c)])
	not excepted(msg)
}

deny_cart_pss_006 contains msg if {
	some [obj, _, c] in workload_containers
	not user_namespace(pod_of(obj))
	c.securityContext.runAsUser == 0
	msg := sprintf("CART-PSS-006: %v: container %v sets runAsUser 0", [who(obj), cname(c)])
	not excepted(msg)
}

deny_cart_pss_007 contains msg if {
	some [obj, _, c] in workload_containers
	not "ALL" in list_at(c, ["securityContext", "capabilities", "drop"])
	msg := sprintf("CART-PSS-007: %v: container %v does not drop ALL capabilities", [who(obj), cname(c)])
	not excepted(msg)
}

deny_cart_pss_007 contains msg if {
	some [obj, _, c] in workload_containers
	some cap in list_at(c, ["securityContext", "capabilities", "add"])
	not cap in params.allowedAddedCapabilities
	msg := sprintf("CART-PSS-007: %v: container %v adds capability %v", [who(obj), cname(c), cap])
	not excepted(msg)
}

deny_cart_pss_008 contains msg if {
	some [obj, pod, c] in workload_containers
	type := first_set(object.get(c, ["securityContext", "seccompProfile", "type"], null), object.get(pod, ["securityContext", "seccompProfile", "type"], null))
	not type in params.allowedSeccompProfiles
	msg := sprintf("CART-PSS-008: %v: container %v has no %v seccomp profile", [who(obj), cname(c), concat(" or ", params.allowedSeccompProfiles)])
	not excepted(msg)
}

# The pod's own profile, when set, must be allowed even when every container sets one (as Pod Security reads it).
deny_cart_pss_008 contains msg if {
	some obj in docs
	is_workload(obj)
	type := object.get(pod_of(obj), ["securityContext", "seccompProfile", "type"], null)
	type != null
	not type in params.allowedSeccompProfiles
	msg := sprintf("CART-PSS-008: %v: the pod sets seccomp profile %v; allowed: %v", [who(obj), type, concat(", ", params.allowedSeccompProfiles)])
	not excepted(msg)
}

# A pod in a user namespace (hostUsers: false): its root is not the node's, and the standard does not ask it
# to run as non-root (Pod Security, Kubernetes 1.35).
user_namespace(pod) if object.get(pod, "hostUsers", null) == false

# A volume's type: its first source field (other than name) that is set; "<unset>" when it has none.
volume_type(v) := t if {
	t := sort([k | some k, x in v; k != "name"; x != null])[0]
} else := "<unset>"

# CART-PSS-016: a namespace's own Pod Security admission enforces restricted, so the API server refuses what
# the rulebook would even when a pod never passed through conftest or the pack.
pss_enforce_label := "pod-security.kubernetes.io/enforce"

deny_cart_pss_016 contains msg if {
	some obj in docs
	obj.kind == "Namespace"
	not who_name(obj) in params.podSecurityExemptNamespaces
	level := object.get(obj, ["metadata", "labels", pss_enforce_label], null)
	level != "restricted"
	msg := sprintf("CART-PSS-016: %v: %v; label it %v: restricted, or add an exception naming it (owner, reason, expiry)", [who(obj), pss_enforce_text(level), pss_enforce_label])
	not excepted(msg)
}

pss_enforce_text(level) := "does not enforce Pod Security (no enforce label)" if level == null

else := sprintf("enforces Pod Security %v, not restricted", [level])
