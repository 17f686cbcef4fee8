//go:build tools

// Keeps the provider package in this module's requirements for `go mod tidy`.
package kubernetes

import _ "github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
