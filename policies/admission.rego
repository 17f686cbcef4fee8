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
denials := {m | some m in d; not startswith(m, "CART-EXC-"); not owner_excepted(m)} if {
	judged
	d := data.main.deny with input as input.request.object
} else := set()

# What its controllers make from a judged object (a Deployment's ReplicaSets and pods, a StatefulSet's,
# DaemonSet's or Job's pods, a CronJob's Jobs) is judged again here, as the API admits each; an exception
# scoped to the object that owns it covers it too, as the audit judges an owned object through its owner.
# Pods of a CronJob's Jobs are one level further and are not covered.
controller := [r | some r in object.get(input.request.object.metadata, "ownerReferences", []); r.controller == true][0]

owner := {"kind": "Deployment", "name": trim_suffix(controller.name, sprintf("-%v", [hash]))} if {
	controller.kind == "ReplicaSet"
	hash := input.request.object.metadata.labels["pod-template-hash"]
	endswith(controller.name, sprintf("-%v", [hash]))
} else := {"kind": controller.kind, "name": controller.name} if {
	controller.kind in {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
}

owner_excepted(msg) if {
	s := data.rulebook.finding_subject(msg)
	some e in data.rulebook.exceptions
	e.rule == s.rule
	data.rulebook.exception_active(e)
	object.get(e.scope, "namespace", s.namespace) == s.namespace
	object.get(e.scope, "kind", owner.kind) == owner.kind
	object.get(e.scope, "name", owner.name) == owner.name
}

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
