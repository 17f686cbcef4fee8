// Command pulumi-language-nodejs is cartorio-plataforma's Node.js language host.
//
// Why our own: the Go module proxy this project must build from refuses every
// version of github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3,
// so an air-gapped site cannot assemble the upstream host. This host speaks the
// same LanguageRuntime gRPC protocol and delegates program semantics to the
// scripts the @pulumi/pulumi npm package ships (cmd/run, cmd/run-policy-pack,
// cmd/run-plugin) and package management to the SDK's nodejs/npm package, so
// programs, dynamic providers and policy packs behave as under upstream's host
// v3.259.0 wherever a user could tell, with three differences on purpose: the
// engine's health is checked every second; a policy pack that says
// typescript: false starts without ts-node (policy-runner.js, calling the same
// run() of cmd/run-policy-pack); and a pack's Remediate is answered here while
// none of its policies can remediate (policyproxy.go: the answer @pulumi/policy
// would give, without the round trip). Where it does not support something (code
// generation, packing, linking, a debugger), it says so with an error naming
// the feature; README.md "The engine, offline" has the full table.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

// healthInterval is how often the host asks the engine whether it is alive. Upstream asks every
// 5 minutes; a CLI killed with SIGKILL then leaves the host and the Node program running that long.
// Asking every second lets both end within seconds, for the price of one local RPC a second.
const healthInterval = time.Second

func main() {
	flag.String("root", "", "project root (ignored: the engine sends ProgramInfo)")
	tracing := flag.String("tracing", "", "tracing endpoint (not supported; accepted for the engine's sake)")
	showVersion := flag.Bool("version", false, "print the version and which host this is, then exit")
	runtimeName := flag.String("runtime", "nodejs", "the JavaScript runtime (only nodejs is supported)")
	flag.Parse()

	if *showVersion {
		fmt.Printf("%s (%s)\n", version.Version, hostName)
		return
	}
	logging.InitLogging(false, 0, false)
	if *runtimeName != "nodejs" {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: runtime %q is not supported by the %s (nodejs only)\n",
			*runtimeName, hostName)
		os.Exit(1)
	}
	if *tracing != "" {
		logging.V(3).Infof("tracing to %s is not supported by this host; continuing without it", *tracing)
	}

	engineAddress := ""
	if args := flag.Args(); len(args) > 0 {
		engineAddress = args[len(args)-1]
	}

	// SIGINT/SIGTERM, a failed health check or the engine's Cancel end the children gracefully
	// (SIGINT, then SIGKILL after a grace period), then the host itself.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	host := newHost(ctx, engineAddress)
	if engineAddress != "" {
		if err := host.startHealthcheck(engineAddress); err != nil {
			fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: could not start the health check: %v\n", err)
			os.Exit(1)
		}
	}

	serverCancel := make(chan bool)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: serverCancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: could not start the gRPC server: %v\n", err)
		os.Exit(1)
	}
	// The engine reads the port from our first line of output.
	fmt.Printf("%d\n", handle.Port)

	go func() {
		<-host.ctx.Done()
		host.waitChildren(childGrace + 2*time.Second)
		close(serverCancel)
	}()
	if err := <-handle.Done; err != nil && !strings.Contains(err.Error(), "closed") {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: gRPC server stopped: %v\n", err)
		os.Exit(1)
	}
}
