"""The producer Lambda: events in, records in S3 through moto's Firehose, a response per record; its
import loads nothing heavy; its package (`make lambda`) is reproducible and runs in a fresh virtual
environment that has only boto3, against moto over HTTP."""

import base64
import calendar
import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections import Counter
from pathlib import Path

import boto3
import pytest

from health_pipeline.lambda_handler import event_lines, glue_schema, make_handler
from health_pipeline.settings import PROJECT_ROOT, load_settings
from health_pipeline_tests.support import GOOD

REGION = "ap-northeast-1"
COLUMNS = [
    ("user_id", "string"),
    ("recorded_at", "timestamp"),
    ("fatigue", "int"),
    ("mood", "int"),
    ("motivation", "int"),
    ("flags", "int"),
]


@pytest.fixture
def deployed(aws, monkeypatch):
    """What the Lambda finds in the account: the Glue table and a stream writing to S3."""
    monkeypatch.setenv("HEALTH_PIPELINE_MODE", "aws")
    monkeypatch.setenv("HEALTH_PIPELINE_FIREHOSE_STREAM", "hp-lambda")
    settings = load_settings()
    glue = boto3.client("glue", region_name=REGION)
    glue.create_database(DatabaseInput={"Name": settings.database})
    glue.create_table(
        DatabaseName=settings.database,
        TableInput={
            "Name": settings.table,
            "StorageDescriptor": {"Columns": [{"Name": n, "Type": t} for n, t in COLUMNS]},
        },
    )
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket="hp-lambda", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    boto3.client("firehose", region_name=REGION).create_delivery_stream(
        DeliveryStreamName="hp-lambda",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/f",
            "BucketARN": "arn:aws:s3:::hp-lambda",
        },
    )


def delivered() -> list[dict]:
    s3 = boto3.client("s3", region_name=REGION)
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket="hp-lambda").get("Contents", [])]
    data = b"".join(s3.get_object(Bucket="hp-lambda", Key=key)["Body"].read() for key in keys)
    assert data.endswith(b"\n")
    return [json.loads(line) for line in data.splitlines()]


def test_the_handler_validates_encodes_and_puts_the_events_records(deployed):
    handler = make_handler()
    event = {
        "records": [GOOD, {**GOOD, "user_id": "利用者", "recorded_at": "2026-11-20T00:00:00Z"}, {**GOOD, "mood": 11}]
    }
    response = handler(event, None)
    assert response["statusCode"] == 207
    body = json.loads(response["body"])
    assert body["accepted"] == 2 and body["failed"] == []
    assert body["rejected"] == [{"index": 2, "code": "Producer.ScoreOutOfRange", "reason": "mood=11 is outside 0-10"}]
    records = delivered()
    assert [r["user_id"] for r in records] == ["u1", "利用者"]
    assert [r["recorded_at"] for r in records] == [micros(2026, 11, 19, 23, 30), micros(2026, 11, 20)]


def test_an_api_gateway_body_of_json_lines_is_read_and_a_bad_event_is_a_400(deployed):
    handler = make_handler()
    lines = (json.dumps(GOOD) + "\n" + json.dumps({**GOOD, "user_id": "u2"})).encode()
    response = handler({"body": base64.b64encode(lines).decode(), "isBase64Encoded": True}, None)
    assert response["statusCode"] == 200 and json.loads(response["body"])["accepted"] == 2
    assert handler({"detail": "no records"}, None)["statusCode"] == 400


def signed_by(identity: str, amr: list[str], body: str) -> dict:
    """A function URL event (payload 2.0) signed with a Cognito identity pool's credentials."""
    iam = {"accountId": "123456789012", "userArn": "arn:aws:sts::123456789012:assumed-role/app-users/CognitoIdentityCredentials",
           "cognitoIdentity": {"amr": amr, "identityId": identity, "identityPoolId": f"{REGION}:pool"}}  # fmt: skip
    return {"version": "2.0", "requestContext": {"http": {"method": "POST"}, "authorizer": {"iam": iam}}, "body": body}


def test_a_signed_in_app_user_sends_only_its_own_records_and_a_guest_none(deployed):
    handler = make_handler()
    me, someone = f"{REGION}:11111111-2222-3333-4444-555555555555", "u-someone-else"
    body = "".join(json.dumps({**GOOD, "user_id": user}) + "\n" for user in (me, someone, me))
    response = handler(signed_by(me, ["authenticated", "cognito-idp", "login"], body), None)
    assert response["statusCode"] == 207
    answer = json.loads(response["body"])
    assert answer["accepted"] == 2 and [(r["index"], r["code"]) for r in answer["rejected"]] == [
        (1, "Producer.NotCallersRecord")
    ]
    assert someone in answer["rejected"][0]["reason"] and me in answer["rejected"][0]["reason"]

    # API Gateway REST with IAM auth names the identity elsewhere; the same rule holds.
    rest = {"requestContext": {"identity": {"cognitoIdentityId": me, "cognitoAuthenticationType": "authenticated"}},
            "body": json.dumps([{**GOOD, "user_id": someone}])}  # fmt: skip
    assert json.loads(handler(rest, None)["body"])["rejected"][0]["code"] == "Producer.NotCallersRecord"

    # An HTTP API's JWT authorizer: the token's subject is the caller.
    token = {"version": "2.0", "requestContext": {"authorizer": {"jwt": {"claims": {"sub": someone}}}}, "body": body}
    assert [r["index"] for r in json.loads(handler(token, None)["body"])["rejected"]] == [0, 2]

    guest = handler(signed_by(me, ["unauthenticated"], body), None)
    assert guest["statusCode"] == 403 and "not signed in" in json.loads(guest["body"])["error"]
    # A backend role (no Cognito identity) names its users itself.
    backend = {"version": "2.0", "requestContext": {"authorizer": {"iam": {"cognitoIdentity": None}}}, "body": body}
    assert json.loads(handler(backend, None)["body"])["accepted"] == 3
    assert Counter(r["user_id"] for r in delivered()) == {me: 4, someone: 2}


def test_event_lines_reads_records_arrays_and_json_lines():
    assert [index for index, _ in event_lines({"records": [GOOD, GOOD]})] == [0, 1]
    assert len(event_lines({"body": json.dumps([GOOD, GOOD, GOOD])})) == 3
    body = json.dumps(GOOD) + "\n\n" + json.dumps(GOOD) + "\n"
    assert [index for index, _ in event_lines({"body": body})] == [0, 2]  # the body's line numbers


def micros(*utc: int) -> int:
    """A UTC time as Firehose's wire format has it: microseconds since the epoch."""
    return calendar.timegm((*utc, 0, 0, 0, 0)[:6]) * 10**6


# -- the Lambda-sized import ------------------------------------------------------------------------
HEAVY = ("pyarrow", "numpy", "pandas", "duckdb", "pyiceberg", "sqlglot", "hcl2", "lark", "dagster", "pydantic")
_LOADED = """
import json, sys
before = set(sys.modules)
import health_pipeline.lambda_handler
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_the_columns_are_read_from_the_table_buckets_catalog(deployed, monkeypatch):
    """Deployed, the Lambda has HEALTH_PIPELINE_CATALOG = s3tablescatalog/<bucket> (modules/lambda): it
    asks Glue for the table in that catalog, `<account>:s3tablescatalog/<bucket>`, where S3 Tables
    federates the live table (nothing is declared in the default catalog)."""
    monkeypatch.setenv("HEALTH_PIPELINE_CATALOG", "s3tablescatalog/health-logger-prod-tables")
    settings = load_settings()
    glue = boto3.client("glue", region_name=REGION)
    sent: list[dict] = []
    glue.meta.events.register("provide-client-params.glue.GetTable", lambda params, **_: sent.append(dict(params)))
    schema = glue_schema(settings, glue)
    account = boto3.client("sts", region_name=REGION).get_caller_identity()["Account"]
    assert sent == [
        {
            "DatabaseName": settings.database,
            "Name": settings.table,
            "CatalogId": f"{account}:s3tablescatalog/health-logger-prod-tables",
        }
    ]
    assert [(c.name, c.glue_type) for c in schema.columns] == COLUMNS


def test_the_handlers_import_loads_only_the_standard_library_and_its_own_modules():
    done = subprocess.run([sys.executable, "-c", _LOADED], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    tops = {name.split(".")[0] for name in loaded}
    assert not tops & set(HEAVY), f"the handler's import loads {sorted(tops & set(HEAVY))}"
    # A dependency-free import: the standard library (zoneinfo reads _sysconfigdata) and the package.
    others = {top for top in tops - set(sys.stdlib_module_names) if not top.startswith("_sysconfigdata")}
    assert others == {"health_pipeline"}, f"the handler's import loads {sorted(others)}"
    assert "health_pipeline.lambda_handler" in loaded and "health_pipeline.engines" not in loaded


# -- the package: `make lambda` ---------------------------------------------------------------------
def build_package(output: Path) -> Path:
    done = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "build_lambda.py"), str(output)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return output


def test_the_package_is_reproducible_and_holds_exactly_what_the_handler_imports(tmp_path):
    first, second = build_package(tmp_path / "a.zip"), build_package(tmp_path / "b.zip")
    assert first.read_bytes() == second.read_bytes()
    done = subprocess.run([sys.executable, "-c", _LOADED], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60)
    imported = {name for name in json.loads(done.stdout) if name.split(".")[0] == "health_pipeline"}
    with zipfile.ZipFile(first) as archive:
        entries = archive.infolist()
    names = [entry.filename for entry in entries]
    assert names == sorted(names) and all(entry.date_time == (1980, 1, 1, 0, 0, 0) for entry in entries)
    as_modules = {name.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for name in names}
    assert as_modules == imported  # nothing it does not import, and no boto3
    assert all(name.startswith("health_pipeline/") and name.endswith(".py") for name in names)
    assert first.stat().st_size < 1_000_000


def locked_versions(root_package: str) -> dict[str, str]:
    """`root_package` and everything it depends on, at the versions uv.lock pins."""
    packages = {p["name"]: p for p in tomllib.loads((PROJECT_ROOT / "uv.lock").read_text())["package"]}
    pins, todo = {}, [root_package]
    while todo:
        name = todo.pop()
        if name not in pins:
            pins[name] = packages[name]["version"]
            todo += [dependency["name"] for dependency in packages[name].get("dependencies", [])]
    return pins


def boto3_only_environment(directory: Path) -> Path:
    """A fresh virtual environment with boto3 (and what it needs) as the lock pins it, nothing else:
    what the Lambda runtime gives a function. uv installs from its cache when it can (offline)."""
    uv = shutil.which("uv") or str(PROJECT_ROOT / ".venv-tools" / "bin" / "uv")
    assert Path(uv).exists(), "uv is missing: run `make install`"
    python = directory / "bin" / "python"
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(directory)], check=True, timeout=120)
    pins = [f"{name}=={version}" for name, version in sorted(locked_versions("boto3").items())]
    install = [uv, "pip", "install", "--quiet", "--python", str(python), *pins]
    if subprocess.run([*install, "--offline"], capture_output=True, timeout=300).returncode != 0:
        subprocess.run(install, check=True, timeout=300)  # not cached yet: from the index
    return python


# Run in the fresh environment (-I: neither the project nor its virtual environment on the path).
_INVOKE = """
import importlib.util, json, sys
task, scenario = sys.argv[1], sys.argv[2]
sys.path.insert(0, task)
import health_pipeline.lambda_handler as lambda_handler
from health_pipeline.delivery.firehose import PutRetryBackoff, firehose_client

assert lambda_handler.__file__.startswith(task), lambda_handler.__file__
assert importlib.util.find_spec("pyarrow") is None and importlib.util.find_spec("health_pipeline_tests") is None


# Firehose (moto over HTTP) as it answers under load: the entries holding `fail-me` come back with an
# error code (a partial failure, FailedPutCount > 0); the others are put for real.
class FailingSome:
    def __init__(self, client):
        self.client = client

    def put_record_batch(self, DeliveryStreamName, Records):
        taken = [r for r in Records if b"fail-me" not in r["Data"]]
        put = self.client.put_record_batch(DeliveryStreamName=DeliveryStreamName, Records=taken) if taken else {}
        answers = iter(put.get("RequestResponses", []))
        failed = {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."}
        responses = [failed if b"fail-me" in r["Data"] else next(answers) for r in Records]
        return {"FailedPutCount": len(Records) - len(taken), "RequestResponses": responses}


if scenario == "no-zoneinfo":  # a runtime without a time zone database: the handler needs none
    import zoneinfo

    zoneinfo.reset_tzpath([])
    assert not zoneinfo.available_timezones()
if scenario == "partial":
    handler = lambda_handler.make_handler(
        client_factory=lambda settings: FailingSome(firehose_client(settings.aws_region)),
        retry=PutRetryBackoff(max_attempts=3, base_delay_s=0.0),
    )
else:
    handler = lambda_handler.handler
print(json.dumps(handler(json.load(sys.stdin), None)))
"""


def test_the_package_runs_in_a_fresh_environment_with_only_boto3(deployed, tmp_path):
    task = tmp_path / "task"  # what Lambda unpacks to /var/task
    with zipfile.ZipFile(build_package(tmp_path / "package.zip")) as archive:
        archive.extractall(task)
    python = boto3_only_environment(tmp_path / "venv")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("HEALTH_PIPELINE_", "PYTHON", "VIRTUAL_ENV"))}
    environ |= {"HEALTH_PIPELINE_MODE": "aws", "HEALTH_PIPELINE_FIREHOSE_STREAM": "hp-lambda"}

    def invoke(event: dict, scenario: str = "moto") -> tuple[int, dict]:
        done = subprocess.run(
            [str(python), "-I", "-c", _INVOKE, str(task), scenario],
            input=json.dumps(event),
            capture_output=True,
            text=True,
            env=environ,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        response = json.loads(done.stdout)
        return response["statusCode"], json.loads(response["body"])

    # A function URL event (payload 2.0): JSON Lines, two valid records and three the rules refuse.
    lines = [
        GOOD,
        {**GOOD, "user_id": "利用者", "recorded_at": "2026-11-20T00:00:00.25Z"},
        {**GOOD, "user_id": "u3", "mood": 11},
        {**GOOD, "user_id": "u4", "recorded_at": "2026-11-20T08:30:00"},
    ]
    body = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines) + "{not json\n"
    url_event = {
        "version": "2.0",
        "requestContext": {"http": {"method": "POST"}},
        "body": body,
        "isBase64Encoded": False,
    }
    status, answer = invoke(url_event)
    assert status == 207 and answer["accepted"] == 2 and answer["failed"] == []
    assert [(r["index"], r["code"]) for r in answer["rejected"]] == [
        (2, "Producer.ScoreOutOfRange"),
        (3, "Producer.TimestampWithoutOffset"),
        (4, "Producer.InvalidJson"),
    ]
    assert all(r["reason"] for r in answer["rejected"])

    # A partial Firehose failure: the other records of the batch land once, the failed one is reported.
    records = [{**GOOD, "user_id": user} for user in ("p1", "fail-me", "p3")]
    status, answer = invoke({"records": records}, "partial")
    assert status == 207 and answer["accepted"] == 2 and answer["rejected"] == []
    assert answer["failed"] == [{"index": 1, "errorCodes": ["ServiceUnavailableException"] * 3}]

    status, answer = invoke({"records": [{**GOOD, "user_id": "p4"}]}, "no-zoneinfo")
    assert (status, answer) == (200, {"accepted": 1, "rejected": [], "failed": []})

    arrived = delivered()
    assert Counter(r["user_id"] for r in arrived) == {"u1": 1, "利用者": 1, "p1": 1, "p3": 1, "p4": 1}
    times = {r["user_id"]: r["recorded_at"] for r in arrived}
    assert times["u1"] == micros(2026, 11, 19, 23, 30) and times["利用者"] == micros(2026, 11, 20) + 250_000
