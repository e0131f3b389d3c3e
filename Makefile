# health-pipeline: `make demo` and `make test` are the two commands; see README.md.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION ?= 0.13.9
VENV := .venv
BIN := $(VENV)/bin
HEALTH_PIPELINE_HOME ?= $(CURDIR)/.health_pipeline
LOCAL_ENV := HEALTH_PIPELINE_HOME=$(HEALTH_PIPELINE_HOME) DAGSTER_HOME=$(HEALTH_PIPELINE_HOME)/dagster
UV := $(shell command -v uv 2>/dev/null || echo $(VENV)-tools/bin/uv)

.PHONY: install demo test dev bench lint clean

$(VENV)-tools/bin/uv:
	$(PYTHON) -m venv $(VENV)-tools
	$(VENV)-tools/bin/pip install --quiet "uv==$(UV_VERSION)"

$(BIN)/health-pipeline: pyproject.toml uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1 $(UV) sync --frozen --python $(PYTHON)
	@touch $@

install: $(BIN)/health-pipeline

demo: install
	$(LOCAL_ENV) $(BIN)/health-pipeline demo

test: install
	$(BIN)/pytest -q

dev: install
	@mkdir -p "$(HEALTH_PIPELINE_HOME)/dagster"
	@test -f "$(HEALTH_PIPELINE_HOME)/dagster/dagster.yaml" || cp deploy/dagster-local.yaml "$(HEALTH_PIPELINE_HOME)/dagster/dagster.yaml"
	$(LOCAL_ENV) $(BIN)/dagster dev -h 127.0.0.1 -p 3000 -w workspace.yaml

bench: install
	$(BIN)/python -m health_pipeline_tests.bench

# terraform fmt -check and checkov (own venv .venv-checkov: checkov pins an old boto3), offline.
lint:
	scripts/lint.sh

clean:
	rm -rf $(VENV) $(VENV)-tools .health_pipeline .pytest_cache
