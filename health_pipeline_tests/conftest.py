"""Fixtures: a fresh local home and stack, the CLI's environment, moto in server mode on 127.0.0.1.
Each test is marked with its kind (unit, integration, system, terraform) by its folder."""

import os
from pathlib import Path

import pytest

from health_pipeline.engines.local import LocalStack
from health_pipeline.settings import Settings

KINDS = ("unit", "integration", "system", "terraform")


def pytest_collection_modifyitems(items):
    for item in items:
        kind = Path(str(item.path)).parent.name
        if kind in KINDS:
            item.add_marker(kind)
        # Under pytest-xdist (--dist loadgroup) a test file stays on one worker (its module fixtures are
        # made once) and the system tests, which each start a Dagster webserver and daemon, share one
        # worker; make test runs them after the rest, on their own.
        item.add_marker(pytest.mark.xdist_group("system" if kind == "system" else str(item.path)))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture
def stack(settings: Settings) -> LocalStack:
    return LocalStack(settings)


@pytest.fixture
def cli_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEALTH_PIPELINE_", "DAGSTER_"))}
    env["HEALTH_PIPELINE_HOME"] = str(settings.home)
    return env


# -- AWS: moto in server mode, over real HTTP on 127.0.0.1 ---------------------------------------
@pytest.fixture(scope="session")
def moto_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_server, monkeypatch):
    """A clean moto (reset before each test) and the environment boto3 reads to reach it.

    Yields the endpoint URL. Credentials are moto's dummies, set for the test's process only.
    """
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST"), timeout=10)
    for name, value in {
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "ap-northeast-1",
        "AWS_REGION": "ap-northeast-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    yield moto_server
