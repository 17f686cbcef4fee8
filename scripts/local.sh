#!/usr/bin/env bash
# `npm run local`: the main job on the embedded `local` stack, on one machine.
# Installs what it needs, prepares the SoftHSM2 token, runs `pulumi up` with the
# policy pack on a file backend, checks the rendered output and manifests/ with
# conftest, and prints a short summary.
set -euo pipefail
CARTORIO_STEP=local
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
t0=$SECONDS

ensure_system_packages
ensure_node_modules
ensure_toolchain
eval "$(bash scripts/local-hsm.sh)"

export PULUMI_BACKEND_URL="file://$root/.pulumi-state"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE:-cartorio-local}"
mkdir -p .pulumi-state
pulumi() { "$PULUMI_CLI" "$@"; }

pulumi stack select --create local --non-interactive >/dev/null
log "pulumi up --stack local --policy-pack policypack ..."
pulumi up --stack local --yes --non-interactive --skip-preview --policy-pack policypack --suppress-progress

log "conftest over the rendered output, manifests/, clusters/, infrastructure/ and the key inventory (combined: set rules too) ..."
conftest test rendered/local manifests clusters infrastructure configs/kms/local.yaml --combine --policy policies/ --data policies/catalogue.yaml --no-color

log "summary"
pulumi stack output --stack local --json | node scripts/summary.mjs
log "done in $((SECONDS - t0))s"
