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
	# The remedy is the catalogue's own text (OPA loads catalogue.yaml beside the rules; conftest verify may not).
	r := system.main.response with input as review("CREATE", privileged)
		with data.catalogue.rules as [{"id": "CART-PSS-001", "enforcement": "mandatory", "checks": "securityContext.privileged is not true in any container."}]
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

# A Deployment's pods carry its exception: the pod of ReplicaSet api-7d9f (pod-template-hash 7d9f) is
# covered by an exception scoped to Deployment api, and by nothing else's.
pod_of(rs, hash) := {
	"apiVersion": "v1",
	"kind": "Pod",
	"metadata": {
		"name": sprintf("%v-x1", [rs]),
		"namespace": "cartorio",
		"labels": {"pod-template-hash": hash},
		"ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "uid": "u", "controller": true}],
	},
	"spec": {"automountServiceAccountToken": false, "containers": [{
		"name": "c",
		"image": "docker.io/library/nginx@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"securityContext": {"allowPrivilegeEscalation": false, "runAsNonRoot": true, "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}},
		"resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "16Mi"}},
	}]},
}

exception_for(name) := {"rule": "CART-IMG-002", "scope": {"namespace": "cartorio", "kind": "Deployment", "name": name}, "owner": "t", "reason": "r", "expires": "2027-01-01"}

test_an_owners_exception_covers_its_pods if {
	r := system.main.response with input as review("CREATE", pod_of("api-7d9f", "7d9f"))
		with data.rulebook.exceptions as [exception_for("api")]
		with data.clock.now as "2026-12-06T00:00:00Z"
	r.allowed == true
}

test_another_deployments_exception_does_not if {
	r := system.main.response with input as review("CREATE", pod_of("api-7d9f", "7d9f"))
		with data.rulebook.exceptions as [exception_for("outra")]
		with data.clock.now as "2026-12-06T00:00:00Z"
	r.allowed == false
	contains(r.status.message, "CART-IMG-002")
}
