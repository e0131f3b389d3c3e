"""aws mode's alert destination: one SNS Publish per alert to HEALTH_PIPELINE_ALERT_TOPIC_ARN (the
topic of terraform/modules/alerts; e-mail subscribers get the subject and the text). The incident key
and severity travel as message attributes, for subscribers that filter (SQS, Lambda)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

from health_pipeline.alerts.messages import SUBJECT_PREFIX, Alert, AlertDestinationError

# SNS: a subject is ASCII, one line, under 100 characters; a message is at most 256 KB.
MAX_SUBJECT = 99
MAX_MESSAGE_BYTES = 250_000


def sns_subject(alert: Alert) -> str:
    text = f"{SUBJECT_PREFIX} {alert.severity}: {alert.subject}"
    text = " ".join(text.split()).encode("ascii", "replace").decode()
    return text if len(text) <= MAX_SUBJECT else text[: MAX_SUBJECT - 3] + "..."


def sns_message(alert: Alert) -> str:
    body = alert.body.encode()
    if len(body) > MAX_MESSAGE_BYTES:
        body = body[:MAX_MESSAGE_BYTES].decode(errors="ignore").encode() + b"\n[cut to fit SNS's 256 KB]"
    return body.decode() + f"\n\nIncident: {alert.key}\n"


class SnsAlertTopic:
    def __init__(self, client_factory: Callable[[], Any], topic_arn: str | None) -> None:
        self._client_factory = client_factory
        self.topic_arn = topic_arn
        self.where = topic_arn or "no SNS topic (HEALTH_PIPELINE_ALERT_TOPIC_ARN is not set)"

    @cached_property
    def client(self) -> Any:
        return self._client_factory()

    def send(self, alert: Alert) -> None:
        if not self.topic_arn:
            raise AlertDestinationError(
                "HEALTH_PIPELINE_ALERT_TOPIC_ARN is not set: in aws mode alerts are published to the SNS topic of"
                " terraform/modules/alerts; set it to the `health_pipeline_alert_topic_arn` output of terraform/envs/prod."
            )
        self.client.publish(
            TopicArn=self.topic_arn,
            Subject=sns_subject(alert),
            Message=sns_message(alert),
            MessageAttributes={
                "severity": {"DataType": "String", "StringValue": alert.severity},
                "incident_key": {"DataType": "String", "StringValue": alert.key[:1000]},
            },
        )
