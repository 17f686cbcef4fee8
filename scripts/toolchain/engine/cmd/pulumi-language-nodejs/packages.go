package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// packageJSON is the part of a package.json that declares a provider plugin (the SDK's own type
// for the "pulumi" section, so parameterization and extensions are read as upstream reads them).
type packageJSON struct {
	Name    string                  `json:"name"`
	Version string                  `json:"version"`
	Pulumi  plugin.PulumiPluginJSON `json:"pulumi"`
}

// requiredPackages walks dir deeply, as upstream's host does, for package.json files inside
// node_modules that declare a resource plugin. It never stops at a bad entry: a malformed
// package.json, an unreadable folder or a dangling link is collected in the error and the walk
// goes on; symlinks are resolved and every real folder is visited once (so cycles end); nested
// policy packs are skipped (their plugins are not the program's).
func requiredPackages(dir string) ([]*pulumirpc.PackageDependency, error) {
	w := &packageWalk{visited: map[string]bool{}, seen: map[string]bool{}}
	w.walk(dir, false)
	sort.SliceStable(w.out, func(i, j int) bool {
		if w.out[i].Name != w.out[j].Name {
			return w.out[i].Name < w.out[j].Name
		}
		return w.out[i].Version < w.out[j].Version
	})
	return w.out, errors.Join(w.errs...)
}

type packageWalk struct {
	visited map[string]bool
	seen    map[string]bool
	out     []*pulumirpc.PackageDependency
	errs    []error
}

func (w *packageWalk) walk(dir string, inNodeModules bool) {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		w.errs = append(w.errs, fmt.Errorf("resolving %s: %w", dir, err))
		return
	}
	if abs, err := filepath.Abs(real); err == nil {
		real = abs
	}
	if w.visited[real] {
		return
	}
	w.visited[real] = true
	entries, err := os.ReadDir(dir)
	if err != nil {
		w.errs = append(w.errs, fmt.Errorf("reading %s: %w", dir, err))
		return
	}
	below := inNodeModules || filepath.Base(dir) == "node_modules"
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		isDir := e.IsDir()
		if e.Type()&fs.ModeSymlink != 0 {
			st, err := os.Stat(p)
			if err != nil {
				w.errs = append(w.errs, fmt.Errorf("resolving link %s: %w", p, err))
				continue
			}
			isDir = st.IsDir()
		}
		switch {
		case isDir:
			if pack, err := workspace.DetectPolicyPackPathAt(p); err != nil {
				w.errs = append(w.errs, err)
				continue
			} else if pack != "" {
				continue
			}
			w.walk(p, below)
		case inNodeModules && e.Name() == "package.json":
			w.visitPackageJSON(p)
		}
	}
}

func (w *packageWalk) visitPackageJSON(file string) {
	raw, err := os.ReadFile(file)
	if err != nil {
		w.errs = append(w.errs, fmt.Errorf("reading %s: %w", file, err))
		return
	}
	var info packageJSON
	if err := json.Unmarshal(raw, &info); err != nil {
		w.errs = append(w.errs, fmt.Errorf("%s is not valid JSON: %w", file, err))
		return
	}
	if !info.Pulumi.Resource {
		return
	}
	dep, err := packageDependency(info)
	if err != nil {
		w.errs = append(w.errs, fmt.Errorf("%s: %w", file, err))
		return
	}
	key := dep.Name + "@" + dep.Version
	if dep.Parameterization != nil {
		key += "/" + dep.Parameterization.Name + "@" + dep.Parameterization.Version
	}
	if w.seen[key] {
		return
	}
	w.seen[key] = true
	w.out = append(w.out, dep)
}

// packageDependency names the plugin as upstream does: pulumi.name, else the @pulumi/ package's
// simple name (a third-party package must say pulumi.name); pulumi.version, else the package's, with a v.
func packageDependency(info packageJSON) (*pulumirpc.PackageDependency, error) {
	name := info.Pulumi.Name
	if name == "" {
		switch {
		case info.Name == "":
			return nil, errors.New(`missing expected "name" property`)
		case strings.HasPrefix(info.Name, "@pulumi/"):
			name = strings.TrimPrefix(info.Name, "@pulumi/")
		default:
			return nil, fmt.Errorf(`missing property "name" for the third-party plugin '%s' `+
				`inside package.json under the "pulumi" section`, info.Name)
		}
	}
	version := info.Pulumi.Version
	if version == "" {
		version = info.Version
	}
	if version == "" {
		return nil, errors.New(`missing expected "version" property`)
	}
	if !strings.HasPrefix(version, "v") {
		version = "v" + version
	}
	dep := &pulumirpc.PackageDependency{Name: name, Kind: "resource", Version: version, Server: info.Pulumi.Server}
	if p := info.Pulumi.Parameterization; p != nil {
		dep.Parameterization = &pulumirpc.PackageParameterization{Name: p.Name, Version: p.Version, Value: p.Value}
	}
	if p := info.Pulumi.ExtensionParameterization; p != nil {
		dep.Extension = &pulumirpc.PackageParameterization{Name: p.Name, Version: p.Version, Value: p.Value}
	}
	return dep, nil
}
