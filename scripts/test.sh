#!/usr/bin/env bash
# `npm test`: every test, after installing what the tests need (system packages,
# npm dependencies, the engine toolchain). Ends with `tests: N passed, N failed`.
# Extra arguments go to vitest (e.g. npm test -- test/unit).
set -euo pipefail
CARTORIO_STEP=test
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

ensure_system_packages
# Headless Chromium (Debian's) opens the evidence report in its tests.
ensure_apt_command chromium chromium
ensure_node_modules
ensure_toolchain
export CARTORIO_PULUMI_CLI="$PULUMI_CLI" CARTORIO_TOOLS_BIN="$TOOLS_BIN"

mkdir -p .local
report=.local/vitest-report.json
rm -f "$report"
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
node scripts/ci/test-summary.mjs "$report" || status=1
exit "$status"
