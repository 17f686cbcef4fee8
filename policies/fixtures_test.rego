# Shared fixtures of the Rego unit tests.
package rulebook

import rego.v1

good_labels := {
	"app.kubernetes.io/name": "api",
	"app.kubernetes.io/part-of": "cartorio-plataforma",
	"cartorio.digital/owner": "time-aplicacao",
	"cartorio.digital/data-classification": "confidencial",
	"cartorio.digital/citizen-facing": "true",
}

good_container := {
	"name": "api",
	"image": "registry.cartorio.example/cartorio/api@sha256:4f6c1a6d3b0e9d2c7a8b5e1f0d9c8b7a6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b",
	"resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "128Mi"}},
	"readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080}},
	"livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
	"securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}},
}

deployment_with(pod_patch, container) := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "api", "namespace": "cartorio", "labels": good_labels},
	"spec": {"template": {"spec": object.union(
		{
			"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
			"containers": [container],
			"volumes": [{"name": "tmp", "emptyDir": {}}],
		},
		pod_patch,
	)}},
}

good_deployment := deployment_with({}, good_container)

container_with(patch) := object.union(good_container, patch)
