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

deny_cart_pss_004 contains msg if {
	some [obj, _, c] in workload_containers
	some port in list_at(c, "ports")
	object.get(port, "hostPort", null) != null
	msg := sprintf("CART-PSS-004: %v: container %v sets hostPort %v", [who(obj), cname(c), port.hostPort])
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
	pod_of(obj).securityContext.runAsUser == 0
	msg := sprintf("CART-PSS-006: %v: the pod sets runAsUser 0", [who(obj)])
	not excepted(msg)
}

deny_cart_pss_006 contains msg if {
	some [obj, pod, c] in workload_containers
	effective := first_set(object.get(c, ["securityContext", "runAsNonRoot"], null), object.get(pod, ["securityContext", "runAsNonRoot"], null))
	effective != true
	msg := sprintf("CART-PSS-006: %v: container %v does not set runAsNonRoot: true", [who(obj), cname(c)])
	not excepted(msg)
}

deny_cart_pss_006 contains msg if {
	some [obj, _, c] in workload_containers
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

# A volume's type: its first source field (other than name) that is set; "<unset>" when it has none.
volume_type(v) := t if {
	t := sort([k | some k, x in v; k != "name"; x != null])[0]
} else := "<unset>"
