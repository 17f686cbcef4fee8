// Command kube is the embedded control plane of the local stack in one binary:
// etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kubectl, plus a small PKI
// generator and the RBAC policy the API server bootstraps (the live audit's
// reference). One binary because the four share most of their compiled packages
// and linking a 100 MB Kubernetes binary is the slow part of the build: one
// link instead of four.
//
// It is a multi-call binary, like busybox: invoked through a link named after a
// tool (kubectl -> kube) it is that tool, so `kubectl describe hpa ...` runs
// verbatim; invoked as `kube <tool> args...` it is the same.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	_ "time/tzdata" // CronJob time zones, as upstream's binaries embed

	"go.etcd.io/etcd/server/v3/etcdmain"
	_ "k8s.io/client-go/plugin/pkg/client/auth"
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	kubectl "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

// Each tool reads its arguments from os.Args, as its upstream main does.
var tools = map[string]func(){
	"etcd": func() { etcdmain.Main(os.Args) },
	"kube-apiserver": func() {
		os.Exit(cli.Run(apiserver.NewAPIServerCommand()))
	},
	"kube-controller-manager": func() {
		os.Exit(cli.Run(controllermanager.NewControllerManagerCommand()))
	},
	"kube-scheduler": func() {
		os.Exit(cli.Run(scheduler.NewSchedulerCommand()))
	},
	"kubectl": func() {
		logs.GlogSetter(kubectl.GetLogVerbosity(os.Args)) //nolint:errcheck // upstream ignores it too
		if err := cli.RunNoErrOutput(kubectl.NewDefaultKubectlCommand()); err != nil {
			kubectlutil.CheckErr(err)
		}
	},
	"pki": func() { os.Exit(pkiMain(os.Args[1:])) },
	// The RBAC objects the API server bootstraps, as JSON (bootstrap.go): the live audit's reference.
	"bootstrap-policy": func() { os.Exit(bootstrapPolicyMain(os.Args[1:])) },
}

func main() {
	name := filepath.Base(os.Args[0])
	if _, ok := tools[name]; !ok {
		if len(os.Args) < 2 || tools[os.Args[1]] == nil {
			usage()
			os.Exit(2)
		}
		// `kube kubectl get ns` runs as `kubectl get ns`.
		os.Args = os.Args[1:]
		name = os.Args[0]
	}
	tools[name]()
}

func usage() {
	names := make([]string, 0, len(tools))
	for n := range tools {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(os.Stderr, "usage: kube <tool> [args...], or call it through a link named after the tool\ntools: %v\n", names)
}
