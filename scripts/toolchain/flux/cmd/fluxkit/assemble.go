package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

type component struct {
	Version   string `json:"version"`
	Collected bool   `json:"collected"`
}

// The release URLs flux2's bases point at; each becomes a file built from the controller's module.
var releaseURL = regexp.MustCompile(`https://github\.com/fluxcd/([a-z-]+)/releases/download/(v[^/]+)/([a-z-]+)\.(crds|deployment)\.yaml`)

func assemble(args []string) error {
	fs := flag.NewFlagSet("assemble", flag.ContinueOnError)
	collected := fs.String("collected", "", "the folder collect.sh wrote (flux2/, <controller>/config/, components.json)")
	out := fs.String("out", "", "where to write install.yaml")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *collected == "" || *out == "" {
		return errors.New("assemble: --collected and --out are required")
	}
	var list struct {
		Components map[string]component `json:"components"`
	}
	b, err := os.ReadFile(filepath.Join(*collected, "components.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("components.json: %w", err)
	}

	// Work on a copy: the bases are rewritten to point at the files built here.
	work, err := os.MkdirTemp("", "fluxkit-assemble-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	disk := filesys.MakeFsOnDisk()
	if err := copyTree(filepath.Join(*collected, "flux2"), filepath.Join(work, "flux2")); err != nil {
		return err
	}

	var names []string
	for name, c := range list.Components {
		if c.Collected {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		base := filepath.Join(work, "flux2", "bases", name)
		for kind, dir := range map[string]string{"crds": "crd", "deployment": "manager"} {
			y, err := build(disk, filepath.Join(*collected, name, "config", dir))
			if err != nil {
				return fmt.Errorf("%s config/%s: %w", name, dir, err)
			}
			if err := os.WriteFile(filepath.Join(base, name+"."+kind+".yaml"), y, 0o644); err != nil {
				return err
			}
		}
		k := filepath.Join(base, "kustomization.yaml")
		text, err := os.ReadFile(k)
		if err != nil {
			return err
		}
		rewritten := releaseURL.ReplaceAllStringFunc(string(text), func(u string) string {
			m := releaseURL.FindStringSubmatch(u)
			if m[1] != name || m[2] != list.Components[name].Version {
				err = fmt.Errorf("%s: %s does not match %s %s of components.json", k, u, name, list.Components[name].Version)
			}
			return m[3] + "." + m[4] + ".yaml"
		})
		if err != nil {
			return err
		}
		if err := os.WriteFile(k, []byte(rewritten), 0o644); err != nil {
			return err
		}
	}

	// The install overlay with only the collected controllers' bases.
	k := filepath.Join(work, "flux2", "install", "kustomization.yaml")
	text, err := os.ReadFile(k)
	if err != nil {
		return err
	}
	var kept []string
	for _, line := range strings.Split(string(text), "\n") {
		if i := strings.Index(line, "../bases/"); i >= 0 {
			c := strings.TrimSpace(line[i+len("../bases/"):])
			if !list.Components[c].Collected {
				continue
			}
		}
		kept = append(kept, line)
	}
	if err := os.WriteFile(k, []byte(strings.Join(kept, "\n")), 0o644); err != nil {
		return err
	}
	y, err := build(disk, filepath.Join(work, "flux2", "install"))
	if err != nil {
		return fmt.Errorf("manifests/install: %w", err)
	}
	header := fmt.Sprintf("# Assembled by fluxkit from the Go modules of Flux's controllers (%s)\n", strings.Join(names, ", "))
	return os.WriteFile(*out, append([]byte("---\n"+header), y...), 0o644)
}

func build(fs filesys.FileSystem, dir string) ([]byte, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(fs, dir)
	if err != nil {
		return nil, err
	}
	return m.AsYaml()
}

func copyTree(src, dst string) error {
	return filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}
