#!/usr/bin/env bash
# Offline checks of the Terraform: formatting (terraform fmt) and policy (checkov).
# `terraform validate` needs the provider from the registry, which this environment cannot reach;
# fmt (syntax), checkov (resolves modules and variables) and the tests under health_pipeline_tests/terraform/
# (the invariants) replace it here.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-python3}"
CHECKOV_VERSION="${CHECKOV_VERSION:-3.3.30}"
CHECKOV_VENV="${CHECKOV_VENV:-$ROOT/.venv-checkov}"

if ! command -v terraform >/dev/null 2>&1; then
  echo "lint: terraform is not on PATH; install Terraform >= 1.10 to check formatting." >&2
  exit 2
fi

# checkov pins an old boto3: it gets its own virtual environment, never the project's.
if [ ! -x "$CHECKOV_VENV/bin/checkov" ]; then
  echo "lint: creating $CHECKOV_VENV with checkov $CHECKOV_VERSION"
  "$PYTHON" -m venv "$CHECKOV_VENV"
  "$CHECKOV_VENV/bin/pip" install --quiet "checkov==$CHECKOV_VERSION"
fi

echo "lint: terraform fmt -check -recursive terraform"
if ! terraform fmt -check -recursive terraform; then
  echo "lint: the files above are not formatted; run: terraform fmt -recursive terraform" >&2
  exit 1
fi

echo "lint: checkov -d terraform --framework terraform --skip-download"
"$CHECKOV_VENV/bin/checkov" -d terraform --framework terraform --skip-download --quiet --compact
