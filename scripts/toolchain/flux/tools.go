//go:build tools

// Pins the controllers' main packages in this module so `go mod tidy` keeps their dependencies.
package flux

import (
	_ "github.com/fluxcd/kustomize-controller"
	_ "github.com/fluxcd/source-controller"
)
