"""Each data-quality check is one record (`quality.checks.CHECKS`): the Definitions' asset checks and
the table in docs/operations/running.md are made from it, so the UI, the docs and the code say the same."""

from __future__ import annotations

import re

import dagster as dg

from health_pipeline.definitions import build_definitions
from health_pipeline.quality.checks import CHECKS, ERROR, WARN, Thresholds
from health_pipeline.settings import PROJECT_ROOT, Settings

RUNNING = PROJECT_ROOT / "docs" / "operations" / "running.md"
ROW = re.compile(
    r"^\| `(?P<name>\w+)` \| `(?P<asset>\w+)` \| (?P<severity>\w+) \| (?P<blocking>yes|no) \| (?P<text>.+) \|$"
)


def test_the_records_name_each_check_once_with_a_severity():
    names = [check.name for check in CHECKS]
    assert len(names) == len(set(names)), names
    assert {check.severity for check in CHECKS} <= {ERROR, WARN}
    assert all(check.description() for check in CHECKS)


def test_the_definitions_asset_checks_are_the_records(tmp_path):
    defs = build_definitions(Settings(home=tmp_path / "home"))
    specs = {spec.name: spec for checks in defs.asset_checks for spec in checks.check_specs}
    quality = {name: spec for name, spec in specs.items() if spec.asset_key.path[0] != "firehose_delivery"}
    assert set(quality) == {check.name for check in CHECKS}
    for check in CHECKS:
        spec = quality[check.name]
        assert spec.asset_key == dg.AssetKey(check.asset), check.name
        assert spec.blocking == check.blocking, check.name
        assert spec.description is not None and check.description() in spec.description, check.name
        assert check.severity in spec.description, check.name


def test_a_threshold_shows_in_its_checks_description():
    """The words are made from the thresholds, not restated beside them."""
    by_name = {check.name: check for check in CHECKS}
    changed = Thresholds(duplicate_ratio=0.05, quiet_hours=6.0, volume_low=0.25)
    assert "5%" in by_name["duplicates_below_threshold"].description(changed)
    assert "6 h" in by_name["records_are_fresh"].description(changed)
    assert "0.25x-2x" in by_name["daily_volume_normal"].description(changed)


def test_the_docs_table_is_the_records():
    rows = [
        match.groupdict() for line in RUNNING.read_text(encoding="utf-8").splitlines() if (match := ROW.match(line))
    ]
    expected = [
        {
            "name": check.name,
            "asset": check.asset,
            "severity": check.severity,
            "blocking": "yes" if check.blocking else "no",
            "text": check.description(),
        }
        for check in CHECKS
    ]
    assert rows == expected, "docs/operations/running.md's check table differs from quality.checks.CHECKS"
