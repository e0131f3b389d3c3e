"""The schema migration: re-read, apply only what is safe (or confirmed), verify, report.

The same procedure serves both modes; what differs is behind `SchemaTarget`: PyIceberg's
update_schema locally, Athena DDL in aws mode (never Terraform alone: it does not touch Iceberg).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from health_pipeline.schema.drift import NEEDS_PERSON, DriftItem
from health_pipeline.schema.model import Column
from health_pipeline.schema.plan import LAYOUT, MigrationPlan
from health_pipeline.stack import SchemaTarget


class MigrationRefused(RuntimeError):
    """The plan holds changes that must not be applied as asked; the message gives the steps instead."""


class MigrationNotVerified(RuntimeError):
    """The change was applied but the live schema or the test query does not show it."""


@dataclass
class MigrationOutcome:
    before: MigrationPlan
    after: MigrationPlan
    applied: list[str] = field(default_factory=list)
    verification: dict = field(default_factory=dict)
    left_for_a_person: list[DriftItem] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.applied)


def migrate(target: SchemaTarget, confirm: str | None = None, log: Callable[[str], None] = print) -> MigrationOutcome:
    """Apply the additive part of the live plan; with `confirm` equal to the plan's fingerprint, also the
    allowed promotions. Anything else that needs a person is left, with its reason, never applied."""
    plan = target.read_plan()  # re-read: a re-run after a partial success or a concurrent change converges
    log(f"plan {plan.fingerprint}: {plan.state}, {len(plan.additive)} additive, {len(plan.needs_person)} for a person")
    if plan.live is None:
        raise MigrationRefused(
            f"table {plan.table} does not exist yet; it is created from Terraform on the first delivery, so there"
            " is nothing to migrate"
        )
    if confirm and confirm != plan.fingerprint:
        raise MigrationRefused(
            f"confirm={confirm!r} does not match the current plan {plan.fingerprint}: the schema changed since it was"
            " reviewed. Run `health-pipeline schema status` again and confirm the new fingerprint."
        )
    # A layout that differs is left for a person, as a refused column change is; it does not stop the
    # confirmed promotions (a different part of the table's metadata).
    refused = [item for item in plan.items if item.kind == NEEDS_PERSON and item.column != LAYOUT]
    if confirm and refused:
        steps = "\n".join(f"- {item.reason}" for item in refused)
        raise MigrationRefused(
            f"Iceberg cannot make these changes in place; nothing was applied. Steps instead:\n{steps}"
        )
    added = plan.added_columns()
    promoted = [Column(i.column, i.wanted_type) for i in plan.promotions] if confirm else []
    applied = target.apply(plan, added, promoted) if (added or promoted) else []
    for line in applied:
        log(f"applied: {line}")

    after = target.read_plan()
    expected = {c.name: c.glue_type for c in [*added, *promoted]}
    live_types = {c.name: c.glue_type for c in (after.live.columns if after.live else ())}
    wrong = {name: live_types.get(name) for name, glue_type in expected.items() if live_types.get(name) != glue_type}
    if wrong:
        raise MigrationNotVerified(
            f"after the migration the live schema of {plan.table} does not show {wrong} as planned ({expected});"
            " re-run the schema_migration job (it re-reads the state) or inspect the table"
        )
    verification = target.verify_query(after, sorted(expected)) if expected else {}
    left = after.needs_person
    return MigrationOutcome(plan, after, applied, verification, left)
