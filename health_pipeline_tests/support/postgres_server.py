"""A real PostgreSQL server for tests: the machine's Debian PostgreSQL (initdb, pg_ctl, postgres on
PATH or in /usr/local/bin), in a temporary directory, on a free loopback port, trust auth for the
test's own user only. As root, the server runs as the `postgres` user (initdb refuses root). With
`tls=True` it also takes TLS connections (a throwaway self-signed certificate made with openssl), so
that an instance config with `sslmode: require`, as RDS needs, connects to it unchanged."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from health_pipeline_tests.support import free_loopback_port


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    database: str


def _binary(name: str) -> str:
    found = shutil.which(name) or next(
        (
            str(p)
            for p in (Path("/usr/local/bin") / name, *Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
            if p.exists()
        ),
        None,
    )
    if found is None:
        raise RuntimeError(f"{name} not found: install Debian's postgresql package (`.ci/run` does)")
    return found


@contextmanager
def postgres_server(database: str = "dagster", tls: bool = False) -> Iterator[PostgresServer]:
    root = Path(tempfile.mkdtemp(prefix="hp-postgres-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, log = root / "data", root / "server.log"
    port = free_loopback_port()
    try:
        subprocess.run([*as_user, _binary("initdb"), "-D", str(data), "-U", "dagster", "--auth=trust", "-E", "UTF8"],
                       check=True, capture_output=True)  # fmt: skip
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        if tls:
            subprocess.run(
                [*as_user, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                 "/CN=127.0.0.1", "-keyout", str(data / "server.key"), "-out", str(data / "server.crt")],
                check=True, capture_output=True,
            )  # fmt: skip
            options += " -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key"
        subprocess.run(
            [*as_user, _binary("pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "start", "-o", options],
            check=True,
            capture_output=True,
        )
        import psycopg2

        deadline = time.monotonic() + 30
        while True:
            try:
                connection = psycopg2.connect(host="127.0.0.1", port=port, user="dagster", dbname="postgres")
                break
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{database}"')
        connection.close()
        yield PostgresServer("127.0.0.1", port, "dagster", database)
    finally:
        subprocess.run(
            [*as_user, _binary("pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)
