# Shared helpers of the rulebook. Rules read `docs`: every document of a
# combined run (conftest --combine) or the single input document otherwise.
# Set rules (several documents) only run combined.
package rulebook

import rego.v1

# From --data policies/catalogue.yaml when given, else the generated copy (catalogue_data.rego).
params := data.catalogue.parameters if data.catalogue.parameters

else := catalogue_default.parameters

# The rules with their enforcement levels, from the same source.
catalogue_rules := data.catalogue.rules if data.catalogue.parameters

else := catalogue_default.rules

# The time rules judge at: data.clock.now (RFC 3339, e.g. from `--data clock.yaml`
# holding `clock: {now: "2026-12-01T00:00:00Z"}`) when given, else the wall clock.
# Tests fix it, so no verdict depends on the day they run.
now_ns := time.parse_rfc3339_ns(data.clock.now) if is_string(data.clock.now)

else := time.now_ns()

# conftest --combine: an array of {path, contents}, one per document (a single document that is a list is not).
combined if {
	is_array(input)
	every d in input {
		is_object(d)
		"path" in object.keys(d)
		"contents" in object.keys(d)
	}
}

# Every document of the input but the empty ones (kubectl skips them too).
all_docs := [d.contents | some d in input; d.contents != null] if combined

else := [input] if input != null

else := []

# The documents the rules judge: objects whose fields have their types (CART-K8S-001/002 report the rest).
docs := [d | some d in all_docs; well_formed(d)]

who(obj) := sprintf("%v %v%v", [who_kind(obj), ns_prefix(obj), who_name(obj)])

who_kind(obj) := obj.kind if {
	is_string(obj.kind)
	obj.kind != ""
} else := "<no kind>"

who_name(obj) := obj.metadata.name if is_string(obj.metadata.name) else := "<unnamed>"

ns_prefix(obj) := sprintf("%v/", [obj.metadata.namespace]) if {
	is_string(obj.metadata.namespace)
	obj.metadata.namespace != ""
} else := ""

is_workload(obj) if obj.kind in params.workloadKinds

# A field as Kubernetes reads it: absent and null are both unset.
list_at(x, path) := v if {
	v := object.get(x, path, null)
	is_array(v)
} else := []

map_at(x, path) := v if {
	v := object.get(x, path, null)
	is_object(v)
} else := {}

unset_at(x, path) := v if {
	v := object.get(x, path, null)
	v != null
} else := "<unset>"

# How a container is named in messages.
cname(c) := unset_at(c, "name")

# The pod spec of a workload, {} when it has none.
pod_of(obj) := p if {
	p := pod_spec(obj)
	is_object(p)
} else := {}

# The metadata of a workload's pod template (the Pod's own for a Pod), {} when it has none.
pod_meta(obj) := m if {
	m := pod_meta_at(obj)
	is_object(m)
} else := {}

pod_meta_at(obj) := obj.metadata if obj.kind == "Pod"

else := obj.spec.jobTemplate.spec.template.metadata if obj.kind == "CronJob"

else := obj.spec.template.metadata

pod_spec(obj) := obj.spec if obj.kind == "Pod"

else := obj.spec.jobTemplate.spec.template.spec if obj.kind == "CronJob"

else := obj.spec.template.spec

all_containers(pod) := array.concat(
	array.concat(list_at(pod, "containers"), list_at(pod, "initContainers")),
	list_at(pod, "ephemeralContainers"),
)

# Containers of every workload, with their pod spec.
workload_containers contains [obj, pod, c] if {
	some obj in docs
	is_workload(obj)
	pod := pod_of(obj)
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

# The container's setting when set, else the pod's (null when neither is).
first_set(container, pod) := container if container != null

else := pod

# The namespace a namespaced object lands in: "default" when unset.
namespace_of(obj) := ns if {
	ns := object.get(obj, ["metadata", "namespace"], null)
	ns != null
} else := "default"
