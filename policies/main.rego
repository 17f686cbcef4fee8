# The entry point conftest queries (namespace main): every rule of the catalogue, at its enforcement level.
# Mandatory rules deny, advisory ones warn, disabled ones are not run: the catalogue decides, as it does for
# the pack (policypack/index.ts), so both enforcers report each rule at the same level. The rules themselves
# live in package rulebook, one partial set deny_cart_<area>_<nnn> per rule id; querying two sets here rather
# than one per rule lets conftest judge each document in two queries instead of one per rule.
package main

import rego.v1

import data.rulebook

rule_name(id) := concat("_", ["deny", lower(replace(id, "-", "_"))])

deny contains msg if {
	some r in rulebook.catalogue_rules
	r.enforcement == "mandatory"
	some msg in rulebook[rule_name(r.id)]
}

warn contains msg if {
	some r in rulebook.catalogue_rules
	r.enforcement == "advisory"
	some msg in rulebook[rule_name(r.id)]
}

# A catalogue rule without its Rego rule is not silently skipped.
deny contains msg if {
	some r in rulebook.catalogue_rules
	r.enforcement != "disabled"
	not rulebook[rule_name(r.id)]
	msg := sprintf("%v: the rulebook has no Rego rule %v (policies/*.rego)", [r.id, rule_name(r.id)])
}
