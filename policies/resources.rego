# CART-RES-001: CPU and memory requests and a memory limit.
# CART-RES-002: readiness and liveness probes.
package rulebook

import rego.v1

main_and_init(pod) := array.concat(list_at(pod, "containers"), list_at(pod, "initContainers"))

deny_cart_res_001 contains msg if {
	some obj in docs
	is_workload(obj)
	some c in main_and_init(pod_of(obj))
	some [path, what] in [
		[["resources", "requests", "cpu"], "CPU request"],
		[["resources", "requests", "memory"], "memory request"],
		[["resources", "limits", "memory"], "memory limit"],
	]
	object.get(c, path, null) == null
	msg := sprintf("CART-RES-001: %v: container %v has no %v", [who(obj), cname(c), what])
	not excepted(msg)
}

deny_cart_res_002 contains msg if {
	some obj in docs
	obj.kind in {"Deployment", "StatefulSet", "DaemonSet"}
	some c in list_at(pod_of(obj), "containers")
	some probe in ["readinessProbe", "livenessProbe"]
	object.get(c, probe, null) == null
	msg := sprintf("CART-RES-002: %v: container %v has no %v", [who(obj), cname(c), probe])
	not excepted(msg)
}
