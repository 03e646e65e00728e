#!/usr/bin/env bash
# CI: stands up the single-node SLURM cluster of cluster.sh, runs tests/slurm_cluster_test.ts against it
# (the sweep as a job array, its merge, a shard cancelled and resumed) and stops the cluster however the
# tests end. Root, with slurm-wlm and munge installed; DENO is the command that runs Deno.
set -euo pipefail
cd "$(dirname "$0")/../.."
deno=${DENO:-deno}
export AELAB_SLURM_DIR=${AELAB_SLURM_DIR:-/tmp/aelab-slurm-ci}
trap 'examples/slurm/cluster.sh stop' EXIT
examples/slurm/cluster.sh start
export SLURM_CONF="$AELAB_SLURM_DIR/slurm.conf"
# The jobs run the checkout's tasks with the same Deno, its cache filled once before they share it.
npx -y deno@2.9.6 cache scripts/*.ts
timeout 900 $deno test -A tests/slurm_cluster_test.ts
