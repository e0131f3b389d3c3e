"""The image test: deploy/Dockerfile's steps, run on this machine as far as it allows.

There is no OCI builder here (a docker client without a daemon; no podman, buildah or buildkit) and the
base image cannot be pulled, so the test interprets the Dockerfile itself instead of building it:
- its ENV, with the image's /opt/... paths mapped into a temporary root;
- its COPY steps, from the repository into that root (the same files, nothing else);
- its `RUN uv sync ...` steps, as written: the locked dependencies without the dev group, into a
  fresh environment (UV_PROJECT_ENVIRONMENT), on this machine's Python 3.11 (the base image's minor);
- its CMD, as written, but for the port (a free one instead of 4000);
then `dagster api grpc-health-check` must report the server healthy, and the code location's
repository, fetched over gRPC as the webserver and the daemon fetch it, must hold the pipeline's
assets, sensors and schedule. The server runs in its own session and is always killed.

The small profile's command (terraform/modules/dagster: `bash .../deploy/small-task.sh`, with its
task's DAGSTER_HOME) runs from the same image on the image's own deploy/dagster-small.yaml, against a
PostgreSQL that takes TLS (the file says `sslmode: require`, as RDS needs): its webserver must serve
the code location and report all the daemon's loops healthy, and SIGTERM must stop the whole task
within ECS's 30 s.

Not covered: the base image, `useradd` and USER (the test runs as the current user), and bytecode
compilation (UV_COMPILE_BYTECODE=1 takes ~30 s and changes nothing that runs).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import hcl2
import pytest

from health_pipeline_tests.support.dockerfile import dockerfile_instructions

# The repository, found from this file: the test does not import the code it is about to serve.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
IMAGE_PORT = 4000
HEALTHY_WITHIN_S = 45
# The design card's names (design.md): what the UI must find in the code location.
ASSETS = {"health_records", "firehose_delivery", "iceberg_schema", "daily_health_summary", "daily_summary_csv"}
SENSORS = {"schema_drift_sensor", "new_data_sensor"}
SCHEDULES = {"daily_summary_schedule"}
IGNORED_COPIES = shutil.ignore_patterns("__pycache__", "*.pyc", ".terraform", "*.tfstate*")


def _uv() -> str:
    """The uv `make install` uses: on PATH, else the one it bootstraps into .venv-tools."""
    found = shutil.which("uv") or str(PROJECT_ROOT / ".venv-tools" / "bin" / "uv")
    assert Path(found).is_file(), "no uv: run `make install` (it bootstraps uv into .venv-tools)"
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Image:
    """The Dockerfile's filesystem under `root` (/opt/... -> root/opt/...) and its environment."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env: dict[str, str] = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8"}
        self.workdir = root

    def path(self, image_path: str) -> Path:
        if image_path.startswith("/"):
            return self.root / image_path.lstrip("/")
        return self.workdir / image_path

    def set_env(self, args: str) -> None:
        for pair in shlex.split(args):
            name, _, value = pair.partition("=")
            value = value.replace("$PATH", self.env["PATH"])
            self.env[name] = ":".join(str(self.path(v)) if v.startswith("/opt/") else v for v in value.split(":"))

    def copy(self, args: str) -> None:
        *sources, dest = shlex.split(args)
        target = self.path(dest)
        into_directory = dest.endswith("/") or len(sources) > 1
        for source in sources:
            origin = PROJECT_ROOT / source
            assert origin.exists(), f"COPY {source}: not in the repository"
            final = target / origin.name if into_directory else target
            final.parent.mkdir(parents=True, exist_ok=True)
            if origin.is_dir():
                shutil.copytree(origin, final, ignore=IGNORED_COPIES)
            else:
                shutil.copy2(origin, final)


def build(root: Path) -> tuple[Image, list[str], dict[str, float]]:
    """Run the Dockerfile's ENV, WORKDIR, COPY and `RUN uv sync` steps; return the image, its CMD and
    the time each uv sync took."""
    image, command, timings = Image(root), [], {}
    uv_env = {"UV_PYTHON": sys.executable, "UV_COMPILE_BYTECODE": "0"}  # see the module docstring
    for op, args in dockerfile_instructions():
        if op == "FROM":
            base = args.split()[0]
            assert base.startswith(f"python:{sys.version_info.major}.{sys.version_info.minor}"), (
                f"the image is {base}; this test runs Python {sys.version.split()[0]}"
            )
        elif op == "ENV":
            image.set_env(args)
        elif op == "WORKDIR":
            image.workdir = image.path(args)
            image.workdir.mkdir(parents=True, exist_ok=True)
        elif op == "COPY":
            image.copy(args)
        elif op == "RUN" and args.startswith("uv sync"):
            argv = [_uv(), *shlex.split(args)[1:]]
            started = time.monotonic()
            done = subprocess.run(
                argv, cwd=image.workdir, env={**os.environ, **image.env, **uv_env},
                capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            timings[args] = round(time.monotonic() - started, 2)
            assert done.returncode == 0, f"RUN {args} failed:\n{done.stdout}{done.stderr}"
        elif op == "CMD":
            command = json.loads(args)
    assert command, "the Dockerfile has no CMD (exec form)"
    return image, command, timings


SNAPSHOT = textwrap.dedent(
    """
    import json, sys
    from dagster._core.remote_origin import GrpcServerCodeLocationOrigin, RemoteRepositoryOrigin
    from dagster._grpc.client import DagsterGrpcClient
    from dagster._serdes import deserialize_value

    port, location = int(sys.argv[1]), sys.argv[2]
    client = DagsterGrpcClient(port=port, host="127.0.0.1")
    listed = deserialize_value(client.list_repositories())
    if not hasattr(listed, "repository_symbols"):  # a SerializableErrorInfo: the code did not load
        print(json.dumps({"error": str(listed)}))
        sys.exit(0)
    (symbol,) = listed.repository_symbols
    origin = GrpcServerCodeLocationOrigin(host="127.0.0.1", port=port, location_name=location)
    snap = deserialize_value(client.external_repository(RemoteRepositoryOrigin(origin, symbol.repository_name)))
    print(json.dumps({
        "executable": listed.executable_path,
        "assets": sorted(node.asset_key.to_user_string() for node in snap.asset_nodes),
        "sensors": sorted(sensor.name for sensor in snap.sensors),
        "schedules": sorted(schedule.name for schedule in snap.schedules),
    }))
    """
)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Image, list[str], dict[str, float], float]:
    started = time.monotonic()
    image, command, timings = build(tmp_path_factory.mktemp("image"))
    return image, command, timings, time.monotonic() - started


def test_image_installs_the_lock_and_serves_the_code_location(built, tmp_path: Path) -> None:
    started = time.monotonic()
    image, command, timings, build_s = built
    venv = Path(image.env["UV_PROJECT_ENVIRONMENT"])
    assert (venv / "bin" / "dagster").is_file(), "dagster is not installed in the image's environment"
    assert not (venv / "bin" / "pytest").exists(), "the dev group (pytest) was installed"
    assert (Path(image.env["DAGSTER_HOME"]) / "dagster.yaml").is_file(), "the instance config was not copied"

    # The CMD exactly as written, but for the port; `exec` replaces sh, so the session is the server.
    assert command[:2] == ["sh", "-c"] and command[2].count(f"--port {IMAGE_PORT}") == 1, command
    port = _free_port()
    script = command[2].replace(f"--port {IMAGE_PORT}", f"--port {port}")
    location = shlex.split(script)[shlex.split(script).index("--location-name") + 1]
    env = {**image.env, "HOME": str(image.path("/opt/dagster")), "HEALTH_PIPELINE_HOME": str(tmp_path / "state")}
    dagster = str(venv / "bin" / "dagster")
    log = (tmp_path / "code-server.log").open("w")
    server = subprocess.Popen(
        [*command[:2], script], cwd=image.workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    launched = time.monotonic()
    try:
        serving_at = None
        while time.monotonic() - launched < HEALTHY_WITHIN_S:
            assert server.poll() is None, f"the code server exited ({server.returncode}):\n{_tail(tmp_path)}"
            if not _listening(port):  # cheap, so that the health check's own start-up does not slow the server's
                time.sleep(0.2)
                continue
            check = subprocess.run(
                [dagster, "api", "grpc-health-check", "--host", "127.0.0.1", "--port", str(port)],
                env=env, capture_output=True, text=True, timeout=30,
            )  # fmt: skip
            if check.returncode == 0:
                serving_at = time.monotonic()
                break
            time.sleep(0.5)
        assert serving_at, f"no healthy answer within {HEALTHY_WITHIN_S} s:\n{_tail(tmp_path)}"
        fetched = subprocess.run(
            [str(venv / "bin" / "python"), "-c", SNAPSHOT, str(port), location],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert fetched.returncode == 0, f"{fetched.stderr}\n{_tail(tmp_path)}"
        snapshot = json.loads(fetched.stdout.strip().splitlines()[-1])
        assert "error" not in snapshot, (
            f"the code location did not load (a transient break in health_pipeline?): {snapshot['error']}"
        )
        assert snapshot["executable"] == str(venv / "bin" / "python"), "the server runs outside the image's env"
        assert set(snapshot["assets"]) >= ASSETS, f"assets: {snapshot['assets']}"
        assert set(snapshot["sensors"]) >= SENSORS, f"sensors: {snapshot['sensors']}"
        assert set(snapshot["schedules"]) >= SCHEDULES, f"schedules: {snapshot['schedules']}"
        print(
            f"image test: uv sync {timings} s; healthy {serving_at - launched:.1f} s after the CMD started;"
            f" code location read; total {build_s + time.monotonic() - started:.1f} s"
        )
    finally:
        _stop(server)
        log.close()


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _tail(tmp_path: Path, lines: int = 40) -> str:
    return "\n".join((tmp_path / "code-server.log").read_text(errors="replace").splitlines()[-lines:])


def _stop(server: subprocess.Popen) -> None:
    """SIGTERM to the server's session (the proxy and the code server it spawned), then SIGKILL to
    whatever is left of it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            break
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    server.wait(timeout=10)


def test_image_copies_only_what_the_code_location_needs() -> None:
    """The COPY sources exist and hold no local state or secrets (.env, state files, venvs)."""
    sources = [s for op, args in dockerfile_instructions() if op == "COPY" for s in shlex.split(args)[:-1]]
    assert {"uv.lock", "pyproject.toml", "health_pipeline", "deploy/dagster.yaml", "deploy/workspace.yaml"} <= set(
        sources
    )
    for source in sources:
        assert not any(part.startswith(".") for part in Path(source).parts), f"COPY {source}: a hidden path"
        assert (PROJECT_ROOT / source).exists(), f"COPY {source}: missing"


WORKSPACE_QUERY = """
{ workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError { __typename } } } }
  instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } } }
"""


def _small_task_definition() -> tuple[list[str], dict[str, str]]:
    """The small task's command and its own environment, from terraform/modules/dagster/ecs.tf."""
    with (PROJECT_ROOT / "terraform" / "modules" / "dagster" / "ecs.tf").open(encoding="utf-8") as handle:
        merged: dict = {}
        for block in hcl2.load(handle)["locals"]:
            merged.update(block)

    def resolve(raw: str) -> str:
        text = raw.strip('"')
        local = text.removeprefix("${local.").removesuffix("}")
        return resolve(merged[local]) if text.startswith("${local.") else text

    command = [resolve(part) for part in merged["commands"]["dagster"]]
    environment = {name: resolve(value) for name, value in merged["task_environment"]["dagster"].items()}
    environment["DAGSTER_UI_PORT"] = environment["DAGSTER_UI_PORT"].replace("${tostring(local.webserver_port)}", "3000")
    return command, environment


def test_image_runs_the_small_task(built, tmp_path: Path) -> None:
    from health_pipeline_tests.support.postgres_server import postgres_server

    image, _, _, _ = built
    command, task_environment = _small_task_definition()
    assert command[0] == "bash" and command[1].startswith("/opt/"), command
    home = Path(str(image.path(task_environment["DAGSTER_HOME"])))
    assert "sslmode: require" in (home / "dagster.yaml").read_text(), "the image's small instance config"
    ui_port, code_port = _free_port(), _free_port()
    log_path = tmp_path / "small-task.log"
    with postgres_server(tls=True) as database, log_path.open("w") as log:
        env = {
            **image.env,
            "HOME": str(image.path("/opt/dagster")),
            "HEALTH_PIPELINE_HOME": str(tmp_path / "state"),
            "DAGSTER_HOME": str(home),
            "DAGSTER_UI_PORT": str(ui_port),
            "DAGSTER_CODE_PORT": str(code_port),
            "DAGSTER_PG_HOST": database.host,
            "DAGSTER_PG_PORT": str(database.port),
            "DAGSTER_PG_USERNAME": database.user,
            "DAGSTER_PG_PASSWORD": "",
            "DAGSTER_PG_DB": database.database,
        }
        task = subprocess.Popen(
            [command[0], str(image.path(command[1]))], cwd=image.workdir, env=env, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            answer = _wait_for_healthy_workspace(task, ui_port, log_path)
            (entry,) = answer["workspaceOrError"]["locationEntries"]
            assert (entry["name"], entry["locationOrLoadError"]["__typename"]) == (
                "health_pipeline",
                "RepositoryLocation",
            )
            os.killpg(task.pid, signal.SIGTERM)  # as ECS stops the task
            stopping = time.monotonic()
            task.wait(timeout=30)
            print(f"image test: the small task stopped {time.monotonic() - stopping:.1f} s after SIGTERM")
        finally:
            _stop(task)


def _wait_for_healthy_workspace(task: subprocess.Popen, port: int, log_path: Path) -> dict:
    deadline, answer = time.monotonic() + 180, None
    while time.monotonic() < deadline:
        assert task.poll() is None, f"the small task exited ({task.returncode}):\n{log_path.read_text()[-4000:]}"
        try:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": WORKSPACE_QUERY}).encode(),
                headers={"Content-Type": "application/json"},
            )  # fmt: skip
            with urllib.request.urlopen(request, timeout=10) as response:
                answer = json.loads(response.read())["data"]
        except OSError:
            time.sleep(1)
            continue
        statuses = answer["instance"]["daemonHealth"]["allDaemonStatuses"]
        if answer["workspaceOrError"].get("locationEntries") and all(s["healthy"] for s in statuses if s["required"]):
            return answer
        time.sleep(2)
    raise AssertionError(f"no healthy workspace and daemons within 180 s ({answer}):\n{log_path.read_text()[-4000:]}")
