"""The alarms on Firehose delivery and the encrypted alerts topic they and Dagster publish to."""

from __future__ import annotations

from pathlib import Path

import pytest

from health_pipeline.schema.terraform import _unquote
from health_pipeline_tests.support.terraform_hcl import (
    PROFILES,
    TERRAFORM_DIR,
    Stack,
    alerts_topic,
    copy,
    edited_copy,
    statements,
)


def check_alarms(stack: Stack) -> None:
    alarms = {
        stack.value("alarms", body["metric_name"]): body
        for body in stack.typed("alarms", "resource", "aws_cloudwatch_metric_alarm").values()
    }
    interval = stack.value("firehose", "${var.buffering_interval_seconds}")
    expected = {"DeliveryToIceberg.FailedRowCount": 0, "DeliveryToIceberg.DataFreshness": 2 * interval}
    assert interval == 300, f"the alarms are sized for Firehose's 300 s buffer interval, not {interval!r}"
    for metric, threshold in expected.items():
        alarm = alarms.get(metric)
        assert alarm is not None, f"no alarm on {metric}"
        assert stack.value("alarms", alarm["namespace"]) == "AWS/Firehose"
        assert stack.value("alarms", alarm["comparison_operator"]) == "GreaterThanThreshold"
        actual = stack.value("alarms", alarm["threshold"])
        assert actual == threshold, f"{metric} alarm threshold is {actual!r}, expected {threshold}"
        dimensions = stack.value("alarms", alarm["dimensions"])
        assert isinstance(dimensions, dict) and "DeliveryStreamName" in dimensions, f"{metric} alarm names no stream"
    topic = alerts_topic(stack)
    for body in stack.typed("alarms", "resource", "aws_cloudwatch_metric_alarm").values():
        for field in ("alarm_actions", "ok_actions"):
            raw = body.get(field, [])
            if raw == "${var.alarm_actions}":
                actions = [stack.value(None, a) for a in stack.call_args("alarms").get("alarm_actions", [])]
            else:
                actions = [stack.value("alarms", a) for a in raw] if isinstance(raw, list) else [raw]
            assert actions == [topic], (
                f"{_unquote(body['alarm_name'])}: {field} is {actions!r}; every alarm's actions go to the alerts topic"
            )


def check_alerts_topic(stack: Stack) -> None:
    """The alerts topic is encrypted with the module's own key (rotated, which CloudWatch may use for
    this account's alarms only), e-mail subscriptions come from envs/prod's variable, and the Dagster
    role may use that key and no other."""
    topic = stack.resource("alerts", "aws_sns_topic", "alerts")
    assert _unquote(topic.get("kms_master_key_id", "")) == "${aws_kms_key.alerts.arn}", (
        "the alerts topic must be encrypted with the module's customer-managed key (alias/aws/sns cannot let"
        " CloudWatch alarms publish)"
    )
    key = stack.resource("alerts", "aws_kms_key", "alerts")
    assert key.get("enable_key_rotation") is True, "the alerts key must rotate"
    assert _unquote(key["policy"]) == "${data.aws_iam_policy_document.key.json}", "the key policy must be checked here"
    for statement in statements(stack, "alerts", "key"):
        for principals in statement.get("principals", []):
            identifiers = [_unquote(i) for i in principals["identifiers"]]
            assert "*" not in identifiers, f"the alerts key policy names every principal ({statement.get('sid')})"
            if _unquote(principals["type"]) == "Service":
                conditions = {_unquote(c["variable"]) for c in statement.get("condition", [])}
                assert "aws:SourceAccount" in conditions, f"{identifiers} may use the key for any account"
    subscription = stack.resource("alerts", "aws_sns_topic_subscription", "email")
    assert _unquote(subscription["protocol"]) == "email"
    assert _unquote(subscription["for_each"]) == "${toset(var.email_addresses)}"
    assert _unquote(stack.call_args("alerts")["email_addresses"]) == "${var.alert_email_addresses}"
    encrypting = [
        st
        for st in statements(stack, "iam", "dagster")
        if "kms:GenerateDataKey" in {_unquote(a) for a in st["actions"]}
    ]
    key_arn = stack.value(None, "${module.alerts.key_arn}")
    assert key_arn == "${aws_kms_key.alerts.arn}", f"modules/alerts outputs {key_arn!r} as the key"
    used = [[stack.value("iam", r) for r in st["resources"]] for st in encrypting]
    assert used == [[key_arn]], f"the Dagster role may use the keys {used}, not the alerts key only"


CHECKS = {
    check.__name__: check
    for check in (
        check_alarms,
        check_alerts_topic,
    )
}


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("check", CHECKS)
def test_invariant_holds(check: str, profile: str) -> None:
    CHECKS[check](Stack(TERRAFORM_DIR, profile))


def test_a_pristine_copy_passes_every_check(tmp_path: Path) -> None:
    """The edited copies fail because of the edit, not because the copy itself is unreadable."""
    pristine = Stack(copy(tmp_path))
    for check in CHECKS.values():
        check(pristine)


# (check, file under terraform/ or deploy/, original text, replacement): each edit must be caught by its check.
CARELESS_EDITS = [
    (
        "check_alarms",
        "envs/prod/main.tf",
        "interval_seconds = 300",
        "interval_seconds = 900",
    ),
    (
        "check_alarms",
        "modules/alarms/main.tf",
        "threshold           = 0",
        "threshold           = 5",
    ),
    ("check_alarms", "modules/alarms/main.tf", "ok_actions    = var.alarm_actions\n}\n\nresource", "\n}\n\nresource"),
    ("check_alarms", "envs/prod/main.tf", "alarm_actions              = [module.alerts.topic_arn]", ""),
    ("check_alerts_topic", "modules/alerts/main.tf", "  kms_master_key_id = aws_kms_key.alerts.arn\n", ""),
    (
        "check_alerts_topic",
        "modules/alerts/main.tf",
        "kms_master_key_id = aws_kms_key.alerts.arn",
        'kms_master_key_id = "alias/aws/sns"',
    ),
    (
        "check_alerts_topic",
        "modules/alerts/main.tf",
        "enable_key_rotation     = true",
        "enable_key_rotation     = false",
    ),
    ("check_alerts_topic", "modules/alerts/main.tf", "identifiers = [local.account_root]", 'identifiers = ["*"]'),
    ("check_alerts_topic", "modules/iam/main.tf", "resources = [var.alert_key_arn]", 'resources = ["*"]'),
]


@pytest.mark.parametrize(("check", "relative", "original", "replacement"), CARELESS_EDITS)
def test_a_careless_edit_is_caught(tmp_path: Path, check: str, relative: str, original: str, replacement: str) -> None:
    edited = edited_copy(tmp_path, relative, original, replacement)
    with pytest.raises(AssertionError):
        CHECKS[check](Stack(edited))
