package rulebook

import rego.v1

# A compliant workload passes every rule.
test_good_deployment_passes if {
	count(all_findings(good_deployment)) == 0
}

all_findings(doc) := msgs if {
	msgs := ((((((((((((deny_cart_k8s_001 | deny_cart_pss_001) | deny_cart_pss_002) | deny_cart_pss_003) | deny_cart_pss_004) | deny_cart_pss_005) | deny_cart_pss_006) | deny_cart_pss_007) | deny_cart_pss_008) | deny_cart_res_001) | deny_cart_res_002) | deny_cart_img_001) | deny_cart_img_002) | deny_cart_lgpd_001 with input as doc
}

test_k8s_001_missing_kind if {
	deny_cart_k8s_001["CART-K8S-001: <no kind> x: the document has no kind"] with input as {"metadata": {"name": "x"}}
}

test_k8s_001_unknown_kind if {
	deny_cart_k8s_001["CART-K8S-001: Deploymnet cartorio/api: kind Deploymnet is not in the rulebook; fix the spelling or add it to parameters.knownKinds"] with input as object.union(good_deployment, {"kind": "Deploymnet"})
}

test_pss_001_privileged if {
	deny_cart_pss_001["CART-PSS-001: Deployment cartorio/api: container api is privileged"] with input as deployment_with({}, container_with({"securityContext": {"privileged": true, "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}))
}

test_pss_002_host_network if {
	deny_cart_pss_002["CART-PSS-002: Deployment cartorio/api: hostNetwork is true"] with input as deployment_with({"hostNetwork": true}, good_container)
}

test_pss_003_host_path if {
	some msg in deny_cart_pss_003 with input as deployment_with({"volumes": [{"name": "raiz", "hostPath": {"path": "/"}}]}, good_container)
	startswith(msg, "CART-PSS-003: Deployment cartorio/api: volume raiz is of type hostPath; allowed: ")
}

test_pss_004_host_port if {
	deny_cart_pss_004["CART-PSS-004: Deployment cartorio/api: container api sets hostPort 8080"] with input as deployment_with({}, container_with({"ports": [{"containerPort": 8080, "hostPort": 8080}]}))
}

test_pss_005_escalation if {
	deny_cart_pss_005["CART-PSS-005: Deployment cartorio/api: container api does not set allowPrivilegeEscalation: false"] with input as deployment_with({}, json.patch(good_container, [{"op": "remove", "path": "/securityContext/allowPrivilegeEscalation"}]))
}

test_pss_006_root if {
	deny_cart_pss_006["CART-PSS-006: Deployment cartorio/api: the pod sets runAsUser 0"] with input as deployment_with({"securityContext": {"runAsNonRoot": true, "runAsUser": 0, "seccompProfile": {"type": "RuntimeDefault"}}}, good_container)
	deny_cart_pss_006["CART-PSS-006: Deployment cartorio/api: container api does not set runAsNonRoot: true"] with input as json.patch(good_deployment, [{"op": "remove", "path": "/spec/template/spec/securityContext/runAsNonRoot"}])
}

test_pss_007_capabilities if {
	deny_cart_pss_007["CART-PSS-007: Deployment cartorio/api: container api adds capability SYS_ADMIN"] with input as deployment_with({}, container_with({"securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]}}}))
	count(deny_cart_pss_007) == 0 with input as deployment_with({}, container_with({"securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}}))
}

test_pss_008_seccomp if {
	deny_cart_pss_008["CART-PSS-008: Deployment cartorio/api: container api has no RuntimeDefault or Localhost seccomp profile"] with input as json.patch(good_deployment, [{"op": "remove", "path": "/spec/template/spec/securityContext/seccompProfile"}])
}

test_res_001_requests if {
	deny_cart_res_001["CART-RES-001: Deployment cartorio/api: container api has no memory limit"] with input as deployment_with({}, json.patch(good_container, [{"op": "remove", "path": "/resources/limits"}]))
}

test_res_002_probes if {
	deny_cart_res_002["CART-RES-002: Deployment cartorio/api: container api has no livenessProbe"] with input as deployment_with({}, object.remove(good_container, ["livenessProbe"]))
}

test_img_001_latest if {
	deny_cart_img_001["CART-IMG-001: Deployment cartorio/api: container api image registry.cartorio.example/cartorio/api:latest uses the latest tag"] with input as deployment_with({}, container_with({"image": "registry.cartorio.example/cartorio/api:latest"}))
	deny_cart_img_001["CART-IMG-001: Deployment cartorio/api: container api image registry.cartorio.example/cartorio/api:1.2 is not pinned by digest"] with input as deployment_with({}, container_with({"image": "registry.cartorio.example/cartorio/api:1.2"}))
}

test_img_002_registry if {
	some msg in deny_cart_img_002 with input as deployment_with({}, container_with({"image": "docker.io/library/nginx@sha256:4f6c1a6d3b0e9d2c7a8b5e1f0d9c8b7a6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b"}))
	contains(msg, "is not from an allowed registry")
}

test_lgpd_001_labels if {
	deny_cart_lgpd_001["CART-LGPD-001: Deployment cartorio/api: lacks the label cartorio.digital/owner"] with input as json.patch(good_deployment, [{"op": "remove", "path": "/metadata/labels/cartorio.digital~1owner"}])
	some msg in deny_cart_lgpd_001 with input as json.patch(good_deployment, [{"op": "replace", "path": "/metadata/labels/cartorio.digital~1data-classification", "value": "secreto"}])
	contains(msg, "has cartorio.digital/data-classification=secreto; expected one of")
}

test_net_001_nodeport if {
	deny_cart_net_001["CART-NET-001: Service cartorio/api: type NodePort exposes the service on every node"] with input as {"kind": "Service", "metadata": {"name": "api", "namespace": "cartorio"}, "spec": {"type": "NodePort"}}
	count(deny_cart_net_001) == 0 with input as {"kind": "Service", "metadata": {"name": "api", "namespace": "cartorio"}, "spec": {"type": "ClusterIP"}}
}

test_net_002_tls if {
	ing := {"kind": "Ingress", "metadata": {"name": "api", "namespace": "cartorio"}, "spec": {"rules": [{"host": "a.example"}, {"host": "b.example"}]}}
	deny_cart_net_002["CART-NET-002: Ingress cartorio/api: has no TLS"] with input as ing
	deny_cart_net_002["CART-NET-002: Ingress cartorio/api: host b.example has no TLS entry"] with input as object.union(ing, {"spec": {"rules": ing.spec.rules, "tls": [{"hosts": ["a.example"]}]}})
}

test_net_003_default_deny_combined if {
	deny := {"kind": "NetworkPolicy", "metadata": {"name": "default-deny", "namespace": "cartorio"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}
	count(deny_cart_net_003) == 0 with input as [{"path": "a", "contents": good_deployment}, {"path": "b", "contents": deny}]
	deny_cart_net_003["CART-NET-003: Namespace cartorio: no default-deny NetworkPolicy (empty podSelector, policyTypes Ingress and Egress, no rules)"] with input as [{"path": "a", "contents": good_deployment}]

	# Set rules stay silent on a single document: they need the whole set.
	count(deny_cart_net_003) == 0 with input as good_deployment
}

test_avl_001_pdb if {
	deny_cart_avl_001["CART-AVL-001: PodDisruptionBudget cartorio/api: maxUnavailable 0 blocks every eviction"] with input as {"kind": "PodDisruptionBudget", "metadata": {"name": "api", "namespace": "cartorio"}, "spec": {"maxUnavailable": 0}}
	deny_cart_avl_001["CART-AVL-001: PodDisruptionBudget cartorio/api: minAvailable 100% blocks every eviction"] with input as {"kind": "PodDisruptionBudget", "metadata": {"name": "api", "namespace": "cartorio"}, "spec": {"minAvailable": "100%"}}
	count(deny_cart_avl_001) == 0 with input as {"kind": "PodDisruptionBudget", "metadata": {"name": "api", "namespace": "cartorio"}, "spec": {"maxUnavailable": 1}}
}

hpa(min) := {"kind": "HorizontalPodAutoscaler", "metadata": {"name": "api", "namespace": "cartorio", "labels": good_labels}, "spec": {"minReplicas": min, "scaleTargetRef": {"kind": "Deployment", "name": "api"}}}

test_scl_001_min_replicas if {
	deny_cart_scl_001["CART-SCL-001: HorizontalPodAutoscaler cartorio/api: sets minReplicas 1; citizen-facing workloads need at least 2"] with input as hpa(1)
	count(deny_cart_scl_001) == 0 with input as hpa(2)
}

# Fails closed: a missing label, or a value other than "false", keeps the minimum.
test_scl_001_fails_closed if {
	unlabelled := json.patch(hpa(1), [{"op": "remove", "path": "/metadata/labels/cartorio.digital~1citizen-facing"}])
	deny_cart_scl_001["CART-SCL-001: HorizontalPodAutoscaler cartorio/api: sets minReplicas 1; citizen-facing workloads need at least 2"] with input as unlabelled
	odd := json.patch(hpa(1), [{"op": "replace", "path": "/metadata/labels/cartorio.digital~1citizen-facing", "value": "nao"}])
	count(deny_cart_scl_001) == 1 with input as odd
	internal := json.patch(hpa(1), [{"op": "replace", "path": "/metadata/labels/cartorio.digital~1citizen-facing", "value": "false"}])
	count(deny_cart_scl_001) == 0 with input as internal
}

test_scl_002_replicas_with_hpa if {
	with_replicas := json.patch(good_deployment, [{"op": "add", "path": "/spec/replicas", "value": 3}])
	deny_cart_scl_002["CART-SCL-002: Deployment cartorio/api: sets spec.replicas (3) but HorizontalPodAutoscaler cartorio/api scales it; remove spec.replicas"] with input as [{"path": "a", "contents": with_replicas}, {"path": "b", "contents": hpa(3)}]
	count(deny_cart_scl_002) == 0 with input as [{"path": "a", "contents": good_deployment}, {"path": "b", "contents": hpa(3)}]
}

sync := [
	{"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository", "metadata": {"name": "flux-system", "namespace": "flux-system"}, "spec": {"url": "ssh://git@github.com/cartorio-digital/infraestrutura", "ref": {"branch": "main"}, "verify": {"mode": "HEAD", "secretRef": {"name": "maintainer-keys"}}}},
	{"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": {"name": "flux-system", "namespace": "flux-system"}, "spec": {"path": "./clusters/producao", "prune": true}},
]

test_git_001_flux_sync if {
	count(deny_cart_git_001) == 0 with input as sync[0]
	count(deny_cart_git_001) == 0 with input as sync[1]
	deny_cart_git_001["CART-GIT-001: GitRepository flux-system/flux-system: spec.url is ssh://git@github.com/outro/repo; expected ssh://git@github.com/cartorio-digital/infraestrutura"] with input as json.patch(sync[0], [{"op": "replace", "path": "/spec/url", "value": "ssh://git@github.com/outro/repo"}])
	deny_cart_git_001["CART-GIT-001: Kustomization flux-system/flux-system: spec.prune is not true"] with input as json.patch(sync[1], [{"op": "replace", "path": "/spec/prune", "value": false}])
	deny_cart_git_001["CART-GIT-001: Kustomization flux-system/flux-system: spec.suspend is true"] with input as json.patch(sync[1], [{"op": "add", "path": "/spec/suspend", "value": true}])
}

test_sec_001_private_key if {
	pem := "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n"
	deny_cart_sec_001["CART-SEC-001: Secret cartorio/chave: data.tls.key holds a private key"] with input as {"kind": "Secret", "metadata": {"name": "chave", "namespace": "cartorio"}, "data": {"tls.key": base64.encode(pem)}}
	deny_cart_sec_001["CART-SEC-001: Secret cartorio/chave: stringData.identity holds a private key"] with input as {"kind": "Secret", "metadata": {"name": "chave", "namespace": "cartorio"}, "stringData": {"identity": pem}}
	count(deny_cart_sec_001) == 0 with input as {"kind": "Secret", "metadata": {"name": "flux-system", "namespace": "flux-system"}, "stringData": {"identity": pem}}
	count(deny_cart_sec_001) == 0 with input as {"kind": "Secret", "metadata": {"name": "chave", "namespace": "cartorio"}, "stringData": {"tls.crt": "-----BEGIN CERTIFICATE-----"}}
}

inventory(key) := {"apiVersion": "cartorio.digital/v1", "kind": "KmsInventory", "metadata": {"name": "teste"}, "tokens": [{"name": "assinatura"}], "keys": [object.union({"id": "atos", "version": 1, "purpose": "notarial-signing", "algorithm": "EC", "curve": "P-384", "token": "assinatura", "cryptoperiodDays": 730, "activatedOn": "2026-01-05", "state": "active"}, key)]}

# Cryptoperiods are judged at a fixed time (data.clock.now), never at the day the tests run.
clock_at(day) := {"now": sprintf("%vT00:00:00Z", [day])}

test_kms_rules if {
	count(((deny_cart_kms_001 | deny_cart_kms_002) | deny_cart_kms_003)) == 0 with input as inventory({}) with data.clock as clock_at("2026-12-01")
	deny_cart_kms_001["CART-KMS-001: KmsInventory teste: key atos v1 names token software, which is not an HSM token of the inventory"] with input as inventory({"token": "software"})
	deny_cart_kms_002["CART-KMS-002: KmsInventory teste: key atos v1 uses RSA size 2048; allowed: 3072, 4096"] with input as inventory({"algorithm": "RSA", "size": 2048})
	deny_cart_kms_002["CART-KMS-002: KmsInventory teste: key atos v1 uses EC curve P-521; allowed: P-256, P-384"] with input as inventory({"curve": "P-521"})
	deny_cart_kms_003["CART-KMS-003: KmsInventory teste: key atos v1 has a cryptoperiod of 1500 days; at most 1095 for notarial-signing"] with input as inventory({"cryptoperiodDays": 1500}) with data.clock as clock_at("2026-12-01")
	deny_cart_kms_003["CART-KMS-003: KmsInventory teste: key atos v1 expired on 2020-12-31; rotate it"] with input as inventory({"activatedOn": "2020-01-01", "cryptoperiodDays": 365}) with data.clock as clock_at("2026-12-01")
	count(deny_cart_kms_003) == 0 with input as inventory({"activatedOn": "2020-01-01", "cryptoperiodDays": 365, "state": "retired"}) with data.clock as clock_at("2026-12-01")
}

test_kms_cryptoperiod_ends_at_the_injected_clock if {
	# activatedOn 2026-01-05 + 730 days = 2028-01-05: valid the day before, expired the day after.
	count(deny_cart_kms_003) == 0 with input as inventory({}) with data.clock as clock_at("2028-01-04")
	deny_cart_kms_003["CART-KMS-003: KmsInventory teste: key atos v1 expired on 2028-01-05; rotate it"] with input as inventory({}) with data.clock as clock_at("2028-01-06")
}

test_git_001_local_clone if {
	# The local stack's loopback clone of the same repository passes; another repository or host does not.
	count(deny_cart_git_001) == 0 with input as json.patch(sync[0], [{"op": "replace", "path": "/spec/url", "value": "ssh://git@127.0.0.1:40022/cartorio-digital/infraestrutura"}])
	count(deny_cart_git_001) == 1 with input as json.patch(sync[0], [{"op": "replace", "path": "/spec/url", "value": "ssh://git@127.0.0.1:40022/outro/repo"}])
	count(deny_cart_git_001) == 1 with input as json.patch(sync[0], [{"op": "replace", "path": "/spec/url", "value": "ssh://git@10.0.0.1:22/cartorio-digital/infraestrutura"}])
}

test_git_001_signed_history if {
	unverified := json.patch(sync[0], [{"op": "remove", "path": "/spec/verify"}])
	deny_cart_git_001["CART-GIT-001: GitRepository flux-system/flux-system: spec.verify is not set; only commits signed by a maintainer key may reach the cluster"] with input as unverified
	deny_cart_git_001["CART-GIT-001: GitRepository flux-system/flux-system: spec.verify.mode is Tag; expected HEAD or TagAndHEAD"] with input as json.patch(sync[0], [{"op": "replace", "path": "/spec/verify/mode", "value": "Tag"}])
	deny_cart_git_001["CART-GIT-001: GitRepository flux-system/flux-system: spec.verify.mode is <unset>; expected HEAD or TagAndHEAD"] with input as json.patch(sync[0], [{"op": "replace", "path": "/spec/verify/mode", "value": null}])
	deny_cart_git_001["CART-GIT-001: GitRepository flux-system/flux-system: spec.verify.secretRef.name is unset; expected the Secret of the maintainers' keys"] with input as json.patch(sync[0], [{"op": "remove", "path": "/spec/verify/secretRef"}])
	count(deny_cart_git_001) == 0 with input as json.patch(sync[0], [{"op": "replace", "path": "/spec/verify/mode", "value": "TagAndHEAD"}])

	# The local stack's loopback clone is the developer's own push; the parameter off turns the check off.
	count(deny_cart_git_001) == 0 with input as json.patch(unverified, [{"op": "replace", "path": "/spec/url", "value": "ssh://git@127.0.0.1:40022/cartorio-digital/infraestrutura"}])
	off := json.patch(params, [{"op": "replace", "path": "/gitops/requireVerify", "value": false}])
	count(deny_cart_git_001) == 0 with input as unverified with params as off
}

exceptions_fixture := [
	{"rule": "CART-IMG-001", "scope": {"namespace": "flux-system", "kind": "Deployment"}, "owner": "time-infraestrutura", "reason": "test", "expires": "2027-03-01"},
	{"rule": "CART-NET-001", "scope": {"name": "api"}, "owner": "time-aplicacao", "reason": "test", "expires": "2026-11-01"},
]

test_exceptions_in_force_and_expired if {
	excepted("CART-IMG-001: Deployment flux-system/source-controller: x") with exceptions as exceptions_fixture with data.clock.now as "2026-12-01T00:00:00Z"
	not excepted("CART-IMG-001: Deployment cartorio/source-controller: x") with exceptions as exceptions_fixture with data.clock.now as "2026-12-01T00:00:00Z"
	not excepted("CART-IMG-001: Deployment flux-system/source-controller: x") with exceptions as exceptions_fixture with data.clock.now as "2027-03-01T00:00:00Z"
	not excepted("CART-NET-001: Service cartorio/api: x") with exceptions as exceptions_fixture with data.clock.now as "2026-12-01T00:00:00Z"
	finding_subject("CART-RBAC-001: ClusterRole system:a:b: x") == {"rule": "CART-RBAC-001", "kind": "ClusterRole", "namespace": "", "name": "system:a:b"}
	deny_cart_exc_001["CART-EXC-001: exception to CART-NET-001 (name api) owned by time-aplicacao expired on 2026-11-01: fix the findings, or renew it with a new reason and date"] with exceptions as exceptions_fixture with data.clock.now as "2026-12-01T00:00:00Z" with input as []
}

# CART-K8S-002: an ill-typed field fails closed: it is reported, and no other rule judges the document.
test_k8s_002_ill_typed_field if {
	doc := deployment_with({}, container_with({"securityContext": {"privileged": "true", "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}))
	deny_cart_k8s_002["CART-K8S-002: Deployment cartorio/api: spec.template.spec.containers[0].securityContext.privileged is string; expected boolean"] with input as doc
	count(deny_cart_pss_001) == 0 with input as doc
}

test_k8s_002_null_is_unset if {
	doc := deployment_with({"hostNetwork": null}, container_with({"readinessProbe": null}))
	count(deny_cart_k8s_002) == 0 with input as doc
	deny_cart_res_002["CART-RES-002: Deployment cartorio/api: container api has no readinessProbe"] with input as doc
}

test_k8s_002_null_list_item if {
	doc := json.patch(good_deployment, [{"op": "add", "path": "/spec/template/spec/containers/-", "value": null}])
	deny_cart_k8s_002["CART-K8S-002: Deployment cartorio/api: spec.template.spec.containers[1] is null; expected object"] with input as doc
}

test_k8s_001_not_an_object if {
	deny_cart_k8s_001["CART-K8S-001: <no kind> <unnamed>: the document is array, not an object"] with input as ["a"]
}

test_pss_009_host_process if {
	deny_cart_pss_009["CART-PSS-009: Deployment cartorio/api: the pod sets windowsOptions.hostProcess"] with input as deployment_with({"securityContext": {"runAsNonRoot": true, "windowsOptions": {"hostProcess": true}}}, good_container)
}

test_pss_010_apparmor if {
	deny_cart_pss_010["CART-PSS-010: Deployment cartorio/api: container api has AppArmor profile Unconfined; allowed: RuntimeDefault, Localhost"] with input as deployment_with({}, container_with({"securityContext": {"appArmorProfile": {"type": "Unconfined"}}}))
	annotated := json.patch(good_deployment, [{"op": "add", "path": "/spec/template/metadata", "value": {"annotations": {"container.apparmor.security.beta.kubernetes.io/api": "unconfined"}}}])
	deny_cart_pss_010["CART-PSS-010: Deployment cartorio/api: annotation container.apparmor.security.beta.kubernetes.io/api is unconfined; allowed: runtime/default, localhost/*"] with input as annotated
	count(deny_cart_pss_010) == 0 with input as good_deployment
}

test_pss_011_selinux if {
	doc := deployment_with({"securityContext": {"runAsNonRoot": true, "seLinuxOptions": {"type": "spc_t", "user": "root"}}}, good_container)
	deny_cart_pss_011["CART-PSS-011: Deployment cartorio/api: the pod sets SELinux type spc_t; allowed: container_t, container_init_t, container_kvm_t, container_engine_t"] with input as doc
	deny_cart_pss_011["CART-PSS-011: Deployment cartorio/api: the pod sets SELinux user root"] with input as doc
}

test_pss_012_proc_mount if {
	deny_cart_pss_012["CART-PSS-012: Deployment cartorio/api: container api sets procMount Unmasked; only Default is allowed"] with input as deployment_with({}, container_with({"securityContext": {"procMount": "Unmasked"}}))
}

test_pss_013_sysctls if {
	doc := deployment_with({"securityContext": {"runAsNonRoot": true, "sysctls": [{"name": "kernel.msgmax", "value": "1"}, {"name": "net.ipv4.tcp_syncookies", "value": "1"}]}}, good_container)
	deny_cart_pss_013 == {"CART-PSS-013: Deployment cartorio/api: the pod sets sysctl kernel.msgmax, which is not in the safe set"} with input as doc
}

test_pss_014_host_in_handlers if {
	probe := container_with({"readinessProbe": {"httpGet": {"path": "/", "port": 80, "host": "10.0.0.1"}}})
	deny_cart_pss_014["CART-PSS-014: Deployment cartorio/api: container api readinessProbe.httpGet sets host 10.0.0.1"] with input as deployment_with({}, probe)
	hook := container_with({"lifecycle": {"preStop": {"tcpSocket": {"port": 80, "host": "db"}}}})
	deny_cart_pss_014["CART-PSS-014: Deployment cartorio/api: container api lifecycle.preStop.tcpSocket sets host db"] with input as deployment_with({}, hook)
}

test_pss_015_read_only_root if {
	deny_cart_pss_015["CART-PSS-015: Deployment cartorio/api: container api does not set readOnlyRootFilesystem: true"] with input as good_deployment
	count(deny_cart_pss_015) == 0 with input as deployment_with({}, container_with({"securityContext": {"readOnlyRootFilesystem": true}}))
}

test_sa_001_token if {
	msg := "CART-SA-001: Deployment cartorio/api: the pod mounts a service-account token; set automountServiceAccountToken: false, or, if it calls the Kubernetes API, add an exception naming it (owner, reason, expiry)"
	deny_cart_sa_001[msg] with input as good_deployment
	count(deny_cart_sa_001) == 0 with input as deployment_with({"automountServiceAccountToken": false}, good_container)
	# Saying true is a self-declaration, not a control: it needs an exception too.
	deny_cart_sa_001[msg] with input as deployment_with({"automountServiceAccountToken": true}, good_container)
}

test_net_004_exposure if {
	deny_cart_net_004["CART-NET-004: Service cartorio/api: type LoadBalancer exposes the service outside the cluster; it needs an exception in the catalogue"] with input as {"kind": "Service", "metadata": {"name": "api", "namespace": "cartorio"}, "spec": {"type": "LoadBalancer"}}
	deny_cart_net_004["CART-NET-004: Service cartorio/api: sets externalIPs 203.0.113.7; it needs an exception in the catalogue"] with input as {"kind": "Service", "metadata": {"name": "api", "namespace": "cartorio"}, "spec": {"externalIPs": ["203.0.113.7"]}}
}

test_net_005_wildcard_host if {
	deny_cart_net_005["CART-NET-005: Ingress cartorio/api: host *.cartorio.example is a wildcard"] with input as {"kind": "Ingress", "metadata": {"name": "api", "namespace": "cartorio"}, "spec": {"rules": [{"host": "*.cartorio.example"}]}}
}

test_rbac_001_wildcards if {
	deny_cart_rbac_001["CART-RBAC-001: ClusterRole tudo: rule 0 grants every verb (\"*\")"] with input as {"kind": "ClusterRole", "metadata": {"name": "tudo"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}]}
}

test_rbac_002_cluster_admin if {
	deny_cart_rbac_002["CART-RBAC-002: ClusterRoleBinding admin: binds the ClusterRole cluster-admin"] with input as {"kind": "ClusterRoleBinding", "metadata": {"name": "admin"}, "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"}}
}
