"""The Terraform against the aws and awscc providers' own schemas (scripts/provider_schemas.py).

`terraform validate` needs the providers from the registry; the committed terraform/provider-schemas.json
(the schemas of the types the .tf files use, from the pinned CDK Terrain provider wheels) stands in for
them offline. The tree has no finding; each careless edit below, made to a copy of the tree, has the one
finding it should.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

from health_pipeline.settings import PROJECT_ROOT

TERRAFORM_DIR = PROJECT_ROOT / "terraform"
SCRIPT = PROJECT_ROOT / "scripts" / "provider_schemas.py"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("provider_schemas", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


provider_schemas = _load_script()


def test_the_terraform_matches_the_providers_schemas() -> None:
    started = time.perf_counter()
    findings = provider_schemas.check(TERRAFORM_DIR)
    elapsed = time.perf_counter() - started
    assert not findings, "\n".join(str(f) for f in findings)
    assert elapsed < 20, f"the check took {elapsed:.1f} s; it runs in make lint and must stay fast"


def test_the_schema_file_holds_exactly_the_types_in_use_from_the_pinned_providers() -> None:
    schema = provider_schemas.load_schema()
    used = provider_schemas.used_types(TERRAFORM_DIR)
    regenerate = "run `.venv/bin/python scripts/provider_schemas.py regenerate` and commit the file"
    for kind in ("resource", "data"):
        stale = sorted(set(schema[kind]) - used[kind])
        assert not stale, f"provider-schemas.json holds {kind} types no .tf uses ({', '.join(stale)}): {regenerate}"
    assert schema["providers"] == {p: pin for p, pin in provider_schemas.WHEELS.items() if p in schema["providers"]}, (
        f"the schema file was made from other wheels than WHEELS pins: {regenerate}"
    )
    assert set(schema["providers"]) == {
        provider_schemas.provider_of(t) for kind in ("resource", "data") for t in schema[kind]
    }


def test_the_schema_file_has_stable_bytes() -> None:
    """Sorted keys, one-space indent, a final newline: regeneration from the same wheels changes nothing."""
    text = (TERRAFORM_DIR / "provider-schemas.json").read_text()
    assert text == json.dumps(json.loads(text), indent=1, sort_keys=True) + "\n"


def test_the_schema_names_what_the_provider_docs_name() -> None:
    """Terraform's names (the registry anchors), not camelCase guesses; blocks apart from attributes."""
    schema = provider_schemas.load_schema()
    stream = schema["resource"]["aws_kinesis_firehose_delivery_stream"]
    iceberg = stream["blocks"]["iceberg_configuration"]["schema"]
    assert {"append_only", "catalog_arn", "role_arn", "buffering_size"} <= set(iceberg["attributes"])
    assert iceberg["attributes"]["catalog_arn"]["required"] and iceberg["attributes"]["role_arn"]["required"]
    assert iceberg["blocks"]["s3_configuration"]["required"]
    assert "destination_table_configuration" in iceberg["blocks"]
    # A computed-only attribute is not an argument.
    assert "arn" not in schema["resource"]["aws_iam_role"]["attributes"]
    # aws_s3tables_table_bucket (plugin framework) takes nested attributes, not blocks.
    bucket = schema["resource"]["aws_s3tables_table_bucket"]
    assert "encryption_configuration" in bucket["attributes"] and not bucket["blocks"]
    assert set(schema["resource"]["awscc_s3tables_table"]["attributes"]) >= {
        "table_bucket_arn",
        "namespace",
        "table_name",
        "open_table_format",
        "iceberg_metadata",
    }


# (file under terraform/, text, replacement, the finding it must cause: "address.argument: problem" start)
CARELESS_EDITS = [
    pytest.param(
        "modules/athena/main.tf",
        "restrict_public_buckets = true",
        "restrict_public_bucket = true",
        "aws_s3_bucket_public_access_block.this.restrict_public_bucket: the provider has no argument or block"
        " `restrict_public_bucket` here; did you mean `restrict_public_buckets`?",
        id="misspelt-argument",
    ),
    pytest.param(
        "modules/alerts/main.tf",
        '  protocol  = "email"\n',
        "",
        "aws_sns_topic_subscription.email.protocol: required argument is missing",
        id="missing-required-argument",
    ),
    pytest.param(
        "modules/athena/main.tf",
        "versioning_configuration {",
        "versioning_configuration = {",
        "aws_s3_bucket_versioning.this.versioning_configuration: `versioning_configuration` is a block",
        id="block-written-as-attribute",
    ),
    pytest.param(
        "modules/s3tables/main.tf",
        "encryption_configuration = {",
        "encryption_configuration {",
        "aws_s3tables_table_bucket.this.encryption_configuration: `encryption_configuration` is an attribute",
        id="attribute-written-as-block",
    ),
    pytest.param(
        "modules/athena/main.tf",
        "  rule {\n    object_ownership",
        "  rules {\n    object_ownership",
        "aws_s3_bucket_ownership_controls.this.rules: the provider has no argument or block `rules` here",
        id="unknown-block",
    ),
    pytest.param(
        "modules/athena/main.tf",
        'dynamic "rule" {',
        'dynamic "rules" {',
        "aws_s3_bucket_lifecycle_configuration.this.dynamic.rules: the provider has no block `rules` here",
        id="dynamic-block-of-an-unknown-block",
    ),
    pytest.param(
        "modules/s3tables/main.tf",
        "unreferenced_days = var.unreferenced_days",
        "unreferenced_day = var.unreferenced_days",
        "aws_s3tables_table_bucket.this.maintenance_configuration.iceberg_unreferenced_file_removal.settings"
        ".unreferenced_day: the provider has no attribute `unreferenced_day` here",
        id="misspelt-key-of-a-nested-attribute",
    ),
    pytest.param(
        "modules/alerts/main.tf",
        'resource "aws_kms_alias" "alerts"',
        'resource "aws_kms_aliases" "alerts"',
        "aws_kms_aliases.alerts: resource type aws_kms_aliases is not in provider-schemas.json",
        id="type-not-in-the-schema",
    ),
]


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "terraform"
    shutil.copytree(TERRAFORM_DIR, copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    return copy


@pytest.mark.parametrize(("relative", "text", "replacement", "expected"), CARELESS_EDITS)
def test_a_careless_edit_is_caught(tree_copy: Path, relative: str, text: str, replacement: str, expected: str) -> None:
    target = tree_copy / relative
    source = target.read_text(encoding="utf-8")
    assert source.count(text) == 1, f"{relative} no longer contains {text!r} exactly once: update this edit"
    target.write_text(source.replace(text, replacement), encoding="utf-8")
    findings = [str(f) for f in provider_schemas.check(tree_copy)]
    assert any(re.match(rf"terraform/{relative}:\d+: {re.escape(expected)}", f) for f in findings), findings
    unrelated = [f for f in findings if not f.startswith(f"terraform/{relative}:")]
    assert not unrelated, unrelated


def test_a_pristine_copy_has_no_finding(tree_copy: Path) -> None:
    """The edited copies fail because of the edit, not because a copy is read differently."""
    assert provider_schemas.check(tree_copy) == []


def test_the_command_exits_1_naming_the_finding(tree_copy: Path) -> None:
    target = tree_copy / "modules/athena/main.tf"
    target.write_text(target.read_text().replace("restrict_public_buckets = true", "restrict_public_bucket = true"))
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "check", "--terraform-dir", str(tree_copy)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    line = next(
        n
        for n, text in enumerate(target.read_text().splitlines(), 1)
        if text.startswith('resource "aws_s3_bucket_public_access_block" "this"')
    )
    assert (
        f"modules/athena/main.tf:{line}: aws_s3_bucket_public_access_block.this.restrict_public_bucket" in result.stdout
    )
    assert "1 finding(s)" in result.stdout
