#!/usr/bin/env bash
# Collects the pieces of a Flux release from the Go modules that carry them, for
# the embedded install source (gitops.flux.source: embedded):
#   github.com/fluxcd/flux2/v2@<release>   manifests/ (the kustomize overlays the
#                                          release's install.yaml is built from;
#                                          bases/<controller>/kustomization.yaml
#                                          names each controller's version)
#   github.com/fluxcd/<controller>@<ver>   config/ (crd/bases, manager, rbac...)
#
#   collect.sh <release> <out-dir>
#
# Writes <out>/flux2/ (flux2's manifests/), <out>/<controller>/config/ for each
# controller whose module the proxy serves, and <out>/components.json saying,
# per controller, its version, module and whether it was collected (and why not).
set -euo pipefail
release=$1 out=$2
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

module_dir() { # module@version -> folder in the module cache, or empty with the error on stderr
  local json
  json=$(cd "$here" && go mod download -json "$1" 2>/dev/null || true)
  local dir err
  dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$json")
  if [[ -z "$dir" ]]; then
    err=$(sed -n 's/^[[:space:]]*"Error": "\(.*\)"$/\1/p' <<<"$json" | head -1)
    echo "${err:-download failed}" >&2
  fi
  echo "$dir"
}

rm -rf "$out" && mkdir -p "$out"
flux2=$(module_dir "github.com/fluxcd/flux2/v2@$release")
[[ -n "$flux2" ]] || { echo "collect: github.com/fluxcd/flux2/v2@$release is not served by the Go module proxy" >&2; exit 1; }
cp -r "$flux2/manifests" "$out/flux2"
chmod -R u+w "$out/flux2"

entries=()
for base in "$flux2"/manifests/bases/*/; do
  c=$(basename "$base")
  ver=$(grep -o "releases/download/v[^/]*/$c.crds.yaml" "$base/kustomization.yaml" | head -1 | cut -d/ -f3)
  [[ -n "$ver" ]] || { echo "collect: no version for $c in $base/kustomization.yaml" >&2; exit 1; }
  major=${ver%%.*}; major=${major#v}
  mod="github.com/fluxcd/$c"
  ((major >= 2)) && mod="$mod/v$major"
  dir=$(module_dir "$mod@$ver" 2>"$out/.err") || true
  if [[ -n "$dir" && -d "$dir/config/crd/bases" ]]; then
    mkdir -p "$out/$c/config"
    for sub in crd default manager rbac; do [[ -d "$dir/config/$sub" ]] && cp -r "$dir/config/$sub" "$out/$c/config/"; done
    chmod -R u+w "$out/$c"
    entries+=("\"$c\": {\"version\": \"$ver\", \"module\": \"$mod\", \"collected\": true}")
    echo "collect: $c $ver from $mod" >&2
  else
    why=$(sed 's/\\[nt]/ /g' "$out/.err" | tr -d '"\\' | tr '\n' ' ' | tr -s ' ' | sed 's/ $//')
    entries+=("\"$c\": {\"version\": \"$ver\", \"module\": \"$mod\", \"collected\": false, \"reason\": \"${why:-no config/crd/bases in the module}\"}")
    echo "collect: $c $ver NOT collected: ${why:-no config/crd/bases}" >&2
  fi
done
rm -f "$out/.err"
{
  echo "{\"release\": \"$release\", \"components\": {"
  (IFS=$'\n'; echo "${entries[*]}" | sed '$!s/$/,/')
  echo "}}"
} >"$out/components.json"
touch "$out/.complete"
