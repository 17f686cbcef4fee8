package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"

	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac/bootstrappolicy"
)

// bootstrapPolicyMain prints, as JSON, the RBAC objects this Kubernetes
// version's API server bootstraps (its rbac/bootstrap-roles post-start hook,
// pkg/registry/rbac/rest/storage_rbac.go): the cluster roles and bindings,
// the controllers' ones, and the roles and bindings of the kube-* namespaces.
// The live audit (components/policy/audit.ts) exempts a live RBAC object only
// when it is one of these, by name and content; the reference comes from the
// library compiled into the API server, not from the cluster audited, which
// may have been tampered with.
//
// What is bootstrapped depends on feature gates; without --feature-gates it is
// what the API server bootstraps with its defaults (the embedded cluster's).
func bootstrapPolicyMain(args []string) int {
	fs := flag.NewFlagSet("bootstrap-policy", flag.ContinueOnError)
	gates := fs.String("feature-gates", "", "the API server's --feature-gates (key=value,...), if it sets any")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: kube bootstrap-policy [--feature-gates=...]\n"+
			"prints the RBAC objects the API server bootstraps, as JSON")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	if *gates != "" {
		if err := utilfeature.DefaultMutableFeatureGate.Set(*gates); err != nil {
			fmt.Fprintf(os.Stderr, "bootstrap-policy: --feature-gates: %v\n", err)
			return 2
		}
	}

	type object = any
	out := struct {
		ClusterRoles        []object `json:"clusterRoles"`
		ClusterRoleBindings []object `json:"clusterRoleBindings"`
		Roles               []object `json:"roles"`
		RoleBindings        []object `json:"roleBindings"`
	}{}
	// As the post-start hook composes them.
	for _, r := range append(bootstrappolicy.ClusterRoles(), bootstrappolicy.ControllerRoles()...) {
		out.ClusterRoles = append(out.ClusterRoles, r)
	}
	for _, b := range append(bootstrappolicy.ClusterRoleBindings(), bootstrappolicy.ControllerRoleBindings()...) {
		out.ClusterRoleBindings = append(out.ClusterRoleBindings, b)
	}
	roles, bindings := bootstrappolicy.NamespaceRoles(), bootstrappolicy.NamespaceRoleBindings()
	for _, ns := range sortedKeys(roles) {
		for _, r := range roles[ns] {
			r.Namespace = ns
			out.Roles = append(out.Roles, r)
		}
	}
	for _, ns := range sortedKeys(bindings) {
		for _, b := range bindings[ns] {
			b.Namespace = ns
			out.RoleBindings = append(out.RoleBindings, b)
		}
	}

	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintf(os.Stderr, "bootstrap-policy: %v\n", err)
		return 1
	}
	return 0
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
