#!/usr/bin/env bash
# CI: registers Deno's Jupyter kernel, executes notebooks/study.ipynb headless at the tiny budget (a cell
# that errors, or runs past 5 minutes, fails it) and checks the executed notebook's outputs with
# tests/notebook_test.ts. Needs Jupyter (Debian: jupyter-nbconvert, jupyter-client, python3-ipykernel);
# DENO is the command that runs Deno, and the kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
deno=${DENO:-deno}
$deno jupyter --install --force
executed=$(mktemp -d)
trap 'rm -rf "$executed"' EXIT
AELAB_NOTEBOOK_TINY=1 timeout 900 jupyter nbconvert --to notebook --execute \
  --ExecutePreprocessor.kernel_name=deno --ExecutePreprocessor.timeout=300 \
  --output-dir="$executed" --output=study.ipynb notebooks/study.ipynb
AELAB_EXECUTED_NOTEBOOK="$executed/study.ipynb" timeout 300 $deno test -A tests/notebook_test.ts
