# Shared helpers of the rulebook. Rules read `docs`: every document of a
# combined run (conftest --combine) or the single input document otherwise.
# Set rules (several documents) only run combined.
package main

import rego.v1

# From --data policies/catalogue.yaml when given, else the generated copy (catalogue_data.rego).
params := data.catalogue.parameters if data.catalogue.parameters

else := catalogue_default.parameters

# The time rules judge at: data.clock.now (RFC 3339, e.g. from `--data clock.yaml`
# holding `clock: {now: "2026-12-01T00:00:00Z"}`) when given, else the wall clock.
# Tests fix it, so no verdict depends on the day they run.
now_ns := time.parse_rfc3339_ns(data.clock.now) if is_string(data.clock.now)

else := time.now_ns()

combined if is_array(input)

docs := [d.contents | some d in input] if combined

else := [input]

who(obj) := sprintf("%v %v%v", [object.get(obj, "kind", "<no kind>"), ns_prefix(obj), object.get(obj, ["metadata", "name"], "<unnamed>")])

ns_prefix(obj) := sprintf("%v/", [obj.metadata.namespace]) if obj.metadata.namespace

else := ""

is_workload(obj) if obj.kind in params.workloadKinds

pod_spec(obj) := obj.spec if obj.kind == "Pod"

else := obj.spec.jobTemplate.spec.template.spec if obj.kind == "CronJob"

else := obj.spec.template.spec

all_containers(pod) := array.concat(
	array.concat(object.get(pod, "containers", []), object.get(pod, "initContainers", [])),
	object.get(pod, "ephemeralContainers", []),
)

# Containers of every workload, with their pod spec.
workload_containers contains [obj, pod, c] if {
	some obj in docs
	is_workload(obj)
	pod := pod_spec(obj)
	some c in all_containers(pod)
}

# The catalogue's exceptions (catalogue.exceptions), from --data or the generated copy.
exceptions := object.get(data.catalogue, "exceptions", []) if data.catalogue.parameters

else := catalogue_default.exceptions

# The subject a finding names: "CART-XXX-000: <Kind> [<namespace>/]<name>: ...".
finding_subject(msg) := {"rule": m[1], "kind": m[2], "namespace": ns, "name": name} if {
	m := regex.find_all_string_submatch_n(`^(CART-[A-Z0-9]+-[0-9]{3}): ([^ ]+) ([^ ]+): `, msg, 1)[0]
	contains(m[3], "/")
	i := indexof(m[3], "/")
	ns := substring(m[3], 0, i)
	name := substring(m[3], i + 1, -1)
}

else := {"rule": m[1], "kind": m[2], "namespace": "", "name": m[3]} if {
	m := regex.find_all_string_submatch_n(`^(CART-[A-Z0-9]+-[0-9]{3}): ([^ ]+) ([^ ]+): `, msg, 1)[0]
}

# In force until the start (UTC) of its expiry day.
exception_active(e) if now_ns < time.parse_rfc3339_ns(sprintf("%vT00:00:00Z", [e.expires]))

# A finding is excepted while an exception to its rule whose scope covers its subject is in force.
excepted(msg) if {
	s := finding_subject(msg)
	some e in exceptions
	e.rule == s.rule
	exception_active(e)
	object.get(e.scope, "namespace", s.namespace) == s.namespace
	object.get(e.scope, "kind", s.kind) == s.kind
	object.get(e.scope, "name", s.name) == s.name
}
