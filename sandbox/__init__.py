"""An AWS sandbox on 127.0.0.1 for the aws mode (`make sandbox`): development tooling, never imported
by health_pipeline. moto in server mode, with an Athena that enforces Athena's documented rules and
executes SELECT, DELETE and ADD COLUMNS on the Iceberg table, and a Firehose whose Iceberg
destination delivers into it (docs/operations/sandbox.md)."""
