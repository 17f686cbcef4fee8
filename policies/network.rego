# CART-NET-001: no NodePort services.
# CART-NET-002: Ingress only with TLS.
# CART-NET-003: a default-deny NetworkPolicy in every namespace (set rule: --combine).
package rulebook

import rego.v1

deny_cart_net_001 contains msg if {
	some obj in docs
	obj.kind == "Service"
	obj.spec.type == "NodePort"
	msg := sprintf("CART-NET-001: %v: type NodePort exposes the service on every node", [who(obj)])
	not excepted(msg)
}

deny_cart_net_002 contains msg if {
	some obj in docs
	obj.kind == "Ingress"
	count(list_at(obj, ["spec", "tls"])) == 0
	msg := sprintf("CART-NET-002: %v: has no TLS", [who(obj)])
	not excepted(msg)
}

deny_cart_net_002 contains msg if {
	some obj in docs
	obj.kind == "Ingress"
	tls := list_at(obj, ["spec", "tls"])
	count(tls) > 0
	covered := {h | some t in tls; some h in list_at(t, "hosts")}
	some r in list_at(obj, ["spec", "rules"])
	object.get(r, "host", null) != null
	not r.host in covered
	msg := sprintf("CART-NET-002: %v: host %v has no TLS entry", [who(obj), r.host])
	not excepted(msg)
}

net_namespaces contains obj.metadata.name if {
	some obj in docs
	obj.kind == "Namespace"
	is_string(obj.metadata.name)
}

net_namespaces contains namespace_of(obj) if {
	some obj in docs
	is_workload(obj)
}

default_deny(np) if {
	sel := map_at(np, ["spec", "podSelector"])
	count(map_at(sel, "matchLabels")) == 0
	count(list_at(sel, "matchExpressions")) == 0
	types := list_at(np, ["spec", "policyTypes"])
	"Ingress" in types
	"Egress" in types
	count(list_at(np, ["spec", "ingress"])) == 0
	count(list_at(np, ["spec", "egress"])) == 0
}

denied_namespaces contains namespace_of(np) if {
	some np in docs
	np.kind == "NetworkPolicy"
	default_deny(np)
}

deny_cart_net_003 contains msg if {
	combined
	some ns in net_namespaces
	not ns in params.networkPolicyExemptNamespaces
	not ns in denied_namespaces
	msg := sprintf("CART-NET-003: Namespace %v: no default-deny NetworkPolicy (empty podSelector, policyTypes Ingress and Egress, no rules)", [ns])
	not excepted(msg)
}

# CART-NET-004: no LoadBalancer services or external IPs without an exception.
deny_cart_net_004 contains msg if {
	some obj in docs
	obj.kind == "Service"
	obj.spec.type == "LoadBalancer"
	msg := sprintf("CART-NET-004: %v: type LoadBalancer exposes the service outside the cluster; it needs an exception in the catalogue", [who(obj)])
	not excepted(msg)
}

deny_cart_net_004 contains msg if {
	some obj in docs
	obj.kind == "Service"
	ips := list_at(obj, ["spec", "externalIPs"])
	count(ips) > 0
	msg := sprintf("CART-NET-004: %v: sets externalIPs %v; it needs an exception in the catalogue", [who(obj), concat(", ", ips)])
	not excepted(msg)
}

# CART-NET-005: no wildcard Ingress hosts.
ingress_hosts(obj) := {h | some r in list_at(obj, ["spec", "rules"]); h := object.get(r, "host", null); is_string(h)} | {h | some t in list_at(obj, ["spec", "tls"]); some h in list_at(t, "hosts"); is_string(h)}

deny_cart_net_005 contains msg if {
	some obj in docs
	obj.kind == "Ingress"
	some host in ingress_hosts(obj)
	startswith(host, "*")
	msg := sprintf("CART-NET-005: %v: host %v is a wildcard", [who(obj), host])
	not excepted(msg)
}
