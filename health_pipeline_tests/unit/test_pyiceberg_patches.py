"""The local stream's appends: one snapshot per buffer, several in one catalog commit, on PyIceberg's
own metadata rules (iceberg_append._Transaction applies staged updates without its deep copies)."""

import uuid

import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.io.pyarrow import write_file
from pyiceberg.table.update import update_table_metadata

from health_pipeline.delivery.json_lines import check_lines
from health_pipeline.delivery.line_blocks import LineBlock
from health_pipeline.engines.local.pyiceberg_patches import _Transaction, _write_tasks, append_each, conform_rows
from health_pipeline_tests.support.synthetic_records import jsonl_records


def rows_for(stack, count: int, seed: int) -> pa.Table:
    desired = stack.desired_schema()
    table = stack.table.load_or_create(desired)
    checked = check_lines(LineBlock.of(jsonl_records(count, seed=seed)), desired, producer=True)
    return conform_rows(checked.rows, table)


def test_batches_committed_together_are_a_chain_of_snapshots(stack):
    table = stack.table.load_or_create(stack.desired_schema())
    first = append_each(table, [(rows_for(stack, 500, 1), {"segment": "a"})])
    batches = [(rows_for(stack, 300 + n, 10 + n), {"segment": f"b{n}"}) for n in range(3)]
    ids = append_each(table, batches)

    table = stack.table.load()
    snapshots = {s.snapshot_id: s for s in table.metadata.snapshots}
    chain = first + ids
    assert table.metadata.current_snapshot_id == chain[-1]
    for parent, child in zip(chain, chain[1:]):
        assert snapshots[child].parent_snapshot_id == parent
        assert snapshots[child].sequence_number == snapshots[parent].sequence_number + 1
    assert [snapshots[i].summary.additional_properties["segment"] for i in chain] == ["a", "b0", "b1", "b2"]
    assert int(snapshots[chain[-1]].summary.additional_properties["total-records"]) == 500 + 300 + 301 + 302
    assert table.scan(selected_fields=("user_id",)).to_arrow().num_rows == 1403


def test_the_staged_metadata_is_what_pyiceberg_would_compute(stack):
    table = stack.table.load_or_create(stack.desired_schema())
    append_each(table, [(rows_for(stack, 200, 2), {"segment": "a"})])
    table = stack.table.load()
    metadata = table.metadata
    transaction = _Transaction(table)
    for n in range(3):
        tasks = _write_tasks(metadata.schema(), metadata.spec(), rows_for(stack, 100, 20 + n), uuid.uuid4())
        with transaction.update_snapshot(snapshot_properties={"segment": f"s{n}"}).fast_append() as append:
            for data_file in write_file(table.io, metadata, iter(tasks)):
                append.append_data_file(data_file)
        ours = transaction.table_metadata
        theirs = update_table_metadata(table.metadata, transaction._updates)
        assert ours.model_dump(exclude={"last_updated_ms"}) == theirs.model_dump(exclude={"last_updated_ms"})
        assert len(ours.snapshots) == 2 + n

    # The catalog's commit stages the same metadata (and the next metadata file) as PyIceberg's own.
    catalog = stack.table.catalog()
    staged = [
        stage(catalog, table, table.name(), transaction._requirements, transaction._updates)
        for stage in (type(catalog)._update_and_stage_table, SqlCatalog._update_and_stage_table)
    ]
    assert isinstance(catalog, SqlCatalog) and type(catalog) is not SqlCatalog
    # the same directory and next version (`00002-<fresh uuid>.metadata.json`)
    (ours_dir, ours), (theirs_dir, theirs) = (stage.metadata_location.rsplit("/", 1) for stage in staged)
    assert ours_dir == theirs_dir and ours.split("-")[0] == theirs.split("-")[0] == "00002"
    assert staged[0].metadata.model_dump(exclude={"last_updated_ms"}) == staged[1].metadata.model_dump(
        exclude={"last_updated_ms"}
    )
    assert len(staged[0].metadata.metadata_log) == len(table.metadata.metadata_log) + 1
