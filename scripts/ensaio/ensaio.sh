#!/usr/bin/env bash
# `npm run ensaio`: the dress rehearsal of producao on this machine (scripts/ensaio/ensaio.ts says what it runs).
# Installs what it needs (system packages, npm dependencies, the toolchain), then runs the rehearsal.
set -euo pipefail
CARTORIO_STEP=ensaio
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
ensure_system_packages
ensure_node_modules
ensure_toolchain
export CARTORIO_PULUMI_CLI="$PULUMI_CLI" CARTORIO_TOOLS_BIN="$TOOLS_BIN"
exec node scripts/ops/run.mjs ensaio "$@"
