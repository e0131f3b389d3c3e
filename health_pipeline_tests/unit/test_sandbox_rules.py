"""The sandbox's own reading of Athena's rules and result text, without a server."""

from __future__ import annotations

import pytest

from sandbox.athena_results import java_double
from sandbox.athena_rules import WorkgroupSettings, check_statement, placeholders_outside_where, statement_kind

CONTEXT = {"catalog": "AwsDataCatalog", "catalog_exists": True, "database": "d", "database_exists": True}


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("-- a comment\nWITH x AS (SELECT 1) SELECT * FROM x", "SELECT"),
        ("(SELECT 1)", "SELECT"),
        ("INSERT INTO t SELECT * FROM u", "INSERT"),
        ("CREATE TABLE t AS SELECT 1", "CTAS"),
        ("CREATE TABLE t (a int)", "CREATE TABLE"),
        ("create or replace view v as select 1", "CREATE VIEW"),
        ("ALTER TABLE t ADD COLUMNS (a int)", "ALTER TABLE"),
        ("ALTER TABLE t RENAME TO u", "ALTER TABLE RENAME"),
        ("ALTER SCHEMA s SET DBPROPERTIES ('a'='b')", "ALTER DATABASE"),
        ("DELETE FROM t WHERE a = 'SELECT'", "DELETE"),
        ("UNLOAD (SELECT 1) TO 's3://b/p/' WITH (format = 'PARQUET')", "UNLOAD"),
        ("OPTIMIZE t REWRITE DATA USING BIN_PACK", "OPTIMIZE"),
    ],
)
def test_statement_kinds(sql, kind):
    assert statement_kind(sql) == kind


def test_a_placeholder_counts_as_in_where_anywhere_under_a_where_and_nowhere_else():
    assert placeholders_outside_where("SELECT a FROM t WHERE b IN (SELECT c FROM u WHERE d > ?) AND e < ?") == []
    assert placeholders_outside_where("WITH w AS (SELECT a FROM t WHERE b > ?) SELECT * FROM w") == []
    assert placeholders_outside_where("SELECT a FROM t WHERE b > ? LIMIT ?") == [1]
    assert placeholders_outside_where("SELECT '?' AS q, CASE WHEN a > ? THEN 1 END FROM t WHERE b = ?") == [0]


def test_unload_and_insert_take_parameters_and_ddl_does_not():
    assert check_statement("INSERT INTO t SELECT * FROM u WHERE a = ?", ["1"], WorkgroupSettings(), **CONTEXT) is None
    refused = check_statement("ALTER TABLE t ADD COLUMNS (a int)", ["1"], WorkgroupSettings(), **CONTEXT)
    assert refused is not None and "not for ALTER TABLE" in refused.message


@pytest.mark.parametrize(
    ("value", "text"),
    [(2.0, "2.0"), (3.667, "3.667"), (1e-4, "1.0E-4"), (-0.00012, "-1.2E-4"), (12345678.0, "1.2345678E7"),
     (9999999.0, "9999999.0"), (0.001, "0.001"), (float("nan"), "NaN"), (float("-inf"), "-Infinity")],
)  # fmt: skip
def test_doubles_are_written_as_java_writes_them(value, text):
    assert java_double(value) == text
