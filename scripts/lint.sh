#!/usr/bin/env bash
# Offline checks of the Terraform: formatting (terraform fmt), the providers' schemas
# (scripts/provider_schemas.py) and policy (checkov).
# `terraform validate` needs the provider from the registry, which this environment cannot reach;
# fmt (syntax), the schema check (arguments and blocks against aws's and awscc's own schemas, from the
# committed terraform/provider-schemas.json), checkov (resolves modules and variables) and the tests
# under health_pipeline_tests/terraform/ (the invariants) replace it here.
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

PROJECT_PYTHON="${PROJECT_PYTHON:-$ROOT/.venv/bin/python}"
if [ ! -x "$PROJECT_PYTHON" ]; then
  echo "lint: $PROJECT_PYTHON is missing; run make install first (the schema check reads HCL with python-hcl2)." >&2
  exit 2
fi
echo "lint: scripts/provider_schemas.py check"
if ! "$PROJECT_PYTHON" scripts/provider_schemas.py check; then
  echo "lint: the resources above disagree with their provider's schema; fix the .tf, or, for a type that is new to the" >&2
  echo "lint: project, run: .venv/bin/python scripts/provider_schemas.py regenerate (downloads the pinned wheels from PyPI)" >&2
  exit 1
fi

echo "lint: checkov -d terraform --framework terraform --skip-download"
"$CHECKOV_VENV/bin/checkov" -d terraform --framework terraform --skip-download --quiet --compact
