"""A preflight check's result: its name, PASS / WARN / FAIL, what was found, and what to do."""

from __future__ import annotations

from dataclasses import asdict, dataclass

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"
EXIT_ALL_PASS, EXIT_SOME_FAIL, EXIT_CANNOT_RUN = 0, 1, 2


class PreflightCannotRun(RuntimeError):
    """The preflight cannot run at all (local mode, no credentials); the message says what to set."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str
    detail: str
    remedy: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def line(self) -> str:
        """One line for a person: status, name, what was found, and what to do."""
        return f"{self.status:<4}  {self.name}: {self.detail}" + (f" -> {self.remedy}" if self.remedy else "")


def passed(name: str, detail: str) -> CheckResult:
    return CheckResult(name, PASS, detail)


def warned(name: str, detail: str, remedy: str) -> CheckResult:
    return CheckResult(name, WARN, detail, remedy)


def failed(name: str, detail: str, remedy: str) -> CheckResult:
    return CheckResult(name, FAIL, detail, remedy)


def summary(results: list[CheckResult]) -> str:
    counts = {status: sum(r.status == status for r in results) for status in (PASS, WARN, FAIL)}
    return f"{counts[PASS]} passed, {counts[WARN]} warned, {counts[FAIL]} failed"


def exit_code(results: list[CheckResult]) -> int:
    """0 when nothing failed (warnings allowed), 1 when any check failed."""
    return EXIT_SOME_FAIL if any(r.status == FAIL for r in results) else EXIT_ALL_PASS
