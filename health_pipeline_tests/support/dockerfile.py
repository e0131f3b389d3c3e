"""deploy/Dockerfile read as a list of instructions (the image test runs them; the Terraform tests check
what the task definitions expect of them). Imports nothing of health_pipeline: the image test serves
the code from its own environment."""

from pathlib import Path

# The repository, found from this file.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = PROJECT_ROOT / "deploy" / "Dockerfile"


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    steps: list[tuple[str, str]] = []
    pending = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        op, _, args = (pending + stripped).partition(" ")
        steps.append((op.upper(), args.strip()))
        pending = ""
    return steps
