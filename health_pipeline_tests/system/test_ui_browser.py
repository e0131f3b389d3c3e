"""The Dagster UI as an operator meets it, in a real browser: `make dev` (dg dev on a free loopback
port) over demo data, driven by Playwright for Python in Debian's Chromium (/usr/bin/chromium; no
browser is downloaded). Screenshots go to test-artifacts/ui/ (HEALTH_PIPELINE_TEST_ARTIFACTS)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from health_pipeline.settings import PROJECT_ROOT
from health_pipeline_tests.support import CLI, free_loopback_port
from health_pipeline_tests.support.s3tables_columns import set_column

CHROMIUM = Path("/usr/bin/chromium")
# Off the network: this machine has none, and Chromium's background services would keep trying.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
DG = str(Path(sys.executable).parent / "dg")  # `make dev` runs `dg dev`: the same command, the same project
DESIGN_ASSETS = {
    "firehose_delivery",
    "health_records",
    "iceberg_schema",
    "daily_health_summary",
    "daily_summary_csv",
    "table_maintenance",
}
ARTIFACTS = Path(os.environ.get("HEALTH_PIPELINE_TEST_ARTIFACTS", PROJECT_ROOT / "test-artifacts")) / "ui"


def graphql(url: str, query: str) -> dict:
    request = urllib.request.Request(
        f"{url}/graphql", data=json.dumps({"query": query}).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


def runs(url: str, job: str) -> dict[str, str]:
    data = graphql(
        url, '{ runsOrError(filter: {pipelineName: "%s"}) { ... on Runs { results { runId status } } } }' % job
    )
    return {run["runId"]: run["status"] for run in data["runsOrError"]["results"]}


def wait_for_success(url: str, job: str, ignore: set[str], timeout_s: float) -> str:
    """The id of the first run of `job` not in `ignore` once it succeeded; fails at once if it failed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for run_id, status in runs(url, job).items():
            if run_id in ignore:
                continue
            assert status not in ("FAILURE", "CANCELED"), f"{job} run {run_id} ended {status}"
            if status == "SUCCESS":
                return run_id
        time.sleep(1)
    raise AssertionError(f"no {job} run succeeded within {timeout_s:.0f} s: {runs(url, job)}")


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory):
    """`make dev` over demo data, with Terraform declaring a column the table lacks (`terraform apply`
    has run, the Iceberg metadata has not followed): schema_drift_sensor will start the migration."""
    if not CHROMIUM.exists():
        pytest.fail("Debian's Chromium is missing: `apt-get install chromium` (.ci/run does it)")
    root = tmp_path_factory.mktemp("ui")
    home, terraform = root / "home", root / "terraform"
    shutil.copytree(PROJECT_ROOT / "terraform" / "modules" / "s3tables", terraform / "modules" / "s3tables")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEALTH_PIPELINE_", "DAGSTER_"))}
    env.update(
        HEALTH_PIPELINE_HOME=str(home), DAGSTER_HOME=str(home / "dagster"), HEALTH_PIPELINE_TERRAFORM_DIR=str(terraform)
    )
    demo = subprocess.run([*CLI, "demo", "--users", "20", "--days", "2"], env=env, cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=180)  # fmt: skip
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert not re.findall(r".*(?:Beta|Preview)Warning.*", demo.stderr), demo.stderr  # none shown to a newcomer
    set_column(terraform, "sleep_hours", "double")

    port = free_loopback_port()
    launched = time.monotonic()
    log = (root / "dagster-dev.log").open("wb")
    server = subprocess.Popen([DG, "dev", "-h", "127.0.0.1", "-p", str(port)],
                              env=env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/server_info", timeout=5)
                break
            except OSError:
                assert server.poll() is None, (root / "dagster-dev.log").read_text(errors="replace")[-3000:]
                assert time.monotonic() < deadline, "dg dev did not serve within 120 s"
                time.sleep(1)
        print(f"dg dev serving after {time.monotonic() - launched:.1f} s", file=sys.stderr)
        yield url, datetime.now(ZoneInfo("Asia/Tokyo")).date() - timedelta(days=1)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def page():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport={"width": 1920, "height": 1200})
        context.set_default_timeout(30_000)
        yield context.new_page()
        browser.close()


def dismiss_welcome(page: Page) -> None:
    """Dagster's first-visit newsletter dialog, if it shows."""
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(timeout=3_000)
        skip.click()
    except Exception:
        pass


def test_an_operator_sees_the_graph_launches_a_partition_and_clears_staleness_after_a_migration(dagster_dev, page):
    url, day = dagster_dev
    started = time.monotonic()
    phase = lambda name: print(f"{name}: {time.monotonic() - started:.1f} s", file=sys.stderr)  # noqa: E731

    # The asset graph shows every asset of the design, reading left to right as the pipeline does.
    page.goto(f"{url}/asset-groups")
    dismiss_welcome(page)
    page.keyboard.press("Alt+e")  # expand all groups
    names = page.locator("svg [class*=AssetNode_assetName]")
    expect(names).to_have_count(len(DESIGN_ASSETS), timeout=30_000)  # the graph lays out after the page loads
    assert set(names.all_inner_texts()) == DESIGN_ASSETS
    x = {
        name: page.locator("svg [class*=AssetNode_assetName]", has_text=name).first.bounding_box()["x"]
        for name in DESIGN_ASSETS
    }
    assert x["health_records"] < x["iceberg_schema"] < x["daily_health_summary"] < x["daily_summary_csv"]
    assert x["firehose_delivery"] < x["health_records"] < x["table_maintenance"]  # the stream fills the table
    page.screenshot(path=ARTIFACTS / "1-asset-graph.png")

    # The drift sensor migrates the table; the summaries built on the old schema then show as stale.
    phase("graph")
    wait_for_success(url, "schema_migration", set(), timeout_s=120)
    phase("migration")
    partition_page = f"{url}/assets/daily_health_summary?view=partitions&partition={day.isoformat()}"
    page.goto(partition_page)
    expect(page.get_by_text("Unsynced", exact=False)).to_be_visible()
    page.screenshot(path=ARTIFACTS / "2-stale-after-migration.png")

    # The operator re-materializes that day from the UI: the run succeeds and the staleness clears.
    before = set(runs(url, "__ASSET_JOB"))
    page.goto(f"{url}/assets/daily_health_summary")
    dialog = page.get_by_role("dialog")
    for _ in range(3):  # an overlay still fading in (seen once) can take the first click
        try:
            page.get_by_role("button", name="Materialize…").click(timeout=10_000)
            break
        except PlaywrightTimeoutError:
            if dialog.count():  # the click that timed out opened it after all
                break
    partitions = dialog.get_by_placeholder("No matching partitions")
    partitions.fill(day.isoformat())
    page.keyboard.press("Enter")  # the input keeps the focus; its placeholder may change once filled
    for attempt in range(3):  # a late overlay (the first-visit dialog, a fading popover) can take the click
        try:
            dialog.get_by_role("button", name="Launch 1 run").click(timeout=15_000)
            break
        except PlaywrightTimeoutError:
            if attempt == 2:
                page.screenshot(path=ARTIFACTS / "launch-click-failed.png")
                raise
            dismiss_welcome(page)
    phase("launched")
    run_id = wait_for_success(url, "__ASSET_JOB", before, timeout_s=120)
    phase("run succeeded")
    page.goto(f"{url}/runs/{run_id}")
    expect(page.get_by_text("Success").first).to_be_visible()
    page.screenshot(path=ARTIFACTS / "3-run-from-the-ui.png")
    page.goto(partition_page)
    expect(page.get_by_text("Materialized").first).to_be_visible()
    expect(page.get_by_text("Unsynced", exact=False)).to_have_count(0)
    page.screenshot(path=ARTIFACTS / "4-fresh-after-rematerialization.png")
