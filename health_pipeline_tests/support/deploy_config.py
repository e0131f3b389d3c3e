"""deploy/: the production instance's configuration as the tests read it."""

from typing import Any

import yaml

from health_pipeline.settings import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"


def production_config() -> dict[str, Any]:
    """deploy/dagster.yaml, parsed afresh (callers edit their copy)."""
    return yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
