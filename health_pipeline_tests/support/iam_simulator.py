"""IAM's policy simulator where moto has none (moto 5.2 answers SimulatePrincipalPolicy with HTTP 500).

`simulate_with(client, denied)` makes a boto3 IAM client answer SimulatePrincipalPolicy itself, through
botocore's own short-circuit (the event Stubber uses): every (action, resource) pair asked about is
`allowed` except those in `denied` (`implicitDeny`), or the call fails with AccessDenied. It records what
was asked, so a test can also check which actions on which ARNs the preflight simulates."""

from __future__ import annotations

from typing import Any

from botocore.awsrequest import AWSResponse


class SimulatorDouble:
    def __init__(self, denied: set[tuple[str, str]] = frozenset(), access_denied: bool = False) -> None:
        self.denied = set(denied)
        self.access_denied = access_denied
        self.asked: list[tuple[str, str, tuple]] = []  # (action, resource, context keys and values)
        self._params: dict[str, Any] = {}

    def attach(self, client: Any) -> Any:
        events = client.meta.events
        events.register("before-parameter-build.iam.SimulatePrincipalPolicy", self._capture)
        events.register_first("before-call.iam.SimulatePrincipalPolicy", self._answer)
        return client

    def _capture(self, params: dict, **_: Any) -> None:
        self._params = dict(params)

    def _answer(self, **_: Any) -> tuple[AWSResponse, dict]:
        if self.access_denied:
            error = {
                "Error": {"Code": "AccessDenied", "Message": "not authorized to perform iam:SimulatePrincipalPolicy"}
            }
            return AWSResponse(None, 403, {}, None), {**error, "ResponseMetadata": {"HTTPStatusCode": 403}}
        context = tuple(
            (entry["ContextKeyName"], tuple(entry["ContextKeyValues"]))
            for entry in self._params.get("ContextEntries", [])
        )
        results = []
        for action in self._params["ActionNames"]:
            specific = []
            for resource in self._params.get("ResourceArns", ["*"]):
                self.asked.append((action, resource, context))
                decision = "implicitDeny" if (action, resource) in self.denied else "allowed"
                specific.append({"EvalResourceName": resource, "EvalResourceDecision": decision})
            overall = "allowed" if all(s["EvalResourceDecision"] == "allowed" for s in specific) else "implicitDeny"
            results.append(
                {
                    "EvalActionName": action,
                    "EvalResourceName": "*",
                    "EvalDecision": overall,
                    "ResourceSpecificResults": specific,
                }
            )
        return AWSResponse(None, 200, {}, None), {"EvaluationResults": results, "IsTruncated": False}
