"""The Terraform's safety invariants, read offline with python-hcl2, so a careless edit fails CI.

`terraform validate` needs the AWS provider from the registry, which this environment cannot reach;
these checks (plus `terraform fmt` in test_layout.py and checkov in scripts/lint.sh) stand in for it.
Each test file holds the invariants of one area: each a `check_*` function over a `Stack` (a terraform/
tree, with the deploy/ beside it; support/terraform_hcl.py), run on the repository's tree for each
profile, and the careless edits that check must catch, run on edited copies to prove it can fail.
"""

import pytest

from health_pipeline_tests.support.terraform_hcl import TERRAFORM_DIR, Stack


@pytest.fixture(scope="module")
def stack() -> Stack:
    return Stack(TERRAFORM_DIR)
