# CART-GIT-001: the Flux sync points at the institutional repository, branch and path.
package rulebook

import rego.v1

flux_sync(obj, kind, group) if {
	obj.kind == kind
	startswith(object.get(obj, "apiVersion", ""), group)
	obj.metadata.name == "flux-system"
	obj.metadata.namespace == "flux-system"
}

# The local stack's sync reads a loopback clone of the same repository (parameters.gitops.localUrlPattern).
local_clone(url) if regex.match(params.gitops.localUrlPattern, url)

deny_cart_git_001 contains msg if {
	some obj in docs
	flux_sync(obj, "GitRepository", "source.toolkit.fluxcd.io/")
	url := unset_at(obj, ["spec", "url"])
	url != params.gitops.url
	not local_clone(url)
	msg := sprintf("CART-GIT-001: %v: spec.url is %v; expected %v", [who(obj), url, params.gitops.url])
	not excepted(msg)
}

deny_cart_git_001 contains msg if {
	some obj in docs
	flux_sync(obj, "GitRepository", "source.toolkit.fluxcd.io/")
	branch := unset_at(obj, ["spec", "ref", "branch"])
	branch != params.gitops.branch
	msg := sprintf("CART-GIT-001: %v: spec.ref.branch is %v; expected %v", [who(obj), branch, params.gitops.branch])
	not excepted(msg)
}

# Signed history: the sync from the institutional repository verifies HEAD against the maintainers' keys.
verified_sync(obj) if {
	flux_sync(obj, "GitRepository", "source.toolkit.fluxcd.io/")
	params.gitops.requireVerify == true
	not local_clone(object.get(obj, ["spec", "url"], ""))
}

deny_cart_git_001 contains msg if {
	some obj in docs
	verified_sync(obj)
	not is_object(object.get(obj, ["spec", "verify"], null))
	msg := sprintf("CART-GIT-001: %v: spec.verify is not set; only commits signed by a maintainer key may reach the cluster", [who(obj)])
	not excepted(msg)
}

deny_cart_git_001 contains msg if {
	some obj in docs
	verified_sync(obj)
	is_object(obj.spec.verify)
	mode := object.get(obj.spec.verify, "mode", null)
	not mode in {"HEAD", "TagAndHEAD"}
	shown := unset_if_null(mode)
	msg := sprintf("CART-GIT-001: %v: spec.verify.mode is %v; expected HEAD or TagAndHEAD", [who(obj), shown])
	not excepted(msg)
}

deny_cart_git_001 contains msg if {
	some obj in docs
	verified_sync(obj)
	is_object(obj.spec.verify)
	not nonempty_string(object.get(obj.spec.verify, ["secretRef", "name"], null))
	msg := sprintf("CART-GIT-001: %v: spec.verify.secretRef.name is unset; expected the Secret of the maintainers' keys", [who(obj)])
	not excepted(msg)
}

unset_if_null(x) := "<unset>" if x == null

unset_if_null(x) := x if x != null

nonempty_string(x) if {
	is_string(x)
	x != ""
}

deny_cart_git_001 contains msg if {
	some obj in docs
	flux_sync(obj, "Kustomization", "kustomize.toolkit.fluxcd.io/")
	p := unset_at(obj, ["spec", "path"])
	p != params.gitops.path
	msg := sprintf("CART-GIT-001: %v: spec.path is %v; expected %v", [who(obj), p, params.gitops.path])
	not excepted(msg)
}

deny_cart_git_001 contains msg if {
	some obj in docs
	flux_sync(obj, "Kustomization", "kustomize.toolkit.fluxcd.io/")
	object.get(obj, ["spec", "prune"], false) != true
	msg := sprintf("CART-GIT-001: %v: spec.prune is not true", [who(obj)])
	not excepted(msg)
}

deny_cart_git_001 contains msg if {
	some obj in docs
	flux_sync(obj, "Kustomization", "kustomize.toolkit.fluxcd.io/")
	obj.spec.suspend == true
	msg := sprintf("CART-GIT-001: %v: spec.suspend is true", [who(obj)])
	not excepted(msg)
}

# CART-GIT-002: the institutional sync is the cluster's only Flux source: a second GitRepository (or an
# OCIRepository, HelmRepository, Bucket) is how code nobody reviewed would come in, and a Kustomization or
# HelmRelease must read the institutional sync. Anything else needs an exception with owner and expiry.
flux_source_kinds := {"GitRepository", "OCIRepository", "HelmRepository", "Bucket"}

deny_cart_git_002 contains msg if {
	some obj in docs
	obj.kind in flux_source_kinds
	startswith(object.get(obj, "apiVersion", ""), "source.toolkit.fluxcd.io/")
	not flux_sync(obj, "GitRepository", "source.toolkit.fluxcd.io/")
	msg := sprintf("CART-GIT-002: %v: a Flux source other than the institutional sync (GitRepository flux-system/flux-system)", [who(obj)])
	not excepted(msg)
}

# Where a Flux consumer reads from: Kustomization spec.sourceRef; HelmRelease spec.chartRef or spec.chart.spec.sourceRef.
flux_source_ref(obj) := unset_as_empty(object.get(obj, ["spec", "sourceRef"], null)) if {
	obj.kind == "Kustomization"
	startswith(object.get(obj, "apiVersion", ""), "kustomize.toolkit.fluxcd.io/")
}

# null is unset, as Kubernetes decodes it: a Kustomization whose sourceRef is null reads no source at all.
unset_as_empty(v) := {} if v == null

else := v

flux_source_ref(obj) := r if {
	obj.kind == "HelmRelease"
	startswith(object.get(obj, "apiVersion", ""), "helm.toolkit.fluxcd.io/")
	r := object.get(obj, ["spec", "chartRef"], unset_as_empty(object.get(obj, ["spec", "chart", "spec", "sourceRef"], null)))
}

deny_cart_git_002 contains msg if {
	some obj in docs
	ref := flux_source_ref(obj)
	is_object(ref)
	kind := object.get(ref, "kind", null)
	name := object.get(ref, "name", null)
	ns := object.get(ref, "namespace", object.get(obj, ["metadata", "namespace"], null))
	[kind, ns, name] != ["GitRepository", "flux-system", "flux-system"]
	msg := sprintf("CART-GIT-002: %v: does not read GitRepository flux-system/flux-system (its source reference)", [who(obj)])
	not excepted(msg)
}
