"""The health_records table in aws mode: Glue's columns (the catalog view) and the live Iceberg schema
read with PyIceberg's Glue catalog (S3 Tables through its Glue federation)."""

from __future__ import annotations

from typing import Any

from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.table import Table

from health_pipeline.schema.model import TableSchema


class GlueIcebergTable:
    def __init__(
        self,
        glue_client: Any,
        database: str,
        table: str,
        region: str,
        catalog: str = "AwsDataCatalog",
        s3_endpoint: str | None = None,
    ) -> None:
        self.glue = glue_client
        self.database = database
        self.table_name = table
        self.region = region
        self.catalog_name = catalog
        self.s3_endpoint = s3_endpoint
        self._catalog = None

    @property
    def identifier(self) -> str:
        return f"{self.database}.{self.table_name}"

    def _glue_catalog_id(self) -> str | None:
        # S3 Tables are federated into Glue as "<account>:s3tablescatalog/<bucket>"; AwsDataCatalog is the default.
        if self.catalog_name in ("", "AwsDataCatalog"):
            return None
        account = self._account_id()
        return f"{account}:{self.catalog_name}"

    def _account_id(self) -> str:
        import boto3

        return boto3.client("sts", region_name=self.region).get_caller_identity()["Account"]

    def _glue_kwargs(self) -> dict:
        catalog_id = self._glue_catalog_id()
        return {"CatalogId": catalog_id} if catalog_id else {}

    def iceberg_catalog(self):
        if self._catalog is None:
            from pyiceberg.catalog.glue import GlueCatalog

            properties = {"glue.region": self.region, "s3.region": self.region}
            if self.s3_endpoint:
                properties["s3.endpoint"] = self.s3_endpoint
            catalog_id = self._glue_catalog_id()
            if catalog_id:
                properties["glue.id"] = catalog_id
            self._catalog = GlueCatalog("health_pipeline_glue", client=self.glue, **properties)
        return self._catalog

    def catalog_schema(self) -> TableSchema | None:
        """The Glue table's current columns: in the S3 Tables catalog, those of the live Iceberg metadata."""
        try:
            response = self.glue.get_table(DatabaseName=self.database, Name=self.table_name, **self._glue_kwargs())
        except self.glue.exceptions.EntityNotFoundException:
            return None
        return TableSchema.from_glue(response["Table"])

    def live_schema(self) -> TableSchema | None:
        try:
            table = self.iceberg_catalog().load_table((self.database, self.table_name))
        except NoSuchTableError:
            return None
        return TableSchema.from_iceberg(table.schema())

    def iceberg_table(self) -> Table | None:
        """The PyIceberg table (for its snapshots), or None while it does not exist: one catalog read."""
        try:
            return self.load()
        except NoSuchTableError:
            return None

    def load(self):
        return self.iceberg_catalog().load_table((self.database, self.table_name))
