#!/usr/bin/env python3
"""Turn `terraform output -json` of terraform/envs/prod into the environment of the `aws` mode.

    terraform -chdir=terraform/envs/prod output -json | python3 scripts/terraform_outputs_env.py > prod.env
    set -a; . ./prod.env; set +a

Each output named after a setting (health_pipeline_catalog, aws_region, ...) becomes
`export HEALTH_PIPELINE_CATALOG=...`; HEALTH_PIPELINE_MODE=aws is added. The `dagster_*` outputs (the
role, the UI's address, the cluster, log groups, ...) and the `producer_*` ones (the producer Lambda's
URL, name and log group) are not settings of the code: they are printed as comments, for the
operator who deploys Dagster and the app.
"""

from __future__ import annotations

import json
import shlex
import sys

OPERATOR_PREFIXES = ("dagster_", "producer_")
SETTING_PREFIXES = ("health_pipeline_", "aws_")


def export_lines(outputs: dict) -> list[str]:
    """`export NAME=value` lines for every setting output, sorted, plus the mode."""
    lines = ["export HEALTH_PIPELINE_MODE=aws"]
    for name in sorted(outputs):
        value = outputs[name].get("value") if isinstance(outputs[name], dict) else None
        if name.startswith(OPERATOR_PREFIXES):
            lines.append(f"# {name}: {json.dumps(value, ensure_ascii=False)}")
            continue
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ValueError(f"output {name!r} is not a plain value ({value!r}); run `terraform apply` first.")
        if name.startswith(SETTING_PREFIXES):
            lines.append(f"export {name.upper()}={shlex.quote(str(value))}")
        else:
            raise ValueError(f"output {name!r} is not a setting of health-pipeline; name it after its variable.")
    return lines


def main() -> int:
    try:
        outputs = json.load(sys.stdin)
        if not isinstance(outputs, dict) or not outputs:
            raise ValueError("no outputs; run `terraform apply` in terraform/envs/prod first.")
        print("\n".join(export_lines(outputs)))
    except (ValueError, json.JSONDecodeError) as err:
        print(f"terraform_outputs_env: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
