#!/usr/bin/env bash
# Prepares the local stack's HSM: a SoftHSM2 token under .local/softhsm/ (gitignored),
# created once with random PINs kept in 0600 files next to it. Idempotent.
# Prints the environment the program needs (SOFTHSM2_CONF, CARTORIO_HSM_PIN) as
# shell assignments: eval "$(scripts/cluster/local-hsm.sh)".
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dir="${CARTORIO_LOCAL_HSM_DIR:-$root/.local/softhsm}"
label="${CARTORIO_LOCAL_TOKEN_LABEL:-cartorio-local}"

command -v softhsm2-util >/dev/null || {
  echo "softhsm2-util not found: install SoftHSM2 (Debian/Ubuntu: apt-get install softhsm2)" >&2
  exit 1
}
umask 077
mkdir -p "$dir/tokens"
conf="$dir/softhsm2.conf"
[[ -f "$conf" ]] || printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$dir" > "$conf"
export SOFTHSM2_CONF="$conf"

if [[ ! -s "$dir/user-pin" ]]; then
  # Random PINs, never printed: the program reads the user PIN from the environment.
  od -An -N8 -tx1 /dev/urandom | tr -d ' \n' > "$dir/user-pin"
  od -An -N8 -tx1 /dev/urandom | tr -d ' \n' > "$dir/so-pin"
fi
if ! softhsm2-util --show-slots 2>/dev/null | grep -q "Label:.*\b$label\b"; then
  softhsm2-util --init-token --free --label "$label" \
    --so-pin "$(cat "$dir/so-pin")" --pin "$(cat "$dir/user-pin")" >/dev/null
  echo "created SoftHSM2 token '$label' in $dir/tokens" >&2
fi
printf 'export SOFTHSM2_CONF=%q\nexport CARTORIO_HSM_PIN="$(cat %q)"\n' "$conf" "$dir/user-pin"
