# CART-NET-001: no NodePort services.
# CART-NET-002: Ingress only with TLS.
# CART-NET-003: a default-deny NetworkPolicy in every namespace (set rule: --combine).
package main

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
	count(object.get(obj, ["spec", "tls"], [])) == 0
	msg := sprintf("CART-NET-002: %v: has no TLS", [who(obj)])
	not excepted(msg)
}

deny_cart_net_002 contains msg if {
	some obj in docs
	obj.kind == "Ingress"
	tls := object.get(obj, ["spec", "tls"], [])
	count(tls) > 0
	covered := {h | some t in tls; some h in object.get(t, "hosts", [])}
	some r in object.get(obj, ["spec", "rules"], [])
	r.host
	not r.host in covered
	msg := sprintf("CART-NET-002: %v: host %v has no TLS entry", [who(obj), r.host])
	not excepted(msg)
}

net_namespaces contains obj.metadata.name if {
	some obj in docs
	obj.kind == "Namespace"
	obj.metadata.name
}

net_namespaces contains object.get(obj, ["metadata", "namespace"], "default") if {
	some obj in docs
	is_workload(obj)
}

default_deny(np) if {
	sel := object.get(np, ["spec", "podSelector"], {})
	count(object.get(sel, "matchLabels", {})) == 0
	count(object.get(sel, "matchExpressions", [])) == 0
	types := object.get(np, ["spec", "policyTypes"], [])
	"Ingress" in types
	"Egress" in types
	count(object.get(np, ["spec", "ingress"], [])) == 0
	count(object.get(np, ["spec", "egress"], [])) == 0
}

denied_namespaces contains object.get(np, ["metadata", "namespace"], "default") if {
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
