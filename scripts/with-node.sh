#!/usr/bin/env bash
# Runs a command on the project's Node.js (22; installed into the toolchain cache on first use
# when the machine's node is older, see scripts/env.sh), e.g. the operator commands of package.json:
#   bash scripts/with-node.sh node scripts/ops/run.mjs hsm-slots --stack producao
set -euo pipefail
CARTORIO_STEP=${CARTORIO_STEP:-node}
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
ensure_node_modules
exec "$@"
