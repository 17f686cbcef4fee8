# CART-PSS-009..014: the Pod Security Standards "baseline" controls the restricted rules (pss.rego) do not
# already cover; CART-PSS-015: a read-only root filesystem (advisory); CART-SA-001: service-account tokens.
package rulebook

import rego.v1

# The pod's securityContext and each container's, named as messages name them.
security_contexts contains [obj, "the pod", map_at(pod_of(obj), "securityContext")] if {
	some obj in docs
	is_workload(obj)
}

security_contexts contains [obj, sprintf("container %v", [cname(c)]), map_at(c, "securityContext")] if {
	some [obj, _, c] in workload_containers
}

deny_cart_pss_009 contains msg if {
	some [obj, who_part, sc] in security_contexts
	object.get(sc, ["windowsOptions", "hostProcess"], null) == true
	msg := sprintf("CART-PSS-009: %v: %v sets windowsOptions.hostProcess", [who(obj), who_part])
	not excepted(msg)
}

deny_cart_pss_010 contains msg if {
	some [obj, who_part, sc] in security_contexts
	type := object.get(sc, ["appArmorProfile", "type"], null)
	type != null
	not type in params.allowedAppArmorProfiles
	msg := sprintf("CART-PSS-010: %v: %v has AppArmor profile %v; allowed: %v", [who(obj), who_part, type, concat(", ", params.allowedAppArmorProfiles)])
	not excepted(msg)
}

deny_cart_pss_010 contains msg if {
	some obj in docs
	is_workload(obj)
	some key, value in map_at(pod_meta(obj), "annotations")
	startswith(key, "container.apparmor.security.beta.kubernetes.io/")
	# Empty is unset, as Pod Security reads it.
	not value in {null, ""}
	value != "runtime/default"
	not startswith(value, "localhost/")
	msg := sprintf("CART-PSS-010: %v: annotation %v is %v; allowed: runtime/default, localhost/*", [who(obj), key, value])
	not excepted(msg)
}

deny_cart_pss_011 contains msg if {
	some [obj, who_part, sc] in security_contexts
	type := object.get(sc, ["seLinuxOptions", "type"], null)
	type != null
	not type in params.allowedSELinuxTypes
	msg := sprintf("CART-PSS-011: %v: %v sets SELinux type %v; allowed: %v", [who(obj), who_part, type, concat(", ", [t | some t in params.allowedSELinuxTypes; t != ""])])
	not excepted(msg)
}

deny_cart_pss_011 contains msg if {
	some [obj, who_part, sc] in security_contexts
	some field in ["user", "role"]
	value := object.get(sc, ["seLinuxOptions", field], null)
	not value in {null, ""}
	msg := sprintf("CART-PSS-011: %v: %v sets SELinux %v %v", [who(obj), who_part, field, value])
	not excepted(msg)
}

deny_cart_pss_012 contains msg if {
	some [obj, _, c] in workload_containers
	mount := object.get(c, ["securityContext", "procMount"], null)
	not mount in {null, "Default"}
	msg := sprintf("CART-PSS-012: %v: container %v sets procMount %v; only Default is allowed", [who(obj), cname(c), mount])
	not excepted(msg)
}

deny_cart_pss_013 contains msg if {
	some obj in docs
	is_workload(obj)
	some s in list_at(pod_of(obj), ["securityContext", "sysctls"])
	name := unset_at(s, "name")
	not name in params.safeSysctls
	msg := sprintf("CART-PSS-013: %v: the pod sets sysctl %v, which is not in the safe set", [who(obj), name])
	not excepted(msg)
}

# Every handler of a container that may name a host: probes and lifecycle hooks, by their path.
container_handlers := [
	["readinessProbe"], ["livenessProbe"], ["startupProbe"],
	["lifecycle", "postStart"], ["lifecycle", "preStop"],
]

deny_cart_pss_014 contains msg if {
	some [obj, _, c] in workload_containers
	some handler in container_handlers
	some action in ["httpGet", "tcpSocket"]
	host := object.get(c, array.concat(handler, [action, "host"]), null)
	not host in {null, ""}
	msg := sprintf("CART-PSS-014: %v: container %v %v.%v sets host %v", [who(obj), cname(c), concat(".", handler), action, host])
	not excepted(msg)
}

deny_cart_pss_015 contains msg if {
	some [obj, _, c] in workload_containers
	object.get(c, ["securityContext", "readOnlyRootFilesystem"], null) != true
	msg := sprintf("CART-PSS-015: %v: container %v does not set readOnlyRootFilesystem: true", [who(obj), cname(c)])
	not excepted(msg)
}

deny_cart_sa_001 contains msg if {
	some obj in docs
	is_workload(obj)
	# true is a self-declaration no rule can verify, and unset mounts a token: both need an exception naming the workload.
	object.get(pod_of(obj), "automountServiceAccountToken", null) != false
	msg := sprintf("CART-SA-001: %v: the pod mounts a service-account token; set automountServiceAccountToken: false, or, if it calls the Kubernetes API, add an exception naming it (owner, reason, expiry)", [who(obj)])
	not excepted(msg)
}
