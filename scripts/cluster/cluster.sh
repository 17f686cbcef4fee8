#!/usr/bin/env bash
# `npm run cluster -- up|down|status|env`: the embedded Kubernetes control plane
# (scripts/cluster/cluster.ts). `up` builds the toolchain first if it is missing; the
# other verbs never build anything, and `env` prints only the export lines.
set -euo pipefail
CARTORIO_STEP=cluster
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
ensure_node_modules
if [[ "${1:-}" == up ]]; then
  ensure_toolchain
fi
exec node scripts/ops/run.mjs cluster "$@"
