package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/nodejs/npm"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
)

func TestParseOptionsDefaults(t *testing.T) {
	opts, err := parseOptions(map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	if !opts.typescript || opts.tsconfigpath != "" || opts.nodeargs != nil || opts.production ||
		opts.packagemanager != npm.AutoPackageManager {
		t.Fatalf("unexpected defaults: %+v", opts)
	}
	if got := opts.env(); !reflect.DeepEqual(got, []string{"PULUMI_NODEJS_TYPESCRIPT=true"}) {
		t.Fatalf("env = %v", got)
	}
}

func TestParseOptionsNodeargsAreShellWords(t *testing.T) {
	opts, err := parseOptions(map[string]any{
		"nodeargs": `--max-old-space-size=4096 --require "./with space/hook.js" --title='a b'`,
		"tsconfig": "tsconfig.build.json", "typescript": false, "production": true, "packagemanager": "pnpm",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"--max-old-space-size=4096", "--require", "./with space/hook.js", "--title=a b"}
	if !reflect.DeepEqual(opts.nodeargs, want) {
		t.Fatalf("nodeargs = %q, want %q", opts.nodeargs, want)
	}
	if opts.typescript || !opts.production || opts.packagemanager != npm.PnpmPackageManager {
		t.Fatalf("unexpected options: %+v", opts)
	}
	if got := opts.env(); !reflect.DeepEqual(got, []string{"PULUMI_NODEJS_TSCONFIG_PATH=tsconfig.build.json"}) {
		t.Fatalf("env = %v", got)
	}
}

func TestParseOptionsRefusesWrongTypesAllAtOnce(t *testing.T) {
	_, err := parseOptions(map[string]any{
		"typescript": "yes", "tsconfig": 3.0, "nodeargs": []any{"--inspect"}, "production": "no",
		"packagemanager": "deno", "typscript": true,
	})
	if err == nil {
		t.Fatal("wrongly typed options were accepted")
	}
	for _, want := range []string{
		`typescript must be a boolean, got "yes"`,
		"tsconfig must be a string (a path), got 3 (float64)",
		"nodeargs must be a string",
		`production must be a boolean, got "no"`,
		`packagemanager must be one of auto, npm, yarn, pnpm or bun, got "deno"`,
		`runtime option "typscript" is not known`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestParseOptionsRefusesUnbalancedQuotes(t *testing.T) {
	if _, err := parseOptions(map[string]any{"nodeargs": `--require "unterminated`}); err == nil ||
		!strings.Contains(err.Error(), "not valid shell words") {
		t.Fatalf("err = %v", err)
	}
}

func info(dir string, options map[string]any) *pulumirpc.ProgramInfo {
	s, err := structpb.NewStruct(options)
	if err != nil {
		panic(err)
	}
	return &pulumirpc.ProgramInfo{ProgramDirectory: dir, RootDirectory: dir, EntryPoint: ".", Options: s}
}

func TestRunArguments(t *testing.T) {
	req := &pulumirpc.RunRequest{
		MonitorAddress: "127.0.0.1:1", Organization: "organization", Project: "p", Stack: "local",
		DryRun: true, Parallel: 8, Info: info("/prog", nil), Args: []string{"extra"},
	}
	opts := nodeOptions{nodeargs: []string{"--max-old-space-size=4096"}}
	got := runArguments(req, opts, "/sdk/cmd/run/index.js", "127.0.0.1:2")
	want := []string{
		"--max-old-space-size=4096", "/sdk/cmd/run/index.js",
		"--monitor", "127.0.0.1:1", "--engine", "127.0.0.1:2", "--organization", "organization",
		"--project", "p", "--root-directory", "/prog", "--stack", "local", "--pwd", "/prog",
		"--dry-run", "--parallel", "8", ".", "extra",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("args\n got %q\nwant %q", got, want)
	}
}

func TestPluginArgumentsPutTheFolderWhereEachScriptExpectsIt(t *testing.T) {
	opts := nodeOptions{nodeargs: []string{"--no-warnings"}}
	provider := &pulumirpc.RunPluginRequest{Kind: "resource", Info: info("/provider", nil), Args: []string{"127.0.0.1:9"}}
	if got, want := pluginArguments(provider, opts, "run-plugin.js", ""),
		[]string{"--no-warnings", "run-plugin.js", "/provider", "127.0.0.1:9"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("resource plugin args %q, want %q", got, want)
	}
	pack := &pulumirpc.RunPluginRequest{Kind: "analyzer", Info: info("/pack", nil), Args: []string{"127.0.0.1:9"}}
	if got, want := pluginArguments(pack, opts, "run-policy-pack.js", ""),
		[]string{"--no-warnings", "run-policy-pack.js", "127.0.0.1:9", "/pack"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("policy pack args %q, want %q", got, want)
	}
	// A pack without TypeScript: our runner, given the module it finds the SDK's runner by, then the same
	// arguments.
	if got, want := pluginArguments(pack, opts, "@pulumi/pulumi/cmd/run-policy-pack", "/tmp/runner.js"),
		[]string{"--no-warnings", "/tmp/runner.js", "@pulumi/pulumi/cmd/run-policy-pack", "127.0.0.1:9", "/pack"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("policy pack args with the runner %q, want %q", got, want)
	}
}

func TestPolicyRunnerIsWrittenWholeAndRemovable(t *testing.T) {
	path, err := writePolicyRunner()
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(path)
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(policyRunner) || !strings.Contains(string(got), "PULUMI_NODEJS_TYPESCRIPT") {
		t.Fatalf("runner file %s does not hold policy-runner.js", path)
	}
}

func TestRunConfigUsesTheConfigKeyForm(t *testing.T) {
	got, err := runConfig(map[string]string{"cartorio-plataforma:kms": `{"pinEnv":"X"}`, "aws:region": "sa-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"aws:config:region":"sa-east-1","cartorio-plataforma:config:kms":"{\"pinEnv\":\"X\"}"}`
	if got != want {
		t.Fatalf("config %s, want %s", got, want)
	}
	if _, err := runConfig(map[string]string{"no-namespace": "x"}); err == nil {
		t.Fatal("a key without namespace was accepted")
	}
}

func TestPolicyPackEnv(t *testing.T) {
	env := policyPackEnv(&pulumirpc.AnalyzerStackConfigureRequest{
		Organization: "organization", Project: "cartorio-plataforma", Stack: "local", DryRun: true,
		Config: map[string]string{"cartorio-plataforma:features": "{}"}, ConfigSecretKeys: []string{},
	})
	want := []string{
		"PULUMI_NODEJS_ORGANIZATION=organization", "PULUMI_NODEJS_PROJECT=cartorio-plataforma",
		"PULUMI_NODEJS_STACK=local", "PULUMI_NODEJS_DRY_RUN=true",
		`PULUMI_CONFIG={"cartorio-plataforma:features":"{}"}`, "PULUMI_CONFIG_SECRET_KEYS=[]",
	}
	if !reflect.DeepEqual(env, want) {
		t.Fatalf("env\n got %q\nwant %q", env, want)
	}
	if policyPackEnv(nil) != nil {
		t.Fatal("no configuration must add nothing")
	}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A tree with a broken package.json, a symlink cycle, a dangling link, a nested policy pack, a
// third-party plugin without pulumi.name and a parameterized package: the walk reports every
// plugin it can read and collects the rest as errors.
func TestRequiredPackagesOverAMessyTree(t *testing.T) {
	dir := t.TempDir()
	nm := filepath.Join(dir, "node_modules")
	write(t, filepath.Join(nm, "@pulumi/kubernetes/package.json"),
		`{"name":"@pulumi/kubernetes","version":"4.25.0","pulumi":{"resource":true}}`)
	write(t, filepath.Join(nm, "@pulumi/pulumi/package.json"), `{"name":"@pulumi/pulumi","version":"3.259.0"}`)
	write(t, filepath.Join(nm, "quebrado/package.json"), `{"name": "quebrado", "version": `)
	write(t, filepath.Join(nm, "terceiro/package.json"), `{"name":"terceiro","version":"1.0.0","pulumi":{"resource":true}}`)
	write(t, filepath.Join(nm, "parametrizado/package.json"), `{"name":"@pulumi/terraform-foo","version":"0.1.0",
		"pulumi":{"resource":true,"name":"terraform-provider","version":"0.12.0",
		"parameterization":{"name":"foo","version":"0.1.0","value":"e30="}}}`)
	write(t, filepath.Join(nm, "@pulumi/kubernetes/node_modules/@pulumi/random/package.json"),
		`{"name":"@pulumi/random","version":"4.18.0","pulumi":{"resource":true,"server":"https://example.invalid"}}`)
	// A cycle: node_modules/ciclo/volta -> node_modules, and a dangling link.
	if err := os.Symlink(nm, filepath.Join(nm, "ciclo-volta")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(nm, "pendente")); err != nil {
		t.Fatal(err)
	}
	// A policy pack's plugins are not the program's.
	write(t, filepath.Join(dir, "policypack/PulumiPolicy.yaml"), "runtime: nodejs\n")
	write(t, filepath.Join(dir, "policypack/node_modules/@pulumi/aws/package.json"),
		`{"name":"@pulumi/aws","version":"7.0.0","pulumi":{"resource":true}}`)

	got, err := requiredPackages(dir)
	var names []string
	for _, p := range got {
		names = append(names, p.Name+"@"+p.Version+"|"+p.Server)
	}
	want := []string{"kubernetes@v4.25.0|", "random@v4.18.0|https://example.invalid", "terraform-provider@v0.12.0|"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("packages %q, want %q", names, want)
	}
	param := got[2].GetParameterization()
	if param == nil || param.GetName() != "foo" || param.GetVersion() != "0.1.0" || string(param.GetValue()) != "{}" {
		t.Fatalf("parameterization lost: %v", param)
	}
	if err == nil {
		t.Fatal("the broken package.json, the dangling link and the third-party plugin were not reported")
	}
	for _, want := range []string{"quebrado/package.json is not valid JSON", "pendente", `third-party plugin 'terceiro'`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestRequiredPackagesWithoutNodeModules(t *testing.T) {
	got, err := requiredPackages(t.TempDir())
	if err != nil || len(got) != 0 {
		t.Fatalf("got %v, %v", got, err)
	}
}

func TestRemediateGoesToThePackOnlyWhenAPolicyCanRemediate(t *testing.T) {
	const (
		advisory  = pulumirpc.EnforcementLevel_ADVISORY
		mandatory = pulumirpc.EnforcementLevel_MANDATORY
		disabled  = pulumirpc.EnforcementLevel_DISABLED
		remediate = pulumirpc.EnforcementLevel_REMEDIATE
	)
	type levels = map[string]pulumirpc.EnforcementLevel
	for _, c := range []struct {
		name            string
		own, configured levels
		want            bool
	}{
		{"the pack's policies not seen yet", nil, nil, true},
		{"no policy at remediate", levels{"a": advisory, "b": mandatory, "c": disabled}, nil, false},
		{"a policy's own level is remediate", levels{"a": advisory, "b": remediate}, nil, true},
		{"configuration makes one remediate", levels{"a": advisory}, levels{"a": remediate}, true},
		{"configuration takes remediate away", levels{"a": remediate}, levels{"a": mandatory}, false},
		// Configure names a policy as advisory when it sets no level: the configured level wins, as in server.js.
		{"configured advisory over its own remediate", levels{"a": remediate, "b": advisory}, levels{"a": advisory}, false},
		{"configuration of another policy leaves its own", levels{"a": remediate}, levels{"b": advisory}, true},
		{"a configured policy the pack doesn't have", levels{"a": advisory}, levels{"z": remediate}, false},
	} {
		if got := mayRemediate(c.own, c.configured); got != c.want {
			t.Errorf("%s: mayRemediate = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestFirstLineAsReplacesOnlyTheFirstWrite(t *testing.T) {
	var out strings.Builder
	w := &firstLineAs{w: &out, line: []byte("4242\n")}
	if n, err := w.Write([]byte("1111\n")); err != nil || n != 5 {
		t.Fatalf("first write: n=%d err=%v", n, err)
	}
	if _, err := w.Write([]byte("the pack's output\n")); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "4242\nthe pack's output\n"; got != want {
		t.Fatalf("written %q, want %q", got, want)
	}
}
