#!/usr/bin/env bash
# `npm run local`: the main job on the embedded `local` stack, on one machine.
# Installs what it needs, starts the embedded Kubernetes cluster when it is not
# running (control plane, simulated nodes, metrics, the local Git server and
# Flux's controllers), checks the manifests with the rulebook, publishes
# this checkout's HEAD to that server, prepares the SoftHSM2 token, runs `pulumi
# up` with the policy pack on a file backend (it waits until Flux is Ready at
# that commit), checks with conftest both the repository's manifests
# and what the stack applied (read back from the state after `up`), and prints
# a short summary with `kubectl describe hpa cartorio-api -n cartorio`.
set -euo pipefail
CARTORIO_STEP=local
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
t0=$SECONDS

ensure_system_packages
ensure_node_modules
ensure_toolchain
eval "$(bash scripts/cluster/local-hsm.sh)"

log "embedded cluster and its GitOps loop (npm run cluster -- up) ..."
# Assigned first: `eval "$(cmd)"` would hide cmd's failure from set -e and go on to an unreachable API.
cluster_env=$(node scripts/ops/run.mjs cluster up --stack local)
eval "$cluster_env"
# Nothing unjudged is published: the rulebook over what Flux would apply, as the PR's conftest job runs it.
log "the rulebook over manifests/, clusters/, infrastructure/ and the inventories (npm run policy:check), before publishing ..."
node scripts/ops/run.mjs policy-check
# The sync reads this checkout's HEAD (committed work only), published to the local Git server.
head=$(node scripts/ops/run.mjs cluster publish --stack local)

export PULUMI_BACKEND_URL="file://$root/.pulumi-state"
# Public on purpose (the local stack holds no secret of value), and unlike any name the evidence report
# prints, so the report's secret scan, which has no exemption, can check for it like any passphrase.
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE:-cartorio-local-estado}"
mkdir -p .pulumi-state
pulumi() { "$PULUMI_CLI" "$@"; }

pulumi stack select --create local --non-interactive >/dev/null
log "pulumi up --stack local --policy-pack policypack ..."
pulumi up --stack local --yes --non-interactive --skip-preview --policy-pack policypack --suppress-progress

log "conftest over what the stack applied (.local/declared/, from the state), manifests/, clusters/, infrastructure/ and the key inventory (combined: set rules too) ..."
pulumi stack export --stack local | node scripts/ops/declared.mjs .local/declared
conftest test .local/declared manifests clusters infrastructure configs/kms/local.yaml --combine --policy policies/ --data policies/catalogue.yaml --no-color

# Flux applies manifests/ after infrastructure/ (cartorio-apps depends on it; a dependency is
# retried every 30 s): wait, as a person would check, until every Kustomization is Ready at HEAD,
# cartorio-api's pods are Ready on the simulated nodes, and the HPA reads their metrics.
log "waiting for every Kustomization to be Ready at $head, cartorio-api's pods and the HPA's metrics ..."
node scripts/ops/run.mjs cluster settle --revision "$head" --timeout 240

log "summary"
pulumi stack output --stack local --json | node scripts/ops/summary.mjs
node scripts/ops/run.mjs policy-exceptions
echo
echo "\$ kubectl get gitrepositories,kustomizations -A   (HEAD is $head)"
kubectl get gitrepositories,kustomizations -A
echo
echo "\$ kubectl get deploy,svc,networkpolicy -n cartorio"
kubectl get deploy,svc,networkpolicy -n cartorio
echo
echo "\$ kubectl describe hpa cartorio-api -n cartorio"
kubectl describe hpa cartorio-api -n cartorio

# The signed evidence of this run (what the corregedoria would be handed), chained after the previous
# run's, then verified as an auditor would: against the trust anchor (for local, .local/evidencias/,
# written from the token this machine made), never against a key read from the cluster.
log "evidence trust anchor (npm run evidence:anchor -- --stack local) ..."
node scripts/ops/run.mjs evidence-anchor --stack local
log "evidence report (npm run evidence -- --stack local) ..."
genesis=()
compgen -G "evidence/local/*/report.json" >/dev/null || genesis=(--genesis)
evidence=$(node scripts/ops/run.mjs evidence --stack local "${genesis[@]}")
echo "$evidence"
dir=$(sed -n 's/^evidence: \([^ ]*\) .*/\1/p' <<<"$evidence")
node scripts/ops/run.mjs evidence-verify "$dir"
node scripts/ops/run.mjs evidence-verify --chain evidence/local
log "done in $((SECONDS - t0))s"
