#!/usr/bin/env bash
# Builds the Pulumi engine and the policy tools from pinned Go modules, so the
# program runs where Pulumi's release downloads are unreachable (air-gapped
# cartórios, this project's CI). Only the Go module proxy is needed.
#
#   scripts/toolchain/build.sh          build what is missing, install, print paths
#   scripts/toolchain/build.sh --check  exit 1 (and say what is missing) without building
#
# Results are cached in $CARTORIO_TOOLCHAIN_CACHE/<key> (default
# ~/.cache/cartorio-toolchain), keyed by the pinned versions and the wrapper
# sources: a second run rebuilds nothing. The CLI is placed where the npm
# `pulumi` package looks ($PULUMI_HOME/versions/<version>/bin), so `npx pulumi`
# works offline; the Kubernetes provider is installed as a plugin.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

pulumi_home="${PULUMI_HOME:-$HOME/.pulumi}"
cache_root="${CARTORIO_TOOLCHAIN_CACHE:-$HOME/.cache/cartorio-toolchain}"
check_only=0
[[ "${1:-}" == "--check" ]] && check_only=1

start=$SECONDS
say() { printf '[toolchain %4ds] %s\n' "$((SECONDS - start))" "$*" >&2; }

command -v go >/dev/null || { say "go is not installed; install Go 1.25 or newer"; exit 1; }

key=$(
  {
    cat "$here/versions.env"
    go env GOVERSION GOOS GOARCH
    # Relative paths: the key must not depend on where the repository is cloned.
    cd "$here" && find engine kubernetes -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' \) -print0 |
      sort -z | xargs -0 sha256sum
  } | sha256sum | cut -c1-16
)
cache="$cache_root/$key"
bin="$cache/bin"
cli_dir="$pulumi_home/versions/$PULUMI_VERSION/bin"
tools_dir="$cache_root/bin"

missing=()
for t in pulumi pulumi-language-nodejs pulumi-resource-pulumi-nodejs pulumi-resource-kubernetes opa conftest actionlint; do
  [[ -x "$bin/$t" ]] || missing+=("$t")
done
plugin_dir="$pulumi_home/plugins/resource-kubernetes-v$KUBERNETES_VERSION"
installed() { [[ -x "$cli_dir/pulumi" && -x "$plugin_dir/pulumi-resource-kubernetes" && -x "$tools_dir/conftest" ]] &&
  cmp -s "$bin/pulumi" "$cli_dir/pulumi" 2>/dev/null; }

if ((check_only)); then
  if ((${#missing[@]})) || ! installed; then
    say "the engine toolchain is not built (missing: ${missing[*]:-installation}); run scripts/toolchain/build.sh"
    exit 1
  fi
  exit 0
fi

mkdir -p "$bin"
export CGO_ENABLED=0 GOFLAGS="-mod=readonly -trimpath"

# The folder of a module in the module cache, downloading it first (a fresh cache has none).
module_dir() { # wrapper-dir module
  (cd "$1" && go mod download -json "$2" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
}

build_in() { # dir output package ldflags
  local dir=$1 out=$2 pkg=$3 ldflags=$4
  say "building $out ..."
  local t0=$SECONDS
  (cd "$dir" && go build -ldflags "-s -w $ldflags" -o "$bin/$out.tmp" "$pkg")
  mv "$bin/$out.tmp" "$bin/$out"
  say "built $out in $((SECONDS - t0))s"
}

sdk_ldflags="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION"
[[ -x "$bin/pulumi" ]] || build_in "$here/engine" pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi "$sdk_ldflags"
[[ -x "$bin/pulumi-language-nodejs" ]] ||
  build_in "$here/engine" pulumi-language-nodejs ./cmd/pulumi-language-nodejs "$sdk_ldflags"

if [[ ! -x "$bin/pulumi-resource-pulumi-nodejs" ]]; then
  # The dynamic-provider shim ships in sdk/v3 under nodejs/dist; module zips drop its run bit.
  sdk_dir=$(module_dir "$here/engine" github.com/pulumi/pulumi/sdk/v3)
  [[ -n "$sdk_dir" ]] || { say "could not download github.com/pulumi/pulumi/sdk/v3"; exit 1; }
  install -m 0755 "$sdk_dir/nodejs/dist/pulumi-resource-pulumi-nodejs" "$bin/pulumi-resource-pulumi-nodejs"
  say "installed pulumi-resource-pulumi-nodejs from $sdk_dir"
fi

if [[ ! -x "$bin/pulumi-resource-kubernetes" ]]; then
  k8s_dir=$(module_dir "$here/kubernetes" github.com/pulumi/pulumi-kubernetes/provider/v4)
  [[ -n "$k8s_dir" ]] || { say "could not download github.com/pulumi/pulumi-kubernetes/provider/v4"; exit 1; }
  for f in schema.json terraform-mapping.json; do
    install -m 0644 "$k8s_dir/cmd/pulumi-resource-kubernetes/$f" "$here/kubernetes/cmd/pulumi-resource-kubernetes/$f"
  done
  build_in "$here/kubernetes" pulumi-resource-kubernetes ./cmd/pulumi-resource-kubernetes \
    "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$KUBERNETES_VERSION"
fi

go_install() { # name module version
  local name=$1 mod=$2 ver=$3
  [[ -x "$bin/$name" ]] && return
  say "building $name $ver ..."
  local t0=$SECONDS
  (cd "$cache" && GOFLAGS=-trimpath GOBIN="$bin" go install -ldflags "-s -w" "$mod@$ver")
  say "built $name in $((SECONDS - t0))s"
}
go_install opa github.com/open-policy-agent/opa "$OPA_VERSION"
go_install conftest github.com/open-policy-agent/conftest "$CONFTEST_VERSION"
go_install actionlint github.com/rhysd/actionlint/cmd/actionlint "$ACTIONLINT_VERSION"

# Install: the CLI and its bundled plugins side by side, where `npx pulumi` looks.
mkdir -p "$cli_dir" "$tools_dir"
for t in pulumi pulumi-language-nodejs pulumi-resource-pulumi-nodejs; do
  cmp -s "$bin/$t" "$cli_dir/$t" 2>/dev/null || install -m 0755 "$bin/$t" "$cli_dir/$t"
done
for t in opa conftest actionlint; do ln -sfn "$bin/$t" "$tools_dir/$t"; done

if ! cmp -s "$bin/pulumi-resource-kubernetes" "$plugin_dir/pulumi-resource-kubernetes" 2>/dev/null; then
  say "installing the kubernetes v$KUBERNETES_VERSION plugin ..."
  PULUMI_HOME="$pulumi_home" PULUMI_SKIP_UPDATE_CHECK=true "$cli_dir/pulumi" plugin install resource kubernetes \
    "v$KUBERNETES_VERSION" --file "$bin/pulumi-resource-kubernetes" --reinstall >&2
fi

say "toolchain ready (cache $cache)"
echo "PULUMI_CLI=$cli_dir/pulumi"
echo "TOOLS_BIN=$tools_dir"
