//go:build tools

// Pins the CLI's main package in this module so `go mod tidy` keeps its dependencies.
package engine

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
