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
