# CART-EXC-001: an exception of the catalogue past its expiry day is itself a violation
# (it judges the catalogue, not documents: a set rule, run with --combine).
package rulebook

import rego.v1

scope_text(e) := concat(", ", [sprintf("%v %v", [k, e.scope[k]]) | some k in ["namespace", "kind", "name"]; e.scope[k]])

deny_cart_exc_001 contains msg if {
	combined
	some e in exceptions
	not exception_active(e)
	msg := sprintf(
		"CART-EXC-001: exception to %v (%v) owned by %v expired on %v: fix the findings, or renew it with a new reason and date",
		[e.rule, scope_text(e), e.owner, e.expires],
	)
}
