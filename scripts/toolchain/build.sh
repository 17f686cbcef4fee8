#!/usr/bin/env bash
# Builds the toolchain from pinned Go modules, so the program runs where release
# downloads are unreachable (air-gapped cartórios, this project's CI). Only the
# Go module proxy is needed. Pieces, each in a folder of its own beside this file:
#   engine/        the Pulumi CLI and our Node.js language host
#   kubernetes/    the Pulumi Kubernetes provider plugin
#   (policy)       opa, conftest, actionlint (go install, no wrapper)
#   controlplane/  etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl: one binary
#   (alive)        kwok (simulated nodes and pods) and metrics-server, go install'ed from their own
#                  modules (their go.mod pins its own k8s.io versions), and kwok's stage and metric
#                  definitions copied from its module: what makes the embedded cluster run pods
#   flux/          Flux from its modules: the pinned release's manifests (collected, and
#                  assembled into its install.yaml), source- and kustomize-controller
#                  (run out of cluster by npm run cluster), fluxkit (local Git server)
#
#   scripts/toolchain/build.sh           verify what is cached, build what is missing, install, print paths
#   scripts/toolchain/build.sh --check   exit 1 (and say what is missing) without building
#   scripts/toolchain/build.sh --verify  exit 1 (naming the file) unless every cached binary, Flux manifest and
#                                        kwok stage matches its recorded digest and is what is installed
#   scripts/toolchain/build.sh --list    the files the toolchain needs, relative to the cache
#
# Digests: the self-hosted runners keep the cache between runs and execute it, so each file is recorded
# (sha256, $CARTORIO_TOOLCHAIN_CACHE/digests.sha256, sha256sum's format) when this script builds or copies
# it, and checked before it is reused: a file that differs from its record, or that has none, is refused
# (remove it and it is rebuilt). A cache from before digests existed has no digests.sha256: its files are
# recorded as they are, trusted on first use, once. The record sits in the same cache, so it detects a
# corrupted or swapped file, not a writer who rewrites both: keeping untrusted jobs off the runner that
# deploys (its runner group) is what protects that runner's cache.
#
# Results are cached in $CARTORIO_TOOLCHAIN_CACHE/<piece>-<key> (default
# ~/.cache/cartorio-toolchain), each keyed by its pinned versions and wrapper
# sources: a second run rebuilds nothing, a changed piece rebuilds alone. The CLI is placed where the npm
# `pulumi` package looks ($PULUMI_HOME/versions/<version>/bin), so `npx pulumi`
# works offline; the Kubernetes provider is installed as a plugin.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

pulumi_home="${PULUMI_HOME:-$HOME/.pulumi}"
cache_root="${CARTORIO_TOOLCHAIN_CACHE:-$HOME/.cache/cartorio-toolchain}"
mode=${1:-build}
case "$mode" in
  build | --check | --verify | --list) ;;
  *) echo "usage: scripts/toolchain/build.sh [--check | --verify | --list]" >&2; exit 2 ;;
esac

start=$SECONDS
say() { printf '[toolchain %4ds] %s\n' "$((SECONDS - start))" "$*" >&2; }

command -v go >/dev/null || { say "go is not installed; install Go 1.25 or newer"; exit 1; }

# Each piece is cached under its own key (its pinned versions and wrapper
# sources (Go, and JavaScript a binary embeds), relative paths only: the key must
# not depend on where the repository is cloned; Go tests are not part of what is
# built), so a change to one piece
# rebuilds only that piece.
piece_key() { # name vars... -- dirs...
  local name=$1 v
  shift
  {
    echo "$name"
    go env GOVERSION GOOS GOARCH
    while [[ $# -gt 0 && $1 != -- ]]; do v=$1; echo "$v=${!v}"; shift; done
    [[ ${1:-} == -- ]] && shift
    if (($#)); then
      (cd "$here" && find "$@" -type f \( -name '*.go' -o -name '*.js' -o -name 'go.mod' -o -name 'go.sum' \) ! -name '*_test.go' -print0 |
        sort -z | xargs -0 sha256sum)
    fi
  } | sha256sum | cut -c1-16
}
engine_bin="$cache_root/engine-$(piece_key engine PULUMI_VERSION -- engine)/bin"
k8s_bin="$cache_root/kubernetes-$(piece_key kubernetes KUBERNETES_VERSION -- kubernetes)/bin"
policy_bin="$cache_root/policy-$(piece_key policy OPA_VERSION CONFTEST_VERSION ACTIONLINT_VERSION)/bin"
alive_bin="$cache_root/alive-$(piece_key alive KWOK_VERSION METRICS_SERVER_VERSION)/bin"
cp_bin="$cache_root/controlplane-$(piece_key controlplane KUBERNETES_RELEASE ETCD_VERSION -- controlplane)/bin"
flux_bin="$cache_root/flux-$(piece_key flux FLUX_VERSION -- flux)/bin"
flux_dir="$cache_root/flux/$FLUX_VERSION"
cli_dir="$pulumi_home/versions/$PULUMI_VERSION/bin"
tools_dir="$cache_root/bin"
stages_dir="${alive_bin%/bin}/stages"
digests="$cache_root/digests.sha256"
plugin_dir="$pulumi_home/plugins/resource-kubernetes-v$KUBERNETES_VERSION"

# What each piece puts in its bin folder.
declare -A want=(
  [engine]="pulumi pulumi-language-nodejs pulumi-resource-pulumi-nodejs"
  [kubernetes]="pulumi-resource-kubernetes"
  [policy]="opa conftest actionlint"
  [controlplane]="kube"
  [alive]="kwok metrics-server"
  [flux]="source-controller kustomize-controller fluxkit"
)
declare -A dir_of=([engine]=$engine_bin [kubernetes]=$k8s_bin [policy]=$policy_bin [controlplane]=$cp_bin [flux]=$flux_bin [alive]=$alive_bin)
# Links in $tools_dir: the policy tools, and the control plane's multi-call binary under each tool's name.
declare -A links=(
  [opa]=$policy_bin/opa [conftest]=$policy_bin/conftest [actionlint]=$policy_bin/actionlint
  [kube]=$cp_bin/kube [etcd]=$cp_bin/kube [kube-apiserver]=$cp_bin/kube
  [kube-controller-manager]=$cp_bin/kube [kube-scheduler]=$cp_bin/kube [kubectl]=$cp_bin/kube
  [kwok]=$alive_bin/kwok [metrics-server]=$alive_bin/metrics-server [kwok-stages]=$alive_bin/../stages
  [source-controller]=$flux_bin/source-controller [kustomize-controller]=$flux_bin/kustomize-controller
  [fluxkit]=$flux_bin/fluxkit
)

missing=()
for piece in engine kubernetes policy controlplane flux alive; do
  for t in ${want[$piece]}; do [[ -x "${dir_of[$piece]}/$t" ]] || missing+=("$t"); done
done
[[ -f "$alive_bin/../stages/VERSION" ]] || missing+=("kwok stages")
for v in "$FLUX_VERSION" "$FLUX_PREVIOUS_VERSION"; do
  [[ -f "$cache_root/flux/$v/install.yaml" ]] || missing+=("flux $v manifests")
done
installed() {
  [[ -x "$cli_dir/pulumi" && -x "$plugin_dir/pulumi-resource-kubernetes" ]] &&
    cmp -s "$engine_bin/pulumi" "$cli_dir/pulumi" 2>/dev/null || return 1
  local l
  for l in "${!links[@]}"; do [[ "$(readlink "$tools_dir/$l" 2>/dev/null)" == "${links[$l]}" ]] || return 1; done
}

if [[ $mode == --list ]]; then
  for piece in engine kubernetes policy controlplane flux alive; do
    for t in ${want[$piece]}; do echo "${dir_of[$piece]#"$cache_root"/}/$t"; done
  done
  echo "${stages_dir#"$cache_root"/}/VERSION"
  for v in "$FLUX_VERSION" "$FLUX_PREVIOUS_VERSION"; do echo "flux/$v/install.yaml"; done
  exit 0
fi

if [[ $mode == --check ]]; then
  if ((${#missing[@]})) || ! installed; then
    say "the toolchain is not built (missing: ${missing[*]:-installation}); run scripts/toolchain/build.sh"
    exit 1
  fi
  exit 0
fi

# ---- digests of what the cache holds (see the header)
# The cached files this script vouches for: every piece's binaries, kwok's stages, the collected Flux releases.
cached_files() {
  local piece t v
  {
    for piece in engine kubernetes policy controlplane flux alive; do
      for t in ${want[$piece]}; do [[ -e "${dir_of[$piece]}/$t" ]] && echo "${dir_of[$piece]}/$t"; done
    done
    [[ -d "$stages_dir" ]] && find "$stages_dir" -type f
    for v in "$FLUX_VERSION" "$FLUX_PREVIOUS_VERSION"; do
      [[ -d "$cache_root/flux/$v" ]] && find "$cache_root/flux/$v" -type f
    done
  } | sort
}
# sha256sum lines for files under the cache, by path relative to it (the record survives a moved $HOME).
hash_files() { # files...
  local f rels=()
  for f; do rels+=("${f#"$cache_root"/}"); done
  (cd "$cache_root" && sha256sum -- "${rels[@]}")
}
# Records the files' digests, replacing older lines for the same paths; serialised, since several
# scripts may build at once.
record() { # files...
  (($#)) || return 0
  local new
  new=$(hash_files "$@")
  (
    flock 9
    {
      printf '%s\n' "$new"
      if [[ -f "$digests" ]]; then cat "$digests"; fi
    } | awk '!seen[substr($0, 67)]++' |
      sort -k2 >"$digests.$$.tmp"
    mv "$digests.$$.tmp" "$digests"
  ) 9>>"$digests.lock"
}
# Says what is wrong with each file that does not match its record or has none; fails if any.
verify_files() { # files...
  (($#)) || return 0
  local problems
  problems=$(hash_files "$@" | awk -v db="$digests" -v cache="$cache_root" '
    BEGIN { while ((getline l < db) > 0) rec[substr(l, 67)] = substr(l, 1, 64) }
    {
      p = substr($0, 67); h = substr($0, 1, 64)
      split(p, part, "/"); piece = part[1] == "flux" ? "flux/" part[2] : part[1]
      fix = "remove " cache "/" piece " and run scripts/toolchain/build.sh to rebuild it"
      if (!(p in rec)) print cache "/" p ": no digest recorded in " db " (this script did not build it): " fix
      else if (rec[p] != h) print cache "/" p ": its sha256 " h " is not the one recorded when it was built (" rec[p] "): the cache was altered; " fix
    }')
  [[ -z "$problems" ]] && return 0
  while IFS= read -r l; do
    say "refusing $l"
    [[ "${GITHUB_ACTIONS:-}" == true ]] && echo "::error title=toolchain cache::refusing $l" >&2
  done <<<"$problems"
  return 1
}
mapfile -t present < <(cached_files)

if [[ $mode == --verify ]]; then
  bad=0
  if ((${#missing[@]})); then say "not built: ${missing[*]}; run scripts/toolchain/build.sh"; bad=1; fi
  [[ -f "$digests" ]] || { say "no digests recorded ($digests): run scripts/toolchain/build.sh"; bad=1; }
  verify_files "${present[@]}" || bad=1
  # What runs is the installed copy: the CLI and its plugins beside it, the provider plugin, the links.
  for t in ${want[engine]}; do
    cmp -s "$engine_bin/$t" "$cli_dir/$t" 2>/dev/null || { say "$cli_dir/$t is not the verified $engine_bin/$t: run scripts/toolchain/build.sh"; bad=1; }
  done
  cmp -s "$k8s_bin/pulumi-resource-kubernetes" "$plugin_dir/pulumi-resource-kubernetes" 2>/dev/null ||
    { say "$plugin_dir/pulumi-resource-kubernetes is not the verified $k8s_bin/pulumi-resource-kubernetes: run scripts/toolchain/build.sh"; bad=1; }
  for l in "${!links[@]}"; do
    [[ "$(readlink "$tools_dir/$l" 2>/dev/null)" == "${links[$l]}" ]] || { say "$tools_dir/$l does not point at ${links[$l]}: run scripts/toolchain/build.sh"; bad=1; }
  done
  ((bad)) && exit 1
  say "verified ${#present[@]} cached files against $digests"
  exit 0
fi

if [[ ! -f "$digests" ]]; then
  # A cache from before digests were recorded: what it holds is trusted on first use, once, and said so.
  if ((${#present[@]})); then
    say "no digests recorded yet: recording the ${#present[@]} files already cached, trusted on first use"
    [[ "${GITHUB_ACTIONS:-}" == true ]] &&
      echo "::warning title=toolchain cache::no digests recorded in $digests: the ${#present[@]} cached files were trusted on first use" >&2
    mkdir -p "$cache_root"
    record "${present[@]}"
  fi
else
  # Nothing cached is reused before it matches what was recorded when it was built.
  verify_files "${present[@]}" || exit 1
fi

mkdir -p "$engine_bin" "$k8s_bin" "$policy_bin" "$cp_bin" "$flux_bin" "$alive_bin"
export CGO_ENABLED=0 GOFLAGS="-mod=readonly -trimpath"

# The folder of a module in the module cache, downloading it first (a fresh cache has none).
module_dir() { # wrapper-dir module
  (cd "$1" && go mod download -json "$2" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
}

build_in() { # dir output-path package ldflags
  local dir=$1 out=$2 pkg=$3 ldflags=$4
  say "building $(basename "$out") ..."
  local t0=$SECONDS
  (cd "$dir" && go build -ldflags "-s -w $ldflags" -o "$out.tmp" "$pkg")
  mv "$out.tmp" "$out"
  record "$out"
  say "built $(basename "$out") in $((SECONDS - t0))s"
}

# ---- engine: the CLI, our Node.js language host, the dynamic-provider shim
sdk_ldflags="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION"
[[ -x "$engine_bin/pulumi" ]] ||
  build_in "$here/engine" "$engine_bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi "$sdk_ldflags"
[[ -x "$engine_bin/pulumi-language-nodejs" ]] ||
  build_in "$here/engine" "$engine_bin/pulumi-language-nodejs" ./cmd/pulumi-language-nodejs "$sdk_ldflags"
if [[ ! -x "$engine_bin/pulumi-resource-pulumi-nodejs" ]]; then
  # The dynamic-provider shim ships in sdk/v3 under nodejs/dist; module zips drop its run bit.
  sdk_dir=$(module_dir "$here/engine" github.com/pulumi/pulumi/sdk/v3)
  [[ -n "$sdk_dir" ]] || { say "could not download github.com/pulumi/pulumi/sdk/v3"; exit 1; }
  install -m 0755 "$sdk_dir/nodejs/dist/pulumi-resource-pulumi-nodejs" "$engine_bin/pulumi-resource-pulumi-nodejs"
  record "$engine_bin/pulumi-resource-pulumi-nodejs"
  say "installed pulumi-resource-pulumi-nodejs from $sdk_dir"
fi

# ---- the Kubernetes provider plugin
if [[ ! -x "$k8s_bin/pulumi-resource-kubernetes" ]]; then
  k8s_dir=$(module_dir "$here/kubernetes" github.com/pulumi/pulumi-kubernetes/provider/v4)
  [[ -n "$k8s_dir" ]] || { say "could not download github.com/pulumi/pulumi-kubernetes/provider/v4"; exit 1; }
  for f in schema.json terraform-mapping.json; do
    install -m 0644 "$k8s_dir/cmd/pulumi-resource-kubernetes/$f" "$here/kubernetes/cmd/pulumi-resource-kubernetes/$f"
  done
  build_in "$here/kubernetes" "$k8s_bin/pulumi-resource-kubernetes" ./cmd/pulumi-resource-kubernetes \
    "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$KUBERNETES_VERSION"
fi

# ---- policy tools
go_install() { # name module version [bin-dir [ldflags]]
  local name=$1 mod=$2 ver=$3 bin=${4:-$policy_bin} ldflags=${5:-}
  [[ -x "$bin/$name" ]] && return
  say "building $name $ver ..."
  local t0=$SECONDS
  (cd "$bin/.." && GOFLAGS=-trimpath GOBIN="$bin" go install -ldflags "-s -w $ldflags" "$mod@$ver")
  record "$bin/$name"
  say "built $name in $((SECONDS - t0))s"
}
go_install opa github.com/open-policy-agent/opa "$OPA_VERSION"
go_install conftest github.com/open-policy-agent/conftest "$CONFTEST_VERSION"
go_install actionlint github.com/rhysd/actionlint/cmd/actionlint "$ACTIONLINT_VERSION"

# ---- the embedded control plane: etcd, kube-apiserver, kube-controller-manager, kubectl in one binary
if [[ ! -x "$cp_bin/kube" ]]; then
  for pin in "k8s.io/kubernetes $KUBERNETES_RELEASE" "go.etcd.io/etcd/server/v3 $ETCD_VERSION"; do
    grep -Eq "^(require)?[[:space:]]*$pin([[:space:]]|\$)" "$here/controlplane/go.mod" ||
      { say "controlplane/go.mod does not require $pin (versions.env): keep the two in step"; exit 1; }
  done
  v=$KUBERNETES_RELEASE minor=${KUBERNETES_RELEASE#v1.}
  # Without these, the binaries call themselves v0.0.0-master and clients warn about the skew.
  build_in "$here/controlplane" "$cp_bin/kube" . \
    "-X k8s.io/component-base/version.gitVersion=$v -X k8s.io/component-base/version.gitMajor=1 \
     -X k8s.io/component-base/version.gitMinor=${minor%%.*} -X k8s.io/component-base/version.gitTreeState=clean"
fi

# ---- the alive cluster: simulated nodes (kwok) and the resource metrics API (metrics-server)
go_install kwok sigs.k8s.io/kwok/cmd/kwok "$KWOK_VERSION" "$alive_bin" \
  ""
go_install metrics-server sigs.k8s.io/metrics-server/cmd/metrics-server "$METRICS_SERVER_VERSION" "$alive_bin" \
  "-X k8s.io/client-go/pkg/version.gitVersion=$METRICS_SERVER_VERSION"
if [[ ! -f "$alive_bin/../stages/VERSION" ]]; then
  # kwok's own stage and metric definitions, as its release ships them (kustomize/ in its module).
  kwok_dir=$( (cd "$alive_bin/.." && GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION") |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -n "$kwok_dir" ]] || { say "could not download sigs.k8s.io/kwok@$KWOK_VERSION"; exit 1; }
  st="$alive_bin/../stages.tmp"
  rm -rf "$st" && mkdir -p "$st"
  for f in stage/node/fast/node-initialize.yaml stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    stage/pod/fast/pod-ready.yaml stage/pod/fast/pod-complete.yaml stage/pod/fast/pod-delete.yaml \
    metrics/resource/metrics-resource.yaml metrics/usage/usage-from-annotation.yaml rbac/role.yaml crd/bases/kwok.x-k8s.io_clusterresourceusages.yaml \
    crd/bases/kwok.x-k8s.io_resourceusages.yaml crd/bases/kwok.x-k8s.io_metrics.yaml crd/bases/kwok.x-k8s.io_stages.yaml; do
    install -m 0644 "$kwok_dir/kustomize/$f" "$st/$(basename "$f")"
  done
  echo "$KWOK_VERSION" >"$st/VERSION"
  rm -rf "$alive_bin/../stages" && mv "$st" "$alive_bin/../stages"
  mapfile -t copied < <(find "$stages_dir" -type f)
  record "${copied[@]}"
fi

# ---- Flux: its controllers and fluxkit, then the pieces of the pinned releases
if [[ ! -x "$flux_bin/source-controller" || ! -x "$flux_bin/kustomize-controller" || ! -x "$flux_bin/fluxkit" ]]; then
  build_in "$here/flux" "$flux_bin/fluxkit" ./cmd/fluxkit ""
  build_in "$here/flux" "$flux_bin/source-controller" github.com/fluxcd/source-controller ""
  build_in "$here/flux" "$flux_bin/kustomize-controller" github.com/fluxcd/kustomize-controller ""
fi
for v in "$FLUX_VERSION" "$FLUX_PREVIOUS_VERSION"; do
  d="$cache_root/flux/$v"
  [[ -f "$d/install.yaml" ]] && continue
  say "collecting Flux $v manifests from Go modules ..."
  bash "$here/flux/collect.sh" "$v" "$d.tmp" >&2
  "$flux_bin/fluxkit" assemble --collected "$d.tmp" --out "$d.tmp/install.yaml"
  rm -rf "$d" && mv "$d.tmp" "$d"
  mapfile -t copied < <(find "$d" -type f)
  record "${copied[@]}"
done
# The controllers that run are the ones the pinned release names (flux/go.mod must say the same).
for c in source-controller kustomize-controller; do
  want_v=$(node -e 'const c=require(process.argv[1]).components[process.argv[2]];console.log(c?c.version:"")' \
    "$flux_dir/components.json" "$c")
  grep -Eq "^[[:space:]]*github.com/fluxcd/$c $want_v([[:space:]]|\$)" "$here/flux/go.mod" ||
    { say "flux/go.mod does not require github.com/fluxcd/$c $want_v, the version Flux $FLUX_VERSION names: keep them in step"; exit 1; }
done

# ---- install: the CLI and its bundled plugins side by side, where `npx pulumi` looks; links for the rest
mkdir -p "$cli_dir" "$tools_dir"
for t in ${want[engine]}; do
  cmp -s "$engine_bin/$t" "$cli_dir/$t" 2>/dev/null || install -m 0755 "$engine_bin/$t" "$cli_dir/$t"
done
for l in "${!links[@]}"; do ln -sfn "${links[$l]}" "$tools_dir/$l"; done

if ! cmp -s "$k8s_bin/pulumi-resource-kubernetes" "$plugin_dir/pulumi-resource-kubernetes" 2>/dev/null; then
  say "installing the kubernetes v$KUBERNETES_VERSION plugin ..."
  PULUMI_HOME="$pulumi_home" PULUMI_SKIP_UPDATE_CHECK=true "$cli_dir/pulumi" plugin install resource kubernetes \
    "v$KUBERNETES_VERSION" --file "$k8s_bin/pulumi-resource-kubernetes" --reinstall >&2
fi

say "toolchain ready (cache $cache_root)"
echo "PULUMI_CLI=$cli_dir/pulumi"
echo "TOOLS_BIN=$tools_dir"
echo "FLUX_MANIFESTS=$flux_dir"
echo "KWOK_STAGES=$alive_bin/../stages"
