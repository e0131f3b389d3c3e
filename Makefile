# health-pipeline: `make demo` and `make test` are the two commands; see README.md.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION ?= 0.13.9
VENV := .venv
BIN := $(VENV)/bin
HEALTH_PIPELINE_HOME ?= $(CURDIR)/.health_pipeline
LOCAL_ENV := HEALTH_PIPELINE_HOME=$(HEALTH_PIPELINE_HOME) DAGSTER_HOME=$(HEALTH_PIPELINE_HOME)/dagster
UV := $(shell command -v uv 2>/dev/null || echo $(VENV)-tools/bin/uv)

.PHONY: install system-deps demo demo-aws test check check-types check-unit dev sandbox bench lint lint-python lambda clean

$(VENV)-tools/bin/uv:
	$(PYTHON) -m venv $(VENV)-tools
	$(VENV)-tools/bin/pip install --quiet "uv==$(UV_VERSION)"

$(BIN)/health-pipeline: pyproject.toml uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1 $(UV) sync --frozen --python $(PYTHON)
	@touch $@

install: $(BIN)/health-pipeline

demo: install
	$(LOCAL_ENV) $(BIN)/health-pipeline demo

# What the tests need beyond Python: Debian's Chromium (the browser test) and PostgreSQL (the
# deployment test), installed when missing (root, or sudo), so a fresh machine needs only `make test`.
system-deps:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	command -v initdb >/dev/null || [ -x /usr/local/bin/initdb ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
	  || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  sudo=""; [ "$$(id -u)" -eq 0 ] || sudo="sudo"; \
	  echo "make: installing Debian packages:$$missing"; \
	  $$sudo apt-get update -qq || true; \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing; \
	fi

# Three workers on two cores (many tests wait on subprocesses and servers rather than compute); then
# the system tests (the browser, the production image, the small task), one at a time on a quiet machine.
test: install system-deps lint-python
	$(BIN)/pytest -q -n 3 --dist loadgroup -m "not system"
	$(BIN)/pytest -q -m system

dev: install
	@mkdir -p "$(HEALTH_PIPELINE_HOME)/dagster"
	@test -f "$(HEALTH_PIPELINE_HOME)/dagster/dagster.yaml" || cp deploy/dagster-local.yaml "$(HEALTH_PIPELINE_HOME)/dagster/dagster.yaml"
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(LOCAL_ENV) $(BIN)/dg dev -h 127.0.0.1 -p 3000

# AWS on 127.0.0.1 for the aws mode (sandbox/, docs/operations/sandbox.md): moto with Athena's rules
# and execution and Firehose's Iceberg delivery; writes $(HEALTH_PIPELINE_HOME)/sandbox.env when
# ready; Ctrl-C stops it. HEALTH_PIPELINE_SANDBOX_PORT chooses the port (default 4599).
sandbox: install
	$(LOCAL_ENV) $(BIN)/python -m sandbox

# The demo in aws mode against a sandbox of its own (started, used, stopped); its CSVs are copied to
# $(HEALTH_PIPELINE_HOME)/demo-aws/exports/ to compare with `make demo`'s.
demo-aws: install
	$(LOCAL_ENV) $(BIN)/python -m sandbox.demo_aws

bench: install
	$(BIN)/python -m benchmarks.bench

# ruff (lint and format check) and mypy (health_pipeline/ and both stacks against the contract in
# health_pipeline/stack.py, zero findings), configured in pyproject.toml.
lint-python: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The quick loop, about a minute on 2 cores: ruff, then mypy and the unit tests side by side.
check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@$(MAKE) --no-print-directory -j2 check-types check-unit

check-types:
	$(BIN)/mypy

check-unit:
	$(BIN)/pytest -q -m unit

# ruff, terraform fmt -check, the providers' schemas (scripts/provider_schemas.py check) and checkov (own venv
# .venv-checkov: checkov pins an old boto3), offline.
lint: lint-python
	scripts/lint.sh

# The producer Lambda's package: the handler and the pure-Python modules it imports, nothing else
# (no boto3: the runtime has it); the same bytes from the same commit. Needs only python3.
lambda:
	$(PYTHON) scripts/build_lambda.py dist/health_pipeline_lambda.zip

clean:
	rm -rf $(VENV) $(VENV)-tools .health_pipeline .pytest_cache .mypy_cache
