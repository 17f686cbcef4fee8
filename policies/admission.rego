# The rulebook at admission: OPA (`opa run --server`, the webhook the policy component declares) answers
# the API server's AdmissionReview at its default decision (POST /, data.system.main) with the verdict of
# exactly the rules conftest runs (package main: the catalogue's mandatory rules deny, advisory ones warn),
# on the one object of the request, with the catalogue's exceptions and the wall clock (an exception that
# expires stops being honoured here the same day it stops in the enforcers). Set rules need several
# documents and never fire on one object: conftest --combine and the pack enforce them (docs/policy.md).
package system

import rego.v1

main := {
	"apiVersion": "admission.k8s.io/v1",
	"kind": "AdmissionReview",
	"response": response,
}

judged if input.request.operation in {"CREATE", "UPDATE"}

# CART-EXC-001 (an expired exception in the catalogue) judges the catalogue, not the object: the PR check
# stops it. Here it would refuse every object of every workload namespace, pods recreated after a node's
# loss included; the expired exception itself simply stops being honoured.
denials := {m | some m in d; not startswith(m, "CART-EXC-")} if {
	judged
	d := data.main.deny with input as input.request.object
} else := set()

warnings := w if {
	judged
	w := data.main.warn with input as input.request.object
} else := set()

# What must hold instead, from the catalogue, so the refusal says the remedy too.
remedy(msg) := sprintf("%v — required: %v", [msg, r.checks]) if {
	some r in data.catalogue.rules
	startswith(msg, sprintf("%v:", [r.id]))
} else := msg

base := {"uid": input.request.uid, "allowed": count(denials) == 0}

response := object.union(base, {"warnings": sort(warnings)}) if {
	count(denials) == 0
	count(warnings) > 0
}

response := base if {
	count(denials) == 0
	count(warnings) == 0
}

response := object.union(base, {"status": {
	"code": 403,
	"reason": "Forbidden",
	"message": sprintf(
		"the cartorio rulebook refuses %v %v/%v: %v (policies/catalogue.yaml: fix it, or add an exception with owner, reason and expiry)",
		[input.request.kind.kind, object.get(input.request, "namespace", ""), input.request.name, concat("; ", sort([remedy(m) | some m in denials]))],
	),
}}) if count(denials) > 0
