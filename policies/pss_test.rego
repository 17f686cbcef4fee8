# Unit tests of what the Pod Security oracle (test/policy/psa-oracle.test.ts) found: the rules read the pod as
# Pod Security admission does (test/fixtures/psa-fuzz/ holds the reproducers), and CART-PSS-016.
package rulebook

import rego.v1

test_pss_004_host_port_zero_is_unset if {
	count(deny_cart_pss_004) == 0 with input as deployment_with({}, container_with({"ports": [{"containerPort": 8080, "hostPort": 0}]}))
}

test_pss_004_host_network_sets_host_ports if {
	doc := deployment_with({"hostNetwork": true}, container_with({"ports": [{"containerPort": 8080}]}))
	deny_cart_pss_004 == {"CART-PSS-004: Deployment cartorio/api: container api uses hostPort 8080 (hostNetwork sets it to the containerPort)"} with input as doc
}

test_pss_006_pod_false_wins if {
	doc := deployment_with({"securityContext": {"runAsNonRoot": false, "seccompProfile": {"type": "RuntimeDefault"}}}, container_with({"securityContext": {"runAsNonRoot": true, "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}))
	deny_cart_pss_006 == {"CART-PSS-006: Deployment cartorio/api: the pod sets runAsNonRoot: false"} with input as doc
}

test_pss_006_user_namespace if {
	doc := deployment_with({"hostUsers": false, "securityContext": {"runAsUser": 0}}, good_container)
	count(deny_cart_pss_006) == 0 with input as doc
}

test_pss_008_pod_profile_counts if {
	doc := deployment_with({"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "Unconfined"}}}, container_with({"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}, "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}))
	deny_cart_pss_008 == {"CART-PSS-008: Deployment cartorio/api: the pod sets seccomp profile Unconfined; allowed: RuntimeDefault, Localhost"} with input as doc
}

test_pss_010_empty_annotation_is_unset if {
	annotated := json.patch(good_deployment, [{"op": "add", "path": "/spec/template/metadata", "value": {"annotations": {"container.apparmor.security.beta.kubernetes.io/api": ""}}}])
	count(deny_cart_pss_010) == 0 with input as annotated
}

pss_namespace(labels) := {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cartorio", "labels": labels}}

test_pss_016_namespace_enforces_restricted if {
	count(deny_cart_pss_016) == 0 with input as pss_namespace({"pod-security.kubernetes.io/enforce": "restricted"})
	deny_cart_pss_016 == {"CART-PSS-016: Namespace cartorio: does not enforce Pod Security (no enforce label); label it pod-security.kubernetes.io/enforce: restricted, or add an exception naming it (owner, reason, expiry)"} with input as pss_namespace(good_labels)
	deny_cart_pss_016 == {"CART-PSS-016: Namespace cartorio: enforces Pod Security baseline, not restricted; label it pod-security.kubernetes.io/enforce: restricted, or add an exception naming it (owner, reason, expiry)"} with input as pss_namespace({"pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/warn": "restricted"})
}

test_pss_016_exempt_and_excepted if {
	count(deny_cart_pss_016) == 0 with input as {"kind": "Namespace", "metadata": {"name": "kube-system"}}

	# flux-system: the catalogue's exception (owner time-infraestrutura), in force at the fuzzer's clock.
	count(deny_cart_pss_016) == 0 with input as {"kind": "Namespace", "metadata": {"name": "flux-system"}} with data.clock.now as "2026-12-01T00:00:00Z"
	count(deny_cart_pss_016) == 1 with input as {"kind": "Namespace", "metadata": {"name": "flux-system"}} with data.clock.now as "2027-06-01T00:00:00Z"
}
