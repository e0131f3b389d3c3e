"""The access mode and each principal's permissions, where the account lets them be read: Lake
Formation's registered locations and grants, and IAM's policy simulator for the Dagster role."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from health_pipeline.preflight.context import Preflight, error_code, is_access_denied
from health_pipeline.preflight.deployment import (
    DAGSTER_TABLE_PERMISSIONS,
    FIREHOSE_TABLE_PERMISSIONS,
    GROUP_LABELS,
    IAM_MODE,
    LAKE_FORMATION_MODE,
    dagster_actions,
)
from health_pipeline.preflight.results import CheckResult, failed, passed, warned

ROLE_FIX = "set HEALTH_PIPELINE_DAGSTER_ROLE_ARN to the `dagster_role_arn` Terraform output"


def check_access_mode(pf: Preflight) -> list[CheckResult]:
    """The configured access mode against Lake Formation's registration of the table buckets' location."""
    configured = pf.settings.s3tables_access_mode
    bucket_arn = pf.arns.table_bucket_arn
    if bucket_arn is None:
        return [
            warned(
                "access mode",
                f"configured {configured}; not read: HEALTH_PIPELINE_CATALOG is not s3tablescatalog/<bucket>",
                "set HEALTH_PIPELINE_CATALOG to the health_pipeline_catalog output",
            )
        ]
    lakeformation = pf.client("lakeformation")
    registered = None
    for arn in (bucket_arn.rsplit("/", 1)[0] + "/*", bucket_arn):
        try:
            lakeformation.describe_resource(ResourceArn=arn)
            registered = arn
            break
        except ClientError as err:
            if error_code(err) != "EntityNotFoundException":
                raise
    live = LAKE_FORMATION_MODE if registered else IAM_MODE
    found = f"Lake Formation {'registers ' + registered if registered else 'registers no S3 Tables location'}"
    if live == configured:
        return [passed("access mode", f"{configured}: {found}")]
    return [
        failed(
            "access mode",
            f"configured {configured}, but {found} (the account is in {live} mode)",
            f'set s3tables_access_mode = "{live}" in Terraform and HEALTH_PIPELINE_S3TABLES_ACCESS_MODE={live},'
            " or change the integration (docs/operations/deploying.md)",
        )
    ]


def check_lake_formation_grants(pf: Preflight) -> list[CheckResult]:
    """In lake_formation mode: the Dagster role's and Firehose role's grants on the table."""
    if pf.settings.s3tables_access_mode != LAKE_FORMATION_MODE:
        return [passed("lake formation grants", "not used in iam mode: IAM policies decide (see the iam lines)")]
    s, catalog_id = pf.settings, pf.arns.glue_catalog_id
    if catalog_id is None:
        return [
            warned(
                "lake formation grants",
                "not read: HEALTH_PIPELINE_CATALOG is not s3tablescatalog/<bucket>",
                "set HEALTH_PIPELINE_CATALOG to the health_pipeline_catalog output",
            )
        ]
    results = []
    principals = [
        ("dagster role", pf.dagster_role_arn, DAGSTER_TABLE_PERMISSIONS, ROLE_FIX),
        ("firehose role", pf.firehose_role_arn, FIREHOSE_TABLE_PERMISSIONS, "the stream names no role"),
    ]
    for who, principal, needed, missing_fix in principals:
        name = f"lake formation grants: {who}"
        if principal is None:
            results.append(warned(name, f"the {who} is not known, its grants not read", missing_fix))
            continue
        granted = _table_grants(pf, principal, catalog_id)
        lacking = set() if "ALL" in granted else needed - granted
        on = f"{s.athena_catalog}/{s.database}.{s.table}"
        if lacking:
            results.append(
                failed(
                    name,
                    f"{principal} lacks {', '.join(sorted(lacking))} on {on}"
                    f" (has {', '.join(sorted(granted)) or 'nothing'})",
                    'terraform apply with s3tables_access_mode = "lake_formation" grants it'
                    " (aws_lakeformation_permissions in terraform/envs/prod)",
                )
            )
        else:
            results.append(passed(name, f"{principal} has {', '.join(sorted(granted))} on {on}"))
    return results


def _table_grants(pf: Preflight, principal: str, catalog_id: str) -> set[str]:
    """The principal's permissions on the table: granted on it, or on all tables of its database."""
    s = pf.settings
    lakeformation = pf.client("lakeformation")
    granted: set[str] = set()
    tables: tuple[dict[str, Any], ...] = ({"Name": s.table}, {"TableWildcard": {}})
    for table in tables:
        resource = {"Table": {"CatalogId": catalog_id, "DatabaseName": s.database, **table}}
        request: dict[str, Any] = {"Principal": {"DataLakePrincipalIdentifier": principal}, "Resource": resource}
        while True:
            try:
                page = lakeformation.list_permissions(**request)
            except (ClientError, BotoCoreError, ResponseParserError) as err:
                if "TableWildcard" in table and not is_access_denied(err):
                    break  # wildcard grants could not be listed (moto cannot): the named grants decide
                raise
            for entry in page.get("PrincipalResourcePermissions", []):
                if entry.get("Principal", {}).get("DataLakePrincipalIdentifier") == principal:
                    granted.update(entry.get("Permissions", []))
            if not page.get("NextToken"):
                break
            request["NextToken"] = page["NextToken"]
    return granted


def check_dagster_role_iam(pf: Preflight) -> list[CheckResult]:
    """IAM's policy simulator: may the Dagster role call what the code calls, on the ARNs it uses?"""
    role = pf.dagster_role_arn
    if role is None:
        return [warned("iam: dagster role", "the Dagster role is not known (the caller is not a role)", ROLE_FIX)]
    groups = dagster_actions(pf.settings.s3tables_access_mode)
    results = []
    for group, actions in groups.items():
        if group in ("topic", "topic_key"):
            continue  # the alerts check simulates these on the topic and its key
        name = f"iam: {GROUP_LABELS[group]}"
        targets = _targets(pf, group)
        if not targets:
            results.append(
                warned(
                    name,
                    f"{', '.join(actions)} not simulated: the resource's ARN is not known"
                    " (HEALTH_PIPELINE_CATALOG is not s3tablescatalog/<bucket>, or s3tables:GetTable was refused)",
                    "run preflight as a principal that may read the table (s3tables:GetTable)",
                )
            )
            continue
        try:
            denied = []
            for resources, context in targets:
                denied += simulate(pf, role, actions, resources, context)
        except (ClientError, BotoCoreError, ResponseParserError) as err:
            return results + [_cannot_simulate(err)]
        if denied:
            results.append(
                failed(
                    name,
                    f"{role} may not: {'; '.join(denied)}",
                    "terraform apply in terraform/envs/prod (modules/iam grants exactly what the code calls)",
                )
            )
        else:
            results.append(passed(name, f"allowed: {', '.join(actions)}"))
    return results


def _targets(pf: Preflight, group: str) -> list[tuple[list[str], list[dict]]]:
    """The resources (and context keys) a group's actions are simulated on."""
    arns = pf.arns
    if group == "workgroup":
        return [([arns.workgroup_arn], [])]
    if group == "glue_table":
        return [(arns.glue_table_chain(), [])]
    table_arn, bucket_arn = pf.table_arn, arns.table_bucket_arn
    if group == "s3tables_table":
        return [([table_arn], [])] if table_arn else []
    if group == "s3tables_bucket":
        return [([bucket_arn], [])] if bucket_arn else []
    if group == "stream":
        return [([pf.stream.get("DeliveryStreamARN", arns.stream_arn) if _stream_read(pf) else arns.stream_arn], [])]
    if group == "objects":
        return [(arns.object_arns(), [])]
    if group == "buckets":
        return [([arns.bucket_arn(bucket)], [_string("s3:prefix", prefix)]) for bucket, prefix in arns.prefixes()]
    return [(["*"], [])]


def _stream_read(pf: Preflight) -> bool:
    try:
        return bool(pf.stream)
    except ClientError:
        return False


def _string(key: str, value: str) -> dict:
    return {"ContextKeyName": key, "ContextKeyValues": [value], "ContextKeyType": "string"}


def simulate(pf: Preflight, role: str, actions: list[str], resources: list[str], context: list[dict]) -> list[str]:
    """`action on resource` for every pair the simulator does not allow."""
    paginator = pf.client("iam").get_paginator("simulate_principal_policy")
    request: dict[str, Any] = {"PolicySourceArn": role, "ActionNames": actions, "ResourceArns": resources}
    if context:
        request["ContextEntries"] = context
    denied = []
    for page in paginator.paginate(**request):
        for result in page.get("EvaluationResults", []):
            action = result["EvalActionName"]
            specific = result.get("ResourceSpecificResults") or [
                {
                    "EvalResourceName": result.get("EvalResourceName", "*"),
                    "EvalResourceDecision": result["EvalDecision"],
                }
            ]
            for each in specific:
                if each["EvalResourceDecision"] != "allowed":
                    denied.append(f"{action} on {each['EvalResourceName']} ({each['EvalResourceDecision']})")
    return denied


def _cannot_simulate(err: Exception) -> CheckResult:
    why = (
        "the caller may not simulate (iam:SimulatePrincipalPolicy)"
        if is_access_denied(err)
        else f"the policy simulator did not answer ({str(err).splitlines()[0]})"
    )
    return warned(
        "iam simulation",
        f"the Dagster role's IAM permissions were not checked: {why}",
        "run preflight as a principal allowed iam:SimulatePrincipalPolicy on the Dagster role",
    )
