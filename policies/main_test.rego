# The entry point reports each rule at the level the catalogue gives it.
package main

import rego.v1

import data.rulebook

test_mandatory_rules_deny if {
	doc := object.union(rulebook.good_deployment, {"kind": "Deploymnet"})
	some msg in deny with input as doc
	startswith(msg, "CART-K8S-001: ")
	count(warn) == 0 with input as doc
}

test_advisory_rules_warn if {
	doc := object.union(rulebook.good_deployment, {"kind": "Deploymnet"})
	rules := [object.union(r, {"enforcement": "advisory"}) | some r in rulebook.catalogue_default.rules]
	some msg in warn with input as doc with rulebook.catalogue_rules as rules
	startswith(msg, "CART-K8S-001: ")
	count(deny) == 0 with input as doc with rulebook.catalogue_rules as rules
}

test_disabled_rules_say_nothing if {
	doc := object.union(rulebook.good_deployment, {"kind": "Deploymnet"})
	rules := [object.union(r, {"enforcement": "disabled"}) | some r in rulebook.catalogue_default.rules]
	count(deny) == 0 with input as doc with rulebook.catalogue_rules as rules
	count(warn) == 0 with input as doc with rulebook.catalogue_rules as rules
}
