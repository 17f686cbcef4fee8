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

# npm dependencies, reinstalled when package-lock.json changed since the last install.
ensure_node_modules() {
  local stamp=node_modules/.cartorio-lock.sha256 want
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
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
  eval "$(bash scripts/toolchain/build.sh)"
  export PATH="$TOOLS_BIN:$PATH"
  export PULUMI_CLI
}

# Go may be installed without being on PATH (e.g. /usr/local/go from the official tarball).
if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then export PATH="/usr/local/go/bin:$PATH"; fi

# Offline engine settings wherever the engine runs.
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
