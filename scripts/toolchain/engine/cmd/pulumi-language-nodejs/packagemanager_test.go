package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

// installServer is the engine's end of InstallDependencies: it keeps what the host streams back.
type installServer struct {
	grpc.ServerStream
	ctx context.Context
	out bytes.Buffer
}

func (s *installServer) Context() context.Context { return s.ctx }

func (s *installServer) Send(r *pulumirpc.InstallDependenciesResponse) error {
	s.out.Write(r.GetStdout())
	s.out.Write(r.GetStderr())
	return nil
}

// fakeTools puts stand-ins for node and the given package managers in a folder and makes it the whole
// PATH. A package manager answers --version and otherwise writes its name and arguments to log (and
// makes node_modules, as an install does).
func fakeTools(t *testing.T, log string, managers ...string) {
	t.Helper()
	bin := t.TempDir()
	script := func(name, body string) {
		write(t, filepath.Join(bin, name), "#!/bin/sh\nPATH=/usr/bin:/bin\n"+body)
		if err := os.Chmod(filepath.Join(bin, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script("node", "echo v22.0.0\n")
	for _, m := range managers {
		script(m, `if [ "$1" = --version ]; then echo 1.2.3; exit 0; fi
echo "`+m+` $*" >> '`+log+`'
mkdir -p node_modules
`)
	}
	t.Setenv("PATH", bin)
}

// The package manager the host picks, as a user sees it: About names it, InstallDependencies runs it.
// The host leaves the choice to the SDK's npm.ResolvePackageManager, as upstream's host does; its
// documented rule: packagemanager (Pulumi.yaml's runtime option) when it is npm, yarn, pnpm or bun;
// under auto, yarn when PULUMI_PREFER_YARN is truthy or a yarn.lock is found, else pnpm for a
// pnpm-lock.yaml, else bun for a bun.lock or bun.lockb, else npm (package-lock.json is not looked for:
// npm is what remains). Lockfiles are searched from the program's folder upwards; a manager whose
// lockfile is there but which is not on PATH is passed over for the next rule.
func TestThePackageManagerFollowsTheLockfiles(t *testing.T) {
	all := []string{"npm", "yarn", "pnpm", "bun"}
	for _, c := range []struct {
		name      string
		lockfiles []string // relative to the program's folder
		option    string   // runtime option packagemanager; "" when absent
		onPath    []string // package managers installed (default: all four)
		preferYrn string   // PULUMI_PREFER_YARN
		want      string
	}{
		{name: "no lockfile: npm", want: "npm"},
		{name: "package-lock.json: npm", lockfiles: []string{"package-lock.json"}, want: "npm"},
		{name: "yarn.lock: yarn", lockfiles: []string{"yarn.lock"}, want: "yarn"},
		{name: "pnpm-lock.yaml: pnpm", lockfiles: []string{"pnpm-lock.yaml"}, want: "pnpm"},
		{name: "bun.lock: bun", lockfiles: []string{"bun.lock"}, want: "bun"},
		{name: "bun.lockb (bun before 1.2): bun", lockfiles: []string{"bun.lockb"}, want: "bun"},
		{name: "two: yarn.lock over package-lock.json", lockfiles: []string{"package-lock.json", "yarn.lock"}, want: "yarn"},
		{name: "two: yarn.lock over pnpm-lock.yaml", lockfiles: []string{"pnpm-lock.yaml", "yarn.lock"}, want: "yarn"},
		{name: "two: pnpm-lock.yaml over bun.lock", lockfiles: []string{"bun.lock", "pnpm-lock.yaml"}, want: "pnpm"},
		{name: "two: pnpm-lock.yaml over package-lock.json", lockfiles: []string{"package-lock.json", "pnpm-lock.yaml"}, want: "pnpm"},
		{name: "two: bun.lock over package-lock.json", lockfiles: []string{"package-lock.json", "bun.lock"}, want: "bun"},
		{name: "a lockfile in a parent folder counts", lockfiles: []string{"../yarn.lock"}, want: "yarn"},
		{name: "auto said explicitly is the same rule", lockfiles: []string{"pnpm-lock.yaml"}, option: "auto", want: "pnpm"},
		{name: "packagemanager npm (this project's Pulumi.yaml) wins over yarn.lock", lockfiles: []string{"yarn.lock"}, option: "npm", want: "npm"},
		{name: "packagemanager bun wins over pnpm-lock.yaml", lockfiles: []string{"pnpm-lock.yaml"}, option: "bun", want: "bun"},
		{name: "yarn.lock without yarn installed: the next rule, npm", lockfiles: []string{"yarn.lock"}, onPath: []string{"npm", "pnpm", "bun"}, want: "npm"},
		{name: "yarn.lock and pnpm-lock.yaml without yarn: pnpm", lockfiles: []string{"yarn.lock", "pnpm-lock.yaml"}, onPath: []string{"npm", "pnpm"}, want: "pnpm"},
		{name: "PULUMI_PREFER_YARN without lockfile: yarn", preferYrn: "true", want: "yarn"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "programa")
			write(t, filepath.Join(dir, "package.json"), `{"name":"programa","version":"1.0.0"}`)
			for _, l := range c.lockfiles {
				write(t, filepath.Join(dir, l), "# "+l+"\n")
			}
			log := filepath.Join(root, "ran.log")
			onPath := c.onPath
			if onPath == nil {
				onPath = all
			}
			fakeTools(t, log, onPath...)
			t.Setenv("PULUMI_PREFER_YARN", c.preferYrn)
			options := map[string]any{}
			if c.option != "" {
				options["packagemanager"] = c.option
			}
			h := newHost(context.Background(), "")

			about, err := h.About(context.Background(), &pulumirpc.AboutRequest{Info: info(dir, options)})
			if err != nil {
				t.Fatalf("About: %v", err)
			}
			if got := about.GetMetadata()["packagemanager"]; got != c.want {
				t.Errorf("About names %q, want %q", got, c.want)
			}

			srv := &installServer{ctx: context.Background()}
			if err := h.InstallDependencies(&pulumirpc.InstallDependenciesRequest{Info: info(dir, options)}, srv); err != nil {
				t.Fatalf("InstallDependencies: %v\n%s", err, srv.out.String())
			}
			ran, err := os.ReadFile(log)
			if err != nil {
				t.Fatalf("no package manager ran: %v\n%s", err, srv.out.String())
			}
			lines := strings.Split(strings.TrimSpace(string(ran)), "\n")
			if len(lines) != 1 || strings.Fields(lines[0])[0] != c.want || !strings.Contains(lines[0], "install") {
				t.Errorf("InstallDependencies ran %q, want one %s install", lines, c.want)
			}
		})
	}
}
