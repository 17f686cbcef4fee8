# The webhook's answer (admission.rego): the rulebook's verdict on the request's object, as an AdmissionReview.
package system_test

import rego.v1

import data.system

review(op, obj) := {
	"apiVersion": "admission.k8s.io/v1",
	"kind": "AdmissionReview",
	"request": {
		"uid": "u-1",
		"operation": op,
		"kind": {"group": "apps", "version": "v1", "kind": obj.kind},
		"namespace": "cartorio",
		"name": obj.metadata.name,
		"object": obj,
	},
}

privileged := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "intrusa", "namespace": "cartorio"},
	"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx", "securityContext": {"privileged": true}}]}}},
}

test_refuses_with_rule_id_object_and_remedy if {
	r := system.main.response with input as review("CREATE", privileged)
	r.uid == "u-1"
	r.allowed == false
	r.status.code == 403
	contains(r.status.message, "refuses Deployment cartorio/intrusa")
	contains(r.status.message, "CART-PSS-001: Deployment cartorio/intrusa: container c is privileged — required: securityContext.privileged is not true")
}

test_updates_are_judged_too if {
	r := system.main.response with input as review("UPDATE", privileged)
	r.allowed == false
}

test_deletes_are_not_judged if {
	r := system.main.response with input as review("DELETE", privileged)
	r == {"uid": "u-1", "allowed": true}
}

test_answers_an_admission_review if {
	a := system.main with input as review("CREATE", privileged)
	a.apiVersion == "admission.k8s.io/v1"
	a.kind == "AdmissionReview"
}
