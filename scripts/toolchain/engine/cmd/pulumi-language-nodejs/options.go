package main

import (
	"errors"
	"fmt"

	"github.com/google/shlex"
	"github.com/pulumi/pulumi/sdk/v3/nodejs/npm"
)

// hostName says which host this is wherever a user can ask (pulumi about, -version).
const hostName = "cartorio-plataforma toolchain host (scripts/toolchain/engine)"

// nodeOptions are Pulumi.yaml's runtime.options, as upstream's host reads them.
type nodeOptions struct {
	typescript   bool
	tsconfigpath string
	// nodeargs, split into shell words as upstream does (google/shlex).
	nodeargs   []string
	production bool
	// packagemanager, auto when absent (resolved by lockfile, as upstream).
	packagemanager npm.PackageManagerType
}

// parseOptions checks every option's type and value: a wrong one is an error naming it, never ignored.
func parseOptions(options map[string]any) (nodeOptions, error) {
	opts := nodeOptions{typescript: true, packagemanager: npm.AutoPackageManager}
	var errs []error
	if v, ok := options["typescript"]; ok {
		if b, ok := v.(bool); ok {
			opts.typescript = b
		} else {
			errs = append(errs, fmt.Errorf("runtime option typescript must be a boolean, got %v", show(v)))
		}
	}
	if v, ok := options["tsconfig"]; ok {
		if s, ok := v.(string); ok {
			opts.tsconfigpath = s
		} else {
			errs = append(errs, fmt.Errorf("runtime option tsconfig must be a string (a path), got %v", show(v)))
		}
	}
	if v, ok := options["nodeargs"]; ok {
		if s, ok := v.(string); ok {
			words, err := shlex.Split(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("runtime option nodeargs %q is not valid shell words: %w", s, err))
			}
			opts.nodeargs = words
		} else {
			errs = append(errs, fmt.Errorf("runtime option nodeargs must be a string, got %v", show(v)))
		}
	}
	if v, ok := options["production"]; ok {
		if b, ok := v.(bool); ok {
			opts.production = b
		} else {
			errs = append(errs, fmt.Errorf("runtime option production must be a boolean, got %v", show(v)))
		}
	}
	if v, ok := options["packagemanager"]; ok {
		switch pm, _ := v.(string); pm {
		case "auto", "npm", "yarn", "pnpm", "bun":
			// Delegated to the SDK's package-manager support, as upstream does.
			opts.packagemanager = npm.PackageManagerType(pm)
		default:
			errs = append(errs, fmt.Errorf(
				"runtime option packagemanager must be one of auto, npm, yarn, pnpm or bun, got %v", show(v)))
		}
	}
	for k := range options {
		switch k {
		case "typescript", "tsconfig", "nodeargs", "production", "packagemanager":
		default:
			errs = append(errs, fmt.Errorf(
				"runtime option %q is not known to the %s (known: typescript, tsconfig, nodeargs, production, "+
					"packagemanager)", k, hostName))
		}
	}
	return opts, errors.Join(errs...)
}

func show(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%v (%T)", v, v)
}

// env is what the SDK's scripts read: TypeScript through ts-node, and the tsconfig to use.
func (o nodeOptions) env() []string {
	var env []string
	if o.typescript {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if o.tsconfigpath != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+o.tsconfigpath)
	}
	return env
}
