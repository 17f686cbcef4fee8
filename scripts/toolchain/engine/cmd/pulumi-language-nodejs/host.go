package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	"github.com/pulumi/pulumi/sdk/v3/nodejs/npm"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Exit code of the Node runtime meaning "the error was already shown to the user" (upstream's bail).
const exitAfterUserActionableMessage = 32

// childGrace is how long a child has between SIGINT and SIGKILL (upstream's WaitDelay).
const childGrace = 5 * time.Second

type nodeHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	// ctx ends the host: a signal or a failed engine health check.
	ctx  context.Context
	stop context.CancelFunc
	// cancelCtx ends running programs and plugins: the engine's Cancel RPC, or ctx.
	cancelCtx context.Context
	cancel    context.CancelFunc

	mu            sync.Mutex
	engineAddress string
	healthStarted bool
	children      sync.WaitGroup
}

func newHost(parent context.Context, engineAddress string) *nodeHost {
	ctx, stop := context.WithCancel(parent)
	cancelCtx, cancel := context.WithCancel(ctx)
	return &nodeHost{ctx: ctx, stop: stop, cancelCtx: cancelCtx, cancel: cancel, engineAddress: engineAddress}
}

// startHealthcheck ends the host (and so its children) once the engine stops answering.
func (h *nodeHost) startHealthcheck(addr string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.healthStarted {
		return nil
	}
	h.healthStarted = true
	return rpcutil.Healthcheck(h.ctx, addr, healthInterval, h.stop)
}

// waitChildren waits for running programs and plugins to end, at most d.
func (h *nodeHost) waitChildren(d time.Duration) {
	done := make(chan struct{})
	go func() { h.children.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// command builds a child that ends when the request ends or the host cancels: SIGINT first, so the
// program and dynamic providers shut down gracefully, SIGKILL after childGrace.
func (h *nodeHost) command(reqCtx context.Context, name string, args ...string) (*exec.Cmd, context.CancelFunc) {
	ctx, cancel := context.WithCancel(h.cancelCtx)
	stopAfter := context.AfterFunc(reqCtx, cancel)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Cancel = func() error {
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
	cmd.WaitDelay = childGrace
	return cmd, func() { stopAfter(); cancel() }
}

func (h *nodeHost) engine() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.engineAddress
}

func (h *nodeHost) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	h.engineAddress = req.GetEngineAddress()
	h.mu.Unlock()
	if err := h.startHealthcheck(req.GetEngineAddress()); err != nil {
		return nil, fmt.Errorf("could not start health check host RPC server: %w", err)
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *nodeHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

// Cancel ends running programs and plugins gracefully, as upstream's does.
func (h *nodeHost) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.cancel()
	return &emptypb.Empty{}, nil
}

func (h *nodeHost) GetRequiredPackages(
	_ context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	packages, err := requiredPackages(req.GetInfo().GetProgramDirectory())
	if err != nil {
		// As upstream: what could be read is returned; the rest is logged, never fatal.
		logging.V(3).Infof("one or more errors while discovering plugins: %s", err)
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: packages}, nil
}

// locateModule asks Node where a script of the installed @pulumi/pulumi is, from the program's folder.
func locateModule(ctx context.Context, nodeBin, dir, module string) (string, error) {
	cmd := exec.CommandContext(ctx, nodeBin, "-e", fmt.Sprintf("console.log(require.resolve(%q))", module))
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf(
			"It looks like the Pulumi SDK has not been installed. Have you run npm install or yarn install? "+
				"(%s could not be resolved from %s: %s)", module, dir, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

func nodeBinary() (string, error) {
	p, err := exec.LookPath("node")
	if err != nil {
		return "", fmt.Errorf("could not find node on the $PATH: %w", err)
	}
	return p, nil
}

// runArguments is the command line of @pulumi/pulumi/cmd/run for a RunRequest: node's own
// arguments (nodeargs) first, then the script and the flags upstream's host passes.
func runArguments(req *pulumirpc.RunRequest, opts nodeOptions, runPath, engineAddress string) []string {
	args := append([]string{}, opts.nodeargs...)
	args = append(args, runPath)
	add := func(k, v string) {
		if v != "" {
			args = append(args, "--"+k, v)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", engineAddress)
	add("organization", req.GetOrganization())
	add("project", req.GetProject())
	add("root-directory", req.GetInfo().GetRootDirectory())
	add("stack", req.GetStack())
	add("pwd", req.GetInfo().GetProgramDirectory())
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	add("parallel", strconv.Itoa(int(req.GetParallel())))
	entry := req.GetInfo().GetEntryPoint()
	if entry == "" {
		entry = "."
	}
	args = append(args, entry)
	return append(args, req.GetArgs()...)
}

// runConfig is PULUMI_CONFIG: keys in the <namespace>:config:<name> form upstream's host sends
// (the SDK reads both forms; older SDKs only this one).
func runConfig(cfg map[string]string) (string, error) {
	out := make(map[string]string, len(cfg))
	for k, v := range cfg {
		key, err := config.ParseKey(k)
		if err != nil {
			return "", fmt.Errorf("config key %q: %w", k, err)
		}
		out[key.Namespace()+":config:"+key.Name()] = v
	}
	b, err := json.Marshal(out)
	return string(b), err
}

func (h *nodeHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	h.children.Add(1)
	defer h.children.Done()
	fail := func(err error) (*pulumirpc.RunResponse, error) {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}

	if req.GetAttachDebugger() {
		return fail(fmt.Errorf("attaching a debugger is not supported by the %s", hostName))
	}
	opts, err := parseOptions(req.GetInfo().GetOptions().AsMap())
	if err != nil {
		return fail(err)
	}
	nodeBin, err := nodeBinary()
	if err != nil {
		return fail(err)
	}
	dir := req.GetInfo().GetProgramDirectory()
	runPath, err := locateModule(ctx, nodeBin, dir, "@pulumi/pulumi/cmd/run")
	if err != nil {
		return fail(err)
	}
	cfg, err := runConfig(req.GetConfig())
	if err != nil {
		return fail(fmt.Errorf("failed to serialize configuration: %w", err))
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return fail(fmt.Errorf("failed to serialize configuration secret keys: %w", err))
	}

	cmd, done := h.command(ctx, nodeBin, runArguments(req, opts, runPath, h.engine())...)
	defer done()
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PULUMI_CONFIG="+cfg, "PULUMI_CONFIG_SECRET_KEYS="+string(secretJSON))
	cmd.Env = append(cmd.Env, opts.env()...)
	// Node may switch its stdio to non-blocking mode: never hand it our own descriptors.
	cmd.Stdout = struct{ io.Writer }{os.Stdout}
	cmd.Stderr = struct{ io.Writer }{os.Stderr}
	logging.V(5).Infof("Language host launching process: %s", cmd)

	if err := cmd.Run(); err != nil {
		_ = os.Stdout.Sync()
		_ = os.Stderr.Sync()
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return fail(fmt.Errorf("Problem executing program (could not run language executor): %w", err))
		}
		switch code := exitErr.ExitCode(); code {
		case exitAfterUserActionableMessage:
			return &pulumirpc.RunResponse{Bail: true}, nil
		case 0:
			return fail(fmt.Errorf("Program exited unexpectedly: %w", exitErr))
		case -1:
			return fail(fmt.Errorf("Program was stopped: %v", exitErr))
		default:
			return fail(fmt.Errorf("Program exited with non-zero exit code: %d", code))
		}
	}
	return &pulumirpc.RunResponse{}, nil
}

// policyRunner starts a policy pack that declares typescript: false (policy-runner.js says why).
//
//go:embed policy-runner.js
var policyRunner []byte

// pluginArguments is the command line of a Node plugin: a policy pack (analyzer) gets its folder last,
// a resource provider first, as the SDK's run-policy-pack and run-plugin scripts read them. With a
// runner (a pack without TypeScript), node runs it with the module to find the SDK's runner by first
// (runPath): the runner resolves it from the pack's folder as locateModule would, in its own process.
func pluginArguments(req *pulumirpc.RunPluginRequest, opts nodeOptions, runPath, runner string) []string {
	args := append([]string{}, opts.nodeargs...)
	if runner != "" {
		args = append(args, runner, runPath)
	} else {
		args = append(args, runPath)
	}
	if req.GetKind() == "analyzer" {
		args = append(args, req.GetArgs()...)
		return append(args, req.GetInfo().GetProgramDirectory())
	}
	args = append(args, req.GetInfo().GetProgramDirectory())
	return append(args, req.GetArgs()...)
}

// writePolicyRunner puts policy-runner.js in a file of its own for one pack's run; the caller removes it.
func writePolicyRunner() (string, error) {
	f, err := os.CreateTemp("", "cartorio-policy-runner-*.js")
	if err != nil {
		return "", fmt.Errorf("could not write the policy pack runner: %w", err)
	}
	if _, err := f.Write(policyRunner); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", fmt.Errorf("could not write the policy pack runner: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("could not write the policy pack runner: %w", err)
	}
	return f.Name(), nil
}

// RunPlugin runs a Node policy pack (kind analyzer) or resource provider and streams its output back;
// the engine reads the plugin's port from stdout. A policy pack gets the stack's context (organization,
// project, stack, dry run, config) first, through the SDK's policy proxy, as upstream's host does; that
// proxy sits behind packProxy, which answers Remediate itself while no policy can remediate.
func (h *nodeHost) RunPlugin(
	req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer,
) error {
	h.children.Add(1)
	defer h.children.Done()
	ctx := server.Context()
	if req.GetAttachDebugger() {
		return fmt.Errorf("attaching a debugger is not supported by the %s", hostName)
	}
	var module string
	switch req.GetKind() {
	case "analyzer":
		module = "@pulumi/pulumi/cmd/run-policy-pack"
	case "resource":
		module = "@pulumi/pulumi/cmd/run-plugin"
	default:
		return status.Errorf(codes.Unimplemented,
			"plugins of kind %q are not supported by the %s (analyzer and resource only)", req.GetKind(), hostName)
	}
	opts, err := parseOptions(req.GetInfo().GetOptions().AsMap())
	if err != nil {
		return err
	}
	nodeBin, err := nodeBinary()
	if err != nil {
		return err
	}
	// A pack that says typescript: false is started without ts-node (policy-runner.js), which finds the
	// SDK's runner itself: asking Node here first cost a second Node start before the pack's own, and the
	// engine waits for the pack before it runs the program. Any other plugin as upstream's host starts it.
	runner, runPath := "", module
	if req.GetKind() != "analyzer" || opts.typescript {
		if runPath, err = locateModule(ctx, nodeBin, req.GetInfo().GetProgramDirectory(), module); err != nil {
			return err
		}
	} else {
		if runner, err = writePolicyRunner(); err != nil {
			return err
		}
		defer os.Remove(runner)
	}
	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()

	env := append(append([]string{}, req.GetEnv()...), opts.env()...)
	var proxy *packProxy
	if req.GetKind() == "analyzer" {
		proxy, stdout, err = newPackProxy(ctx, stdout)
		if err != nil {
			return fmt.Errorf("could not start policy pack proxy: %w", err)
		}
		stack, err := proxy.AwaitConfiguration(ctx)
		if err != nil {
			return fmt.Errorf("could not get stack configuration: %w", err)
		}
		env = append(env, policyPackEnv(stack)...)
	}

	cmd, done := h.command(ctx, nodeBin, pluginArguments(req, opts, runPath, runner)...)
	defer done()
	// Policy packs have always run in their own folder; other plugins where the engine says.
	cmd.Dir = req.GetPwd()
	if req.GetKind() == "analyzer" || cmd.Dir == "" {
		cmd.Dir = req.GetInfo().GetProgramDirectory()
	}
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	logging.V(5).Infof("Language host launching plugin: %s", cmd)

	if err := cmd.Start(); err != nil {
		return fmt.Errorf("Problem executing plugin program (could not run language executor): %w", err)
	}
	if proxy != nil {
		err = proxy.Attach(ctx, cmd)
	} else {
		err = cmd.Wait()
	}
	if err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return fmt.Errorf("Program exited with non-zero exit code: %d", exitErr.ExitCode())
		}
		return err
	}
	return closer.Close()
}

// policyPackEnv is the stack context a policy pack reads through the SDK (pulumi.getStack() and
// friends), from the engine's ConfigureStack; nothing when the engine sent none (e.g. policy publish).
func policyPackEnv(stack *pulumirpc.AnalyzerStackConfigureRequest) []string {
	if stack == nil {
		return nil
	}
	var env []string
	add := func(k, v string) {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	add("PULUMI_NODEJS_ORGANIZATION", stack.GetOrganization())
	add("PULUMI_NODEJS_PROJECT", stack.GetProject())
	add("PULUMI_NODEJS_STACK", stack.GetStack())
	add("PULUMI_NODEJS_DRY_RUN", strconv.FormatBool(stack.GetDryRun()))
	if cfg := stack.GetConfig(); cfg != nil {
		if b, err := json.Marshal(cfg); err == nil {
			add("PULUMI_CONFIG", string(b))
		}
	}
	if keys := stack.GetConfigSecretKeys(); keys != nil {
		if b, err := json.Marshal(keys); err == nil {
			add("PULUMI_CONFIG_SECRET_KEYS", string(b))
		}
	}
	return env
}

// InstallDependencies installs with the project's package manager (npm, or what packagemanager and
// the lockfiles say), through the SDK's own nodejs/npm package as upstream's host does.
func (h *nodeHost) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.GetIsTerminal())
	if err != nil {
		return err
	}
	defer closer.Close()
	if req.GetUseLanguageVersionTools() {
		return fmt.Errorf("installing a Node.js version (.nvmrc, fnm) is not supported by the %s", hostName)
	}
	opts, err := parseOptions(req.GetInfo().GetOptions().AsMap())
	if err != nil {
		return fmt.Errorf("failed to parse options: %w", err)
	}
	dir := req.GetInfo().GetProgramDirectory()
	if root, err := npm.FindWorkspaceRoot(dir); err == nil {
		fmt.Fprintf(stdout, "Detected workspace root at %s\n", root)
		dir = root
	} else if !errors.Is(err, npm.ErrNotInWorkspace) {
		return fmt.Errorf("failure while trying to find workspace root: %w", err)
	}
	fmt.Fprint(stdout, "Installing dependencies...\n\n")
	if _, err := npm.Install(server.Context(), opts.packagemanager, dir, opts.production, stdout, stderr); err != nil {
		return fmt.Errorf("installing dependencies in %s failed: %w", dir, err)
	}
	fmt.Fprint(stdout, "Finished installing dependencies\n\n")
	return closer.Close()
}

func (h *nodeHost) GetProgramDependencies(
	ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	opts, err := parseOptions(req.GetInfo().GetOptions().AsMap())
	if err != nil {
		return nil, fmt.Errorf("failed to parse options: %w", err)
	}
	pm, err := npm.ResolvePackageManager(opts.packagemanager, req.GetInfo().GetProgramDirectory())
	if err != nil {
		return nil, fmt.Errorf("failed to determine package manager: %w", err)
	}
	packages, err := pm.ListPackages(ctx, req.GetInfo().GetProgramDirectory(), req.GetTransitiveDependencies())
	if err != nil {
		return nil, fmt.Errorf("failed to get node dependencies: %w", err)
	}
	deps := make([]*pulumirpc.DependencyInfo, len(packages))
	for i, p := range packages {
		deps[i] = &pulumirpc.DependencyInfo{Name: p.Name, Version: p.Version}
	}
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}

// About reports node, the package manager and TypeScript as upstream's does, and says which host this is.
func (h *nodeHost) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	opts, err := parseOptions(req.GetInfo().GetOptions().AsMap())
	if err != nil {
		return nil, fmt.Errorf("failed to parse options: %w", err)
	}
	dir := req.GetInfo().GetProgramDirectory()
	pm, err := npm.ResolvePackageManager(opts.packagemanager, dir)
	if err != nil {
		return nil, fmt.Errorf("could not resolve packagemanager: %w", err)
	}
	nodeBin, err := nodeBinary()
	if err != nil {
		return nil, err
	}
	metadata := map[string]string{"packagemanager": pm.Name(), "languageHost": hostName}
	if v, err := pm.Version(); err == nil {
		metadata["packagemanagerVersion"] = v.String()
	}
	ts := exec.CommandContext(ctx, nodeBin, "-e", "console.log(require('typescript/package.json').version)")
	ts.Dir = dir
	if out, err := ts.Output(); err == nil {
		metadata["typescriptVersion"] = strings.TrimSpace(string(out))
	}
	resp := &pulumirpc.AboutResponse{Executable: nodeBin, Metadata: metadata}
	if out, err := exec.CommandContext(ctx, nodeBin, "--version").Output(); err == nil {
		resp.Version = strings.TrimSpace(string(out))
	}
	return resp, nil
}

// The rest of the protocol (code generation, templates, packing, linking) is not needed to run
// programs here; each says so by name instead of the bare Unimplemented.
func unsupported(what string) error {
	return status.Errorf(codes.Unimplemented, "%s is not supported by the %s", what, hostName)
}

func (h *nodeHost) GenerateProject(context.Context, *pulumirpc.GenerateProjectRequest) (*pulumirpc.GenerateProjectResponse, error) {
	return nil, unsupported("GenerateProject (pulumi convert)")
}

func (h *nodeHost) GenerateProgram(context.Context, *pulumirpc.GenerateProgramRequest) (*pulumirpc.GenerateProgramResponse, error) {
	return nil, unsupported("GenerateProgram (pulumi convert, import --out)")
}

func (h *nodeHost) GeneratePackage(context.Context, *pulumirpc.GeneratePackageRequest) (*pulumirpc.GeneratePackageResponse, error) {
	return nil, unsupported("GeneratePackage (pulumi package gen-sdk)")
}

func (h *nodeHost) Pack(context.Context, *pulumirpc.PackRequest) (*pulumirpc.PackResponse, error) {
	return nil, unsupported("Pack (pulumi package add of a local SDK)")
}

func (h *nodeHost) Link(context.Context, *pulumirpc.LinkRequest) (*pulumirpc.LinkResponse, error) {
	return nil, unsupported("Link (pulumi package add)")
}

func (h *nodeHost) Template(context.Context, *pulumirpc.TemplateRequest) (*pulumirpc.TemplateResponse, error) {
	return nil, unsupported("Template (pulumi new)")
}

func (h *nodeHost) RuntimeOptionsPrompts(
	context.Context, *pulumirpc.RuntimeOptionsRequest,
) (*pulumirpc.RuntimeOptionsResponse, error) {
	// Nothing to ask: npm unless packagemanager says otherwise (upstream asks only in pulumi new).
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}
