// Command pulumi-language-nodejs is cartorio-plataforma's Node.js language host.
//
// Why our own: the Go module proxy this project must build from refuses every
// version of github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3,
// so an air-gapped site cannot assemble the upstream host. This host speaks the
// same LanguageRuntime gRPC protocol (sdk/v3/proto/go) and delegates all program
// semantics to the scripts the @pulumi/pulumi npm package ships (cmd/run,
// cmd/run-policy-pack, cmd/run-plugin), so programs, dynamic providers and
// policy packs behave as under the upstream host. It covers what this project
// uses: TypeScript programs, policy packs and Node plugins; code generation,
// templates and packing answer Unimplemented.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// Exit code of the Node runtime meaning "the error was already shown to the user".
const exitAfterUserActionableMessage = 32

func main() {
	// The engine passes its address as the last positional argument; older
	// engines also pass -root and -tracing, which we accept and ignore.
	flag.String("root", "", "project root (ignored: the engine sends ProgramInfo)")
	flag.String("tracing", "", "tracing endpoint (ignored)")
	flag.Parse()

	nodeBin, err := exec.LookPath("node")
	if err != nil {
		fmt.Fprintln(os.Stderr, "pulumi-language-nodejs: node was not found on PATH; install Node.js 20 or newer")
		os.Exit(1)
	}
	engineAddress := ""
	if args := flag.Args(); len(args) > 0 {
		engineAddress = args[len(args)-1]
	}

	host := &nodeHost{nodeBin: nodeBin, engineAddress: engineAddress}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
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
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: gRPC server stopped: %v\n", err)
		os.Exit(1)
	}
}

type nodeHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	nodeBin       string
	engineAddress string
}

func (h *nodeHost) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *nodeHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: strings.TrimPrefix(version.Version, "v")}, nil
}

// pulumiPackageJSON is the part of a package.json that declares a provider plugin.
type pulumiPackageJSON struct {
	Name         string            `json:"name"`
	Version      string            `json:"version"`
	Dependencies map[string]string `json:"dependencies"`
	Pulumi       struct {
		Resource bool   `json:"resource"`
		Name     string `json:"name"`
		Version  string `json:"version"`
		Server   string `json:"server"`
	} `json:"pulumi"`
}

// GetRequiredPackages lists the provider plugins declared by installed npm
// packages (package.json "pulumi": {"resource": true}), as the upstream host does.
func (h *nodeHost) GetRequiredPackages(
	_ context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	deps, err := requiredPlugins(req.GetInfo().GetProgramDirectory())
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: deps}, nil
}

func (h *nodeHost) GetRequiredPlugins(
	_ context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		dir = req.GetProgram()
	}
	deps, err := requiredPlugins(dir)
	if err != nil {
		return nil, err
	}
	plugins := make([]*pulumirpc.PluginDependency, 0, len(deps))
	for _, d := range deps {
		plugins = append(plugins, &pulumirpc.PluginDependency{
			Name: d.Name, Kind: d.Kind, Version: d.Version, Server: d.Server,
		})
	}
	return &pulumirpc.GetRequiredPluginsResponse{Plugins: plugins}, nil
}

// requiredPlugins walks the nearest node_modules above dir (npm hoists there).
func requiredPlugins(dir string) ([]*pulumirpc.PackageDependency, error) {
	modules := nearestNodeModules(dir)
	if modules == "" {
		return nil, nil
	}
	seen := map[string]bool{}
	var out []*pulumirpc.PackageDependency
	var walk func(nm string) error
	visitPackage := func(pkgDir string) error {
		raw, err := os.ReadFile(filepath.Join(pkgDir, "package.json"))
		if err != nil {
			return nil // not a package folder (e.g. .bin)
		}
		var pj pulumiPackageJSON
		if err := json.Unmarshal(raw, &pj); err != nil {
			return fmt.Errorf("%s: invalid package.json: %w", pkgDir, err)
		}
		if pj.Pulumi.Resource {
			name := pj.Pulumi.Name
			if name == "" {
				name = strings.TrimPrefix(strings.TrimPrefix(pj.Name, "@pulumi/"), "@")
			}
			v := pj.Pulumi.Version
			if v == "" {
				v = pj.Version
			}
			if !strings.HasPrefix(v, "v") {
				v = "v" + v
			}
			key := name + "@" + v
			if !seen[key] {
				seen[key] = true
				out = append(out, &pulumirpc.PackageDependency{
					Name: name, Kind: "resource", Version: v, Server: pj.Pulumi.Server,
				})
			}
		}
		if nested := filepath.Join(pkgDir, "node_modules"); isDir(nested) {
			return walk(nested)
		}
		return nil
	}
	walk = func(nm string) error {
		entries, err := os.ReadDir(nm)
		if err != nil {
			return err
		}
		for _, e := range entries {
			p := filepath.Join(nm, e.Name())
			if strings.HasPrefix(e.Name(), "@") && isDir(p) {
				scoped, err := os.ReadDir(p)
				if err != nil {
					return err
				}
				for _, s := range scoped {
					if err := visitPackage(filepath.Join(p, s.Name())); err != nil {
						return err
					}
				}
				continue
			}
			if err := visitPackage(p); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(modules); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func nearestNodeModules(dir string) string {
	for d := dir; d != "" && d != filepath.Dir(d); d = filepath.Dir(d) {
		if p := filepath.Join(d, "node_modules"); isDir(p) {
			return p
		}
	}
	return ""
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// resolveScript asks Node where a script of the installed @pulumi/pulumi is, so
// the program's own SDK copy runs it.
func (h *nodeHost) resolveScript(dir, module string) (string, error) {
	cmd := exec.Command(h.nodeBin, "-e", fmt.Sprintf("console.log(require.resolve(%q))", module))
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf(
			"could not find %s from %s; run `npm ci` in the project first (%s)",
			module, dir, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// options reads Pulumi.yaml's runtime.options (typescript, nodeargs, tsconfig).
type runtimeOptions struct {
	typescript bool
	nodeArgs   []string
	tsconfig   string
}

func parseOptions(s *structpb.Struct) runtimeOptions {
	opts := runtimeOptions{typescript: true}
	if s == nil {
		return opts
	}
	m := s.AsMap()
	if v, ok := m["typescript"].(bool); ok {
		opts.typescript = v
	}
	if v, ok := m["nodeargs"].(string); ok && v != "" {
		opts.nodeArgs = strings.Fields(v)
	}
	if v, ok := m["tsconfig"].(string); ok {
		opts.tsconfig = v
	}
	return opts
}

func (o runtimeOptions) env() []string {
	env := []string{fmt.Sprintf("PULUMI_NODEJS_TYPESCRIPT=%t", o.typescript)}
	if o.tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+o.tsconfig)
	}
	return env
}

func (h *nodeHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	programDir := info.GetProgramDirectory()
	if programDir == "" {
		programDir = req.GetPwd()
	}
	runPath, err := h.resolveScript(programDir, "@pulumi/pulumi/cmd/run")
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	opts := parseOptions(info.GetOptions())

	args := append([]string{}, opts.nodeArgs...)
	args = append(args, runPath)
	add := func(k, v string) {
		if v != "" {
			args = append(args, "--"+k, v)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", h.engineAddress)
	add("organization", req.GetOrganization())
	add("project", req.GetProject())
	add("stack", req.GetStack())
	add("pwd", req.GetPwd())
	add("root-directory", info.GetRootDirectory())
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	if req.GetParallel() > 0 {
		add("parallel", fmt.Sprint(req.GetParallel()))
	}
	entry := info.GetEntryPoint()
	if entry == "" {
		entry = "."
	}
	args = append(args, entry)
	args = append(args, req.GetArgs()...)

	configJSON, err := json.Marshal(req.GetConfig())
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}

	cmd := exec.CommandContext(ctx, h.nodeBin, args...)
	cmd.Dir = programDir
	cmd.Env = append(os.Environ(), opts.env()...)
	cmd.Env = append(cmd.Env, "PULUMI_CONFIG="+string(configJSON), "PULUMI_CONFIG_SECRET_KEYS="+string(secretJSON))
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == exitAfterUserActionableMessage {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
			}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run node: %v", err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// RunPlugin runs a Node policy pack (kind analyzer) or provider (kind resource)
// and streams its output back; the engine reads the plugin's port from stdout.
func (h *nodeHost) RunPlugin(
	req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer,
) error {
	info := req.GetInfo()
	programDir := info.GetProgramDirectory()
	if programDir == "" {
		programDir = req.GetProgram()
	}
	var module string
	switch req.GetKind() {
	case "analyzer":
		module = "@pulumi/pulumi/cmd/run-policy-pack"
	case "resource", "":
		module = "@pulumi/pulumi/cmd/run-plugin"
	default:
		return status.Errorf(codes.Unimplemented, "plugins of kind %q are not supported by this host", req.GetKind())
	}
	script, err := h.resolveScript(programDir, module)
	if err != nil {
		return err
	}
	opts := parseOptions(info.GetOptions())
	args := append([]string{}, opts.nodeArgs...)
	args = append(args, script)
	args = append(args, req.GetArgs()...)
	args = append(args, programDir)

	cmd := exec.CommandContext(server.Context(), h.nodeBin, args...)
	cmd.Dir = programDir
	cmd.Env = append(append(os.Environ(), opts.env()...), req.GetEnv()...)

	var mu sync.Mutex
	send := func(r *pulumirpc.RunPluginResponse) error {
		mu.Lock()
		defer mu.Unlock()
		return server.Send(r)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	var wg sync.WaitGroup
	pump := func(r io.Reader, wrap func([]byte) *pulumirpc.RunPluginResponse) {
		defer wg.Done()
		buf := make([]byte, 32*1024)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				chunk := append([]byte(nil), buf[:n]...)
				if sendErr := send(wrap(chunk)); sendErr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	wg.Add(2)
	go pump(stdout, func(b []byte) *pulumirpc.RunPluginResponse {
		return &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: b}}
	})
	go pump(stderr, func(b []byte) *pulumirpc.RunPluginResponse {
		return &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: b}}
	})
	wg.Wait()
	code := 0
	if err := cmd.Wait(); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return err
		}
		code = exitErr.ExitCode()
	}
	return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(code)}})
}

// InstallDependencies runs `npm ci` (or `npm install` without a lockfile) when
// the program's SDK is not installed yet; otherwise there is nothing to do.
func (h *nodeHost) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		dir = req.GetDirectory()
	}
	if _, err := h.resolveScript(dir, "@pulumi/pulumi/cmd/run"); err == nil {
		return nil
	}
	verb := "install"
	if _, err := os.Stat(filepath.Join(dir, "package-lock.json")); err == nil {
		verb = "ci"
	}
	var out bytes.Buffer
	cmd := exec.Command("npm", verb, "--no-audit", "--no-fund")
	cmd.Dir = dir
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if sendErr := server.Send(&pulumirpc.InstallDependenciesResponse{Stdout: out.Bytes()}); sendErr != nil {
		return sendErr
	}
	if err != nil {
		return fmt.Errorf("npm %s in %s failed: %w", verb, dir, err)
	}
	return nil
}

func (h *nodeHost) About(context.Context, *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	out, err := exec.Command(h.nodeBin, "--version").Output()
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{Executable: h.nodeBin, Version: strings.TrimSpace(string(out))}, nil
}

func (h *nodeHost) GetProgramDependencies(
	_ context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	dir := req.GetInfo().GetProgramDirectory()
	raw, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return nil, err
	}
	var pj pulumiPackageJSON
	if err := json.Unmarshal(raw, &pj); err != nil {
		return nil, err
	}
	var deps []*pulumirpc.DependencyInfo
	for name, v := range pj.Dependencies {
		deps = append(deps, &pulumirpc.DependencyInfo{Name: name, Version: v})
	}
	sort.Slice(deps, func(i, j int) bool { return deps[i].Name < deps[j].Name })
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}
