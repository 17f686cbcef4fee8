# Sourced by the project's scripts: installs what is missing and sets the
# offline engine settings. Not meant to be run by itself.
#   CARTORIO_NO_INSTALL=1  only check, never install (fail with what is missing)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

log() { printf '[%s] %s\n' "${CARTORIO_STEP:-cartorio}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# System packages: SoftHSM2 (the local HSM), a C++ toolchain for pkcs11js, and git
# with an SSH client (the local Git server runs git's own upload/receive-pack; tests push over SSH),
# and GnuPG (tests sign commits as maintainers for Flux's signature verification).
ensure_system_packages() {
  local need=()
  command -v git >/dev/null || need+=(git)
  command -v ssh >/dev/null || need+=(openssh-client)
  command -v gpg >/dev/null || need+=(gnupg)
  command -v softhsm2-util >/dev/null || need+=(softhsm2)
  command -v g++ >/dev/null || need+=(g++)
  command -v make >/dev/null || need+=(make)
  command -v python3 >/dev/null || need+=(python3)
  ((${#need[@]} == 0)) && return 0
  if [[ "${CARTORIO_NO_INSTALL:-}" == 1 || $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
    die "missing system packages: ${need[*]} (Debian/Ubuntu: sudo apt-get install ${need[*]})"
  fi
  log "installing ${need[*]} with apt-get ..."
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
}

# One more command from its Debian package, without the package's recommendations (npm test: chromium,
# whose recommended desktop packages the headless tests do not need).
ensure_apt_command() {
  local cmd=$1 pkg=$2
  command -v "$cmd" >/dev/null && return 0
  if [[ "${CARTORIO_NO_INSTALL:-}" == 1 || $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
    die "missing $cmd (Debian/Ubuntu: sudo apt-get install --no-install-recommends $pkg)"
  fi
  log "installing $pkg with apt-get ..."
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >&2
}

# Node.js 22 (NODE_VERSION in scripts/toolchain/versions.env): a node >= 22 on PATH is used as it
# is; otherwise the pinned release is taken from the npm registry (package node-linux-<arch>, checked
# against its pinned integrity) into the toolchain cache and put first on PATH, with its headers for
# node-gyp (npm_config_nodedir), so native modules build offline against the node that loads them.
ensure_node() {
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  ((major >= 22)) && return 0
  local version arch dir integrity want tmp
  version=$(sed -n 's/^NODE_VERSION=//p' scripts/toolchain/versions.env)
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    *) die "Node.js >= 22 is needed and only x86_64 is pinned here; install Node.js $version yourself" ;;
  esac
  dir="${CARTORIO_TOOLCHAIN_CACHE:-$HOME/.cache/cartorio-toolchain}/node-$version-linux-$arch"
  if [[ ! -x "$dir/bin/node" ]]; then
    [[ "${CARTORIO_NO_INSTALL:-}" == 1 ]] && die "Node.js >= 22 is needed (found $(node --version 2>/dev/null || echo none))"
    command -v npm >/dev/null || die "Node.js >= 22 is needed and npm is not installed to fetch it"
    log "installing Node.js $version from the npm registry (node-linux-$arch) ..."
    want=$(sed -n "s/^NODE_INTEGRITY_X64=//p" scripts/toolchain/versions.env)
    tmp=$(mktemp -d)
    integrity=$(cd "$tmp" && npm pack --json --silent "node-linux-$arch@$version" | node -e \
      'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[0].integrity))')
    [[ "$integrity" == "$want" ]] || die "node-linux-$arch@$version has integrity $integrity; expected $want"
    mkdir -p "$dir.tmp"
    tar -xzf "$tmp"/node-linux-"$arch"-"$version".tgz -C "$dir.tmp" --strip-components=1
    rm -rf "$tmp" "$dir" && mv "$dir.tmp" "$dir"
  fi
  export PATH="$dir/bin:$PATH"
  export npm_config_nodedir="$dir"
}

# npm dependencies, reinstalled when package-lock.json or the node version changed since the last install
# (pkcs11js is built for one node ABI).
ensure_node_modules() {
  local stamp=node_modules/.cartorio-lock.sha256 want
  want="$(sha256sum package-lock.json | cut -d' ' -f1) node $(node --version)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -f node_modules/pkcs11js/build/Release/pkcs11.node ]]; then
    return 0
  fi
  [[ "${CARTORIO_NO_INSTALL:-}" == 1 ]] && die "node_modules is missing or stale; run npm ci"
  log "installing npm dependencies (npm ci) ..."
  npm ci --no-audit --no-fund >&2
  [[ -f node_modules/pkcs11js/build/Release/pkcs11.node ]] ||
    die "pkcs11js did not build its native module; check that g++, make and python3 are installed and npm_config_nodedir points at the Node headers"
  echo "$want" > "$stamp"
}

# The engine toolchain (scripts/toolchain/build.sh): built once, cached.
ensure_toolchain() {
  if ! bash scripts/toolchain/build.sh --check 2>/dev/null; then
    [[ "${CARTORIO_NO_INSTALL:-}" == 1 ]] && { bash scripts/toolchain/build.sh --check; exit 1; }
    command -v go >/dev/null || die "the Pulumi engine is not built and Go is not installed: install Go 1.25+ (or run on a connected machine, where npx pulumi downloads the CLI)"
    log "building the engine toolchain from Go modules (first run only; see scripts/toolchain/build.sh) ..."
  fi
  # Checked before eval: eval "$(...)" would drop the status of a build, or of a cache refused by its digests.
  local paths
  paths=$(bash scripts/toolchain/build.sh) || die "scripts/toolchain/build.sh failed (see above): nothing of the toolchain is used"
  eval "$paths"
  export PATH="$TOOLS_BIN:$PATH"
  export PULUMI_CLI
}

# Go may be installed without being on PATH (e.g. /usr/local/go from the official tarball).
if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then export PATH="/usr/local/go/bin:$PATH"; fi

# Offline engine settings wherever the engine runs.
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
# The toolchain's own language host and plugins, never one found on PATH: the CLI then takes the
# host next to itself and plugins from $PULUMI_HOME/plugins, so scripts, tests and README commands
# all run what scripts/toolchain/ built (an official host on PATH would otherwise win).
export PULUMI_IGNORE_AMBIENT_PLUGINS=true

# Every script runs on Node.js 22 (installed on first use when the machine's node is older).
ensure_node
