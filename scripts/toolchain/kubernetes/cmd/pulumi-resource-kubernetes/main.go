// Command pulumi-resource-kubernetes serves the upstream Kubernetes provider.
//
// Why a wrapper: upstream's main embeds schema-embed.json and
// terraform-mapping-embed.json, which its build generates and the Go module
// does not ship. The build script copies the committed schema.json and
// terraform-mapping.json from the module into this folder; this main stamps the
// provider version into the schema (what upstream's generate step does) and
// hands both to provider.Serve.
package main

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema.json
var schema []byte

//go:embed terraform-mapping.json
var terraformMapping []byte

func main() {
	versioned, err := stampVersion(schema, version.Version)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-kubernetes: embedded schema is invalid: %v\n", err)
		os.Exit(1)
	}
	provider.Serve("kubernetes", version.Version, versioned, terraformMapping)
}

// stampVersion sets the top-level "version" without decoding the rest.
func stampVersion(raw []byte, v string) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, err
	}
	quoted, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	top["version"] = quoted
	return json.Marshal(top)
}
