"""`python main.py load <rid> <file>` on the Google backend: one BigQuery load job replaces the table.

The file is read and checked by the local loader first, in a throwaway local warehouse: the same refusals and
messages, the same column types and NULL handling as a local load, and Parquet (typed, compact) is what reaches
BigQuery. The load job then truncates and refills the table in one step, so the dump function never sees it
missing or half-loaded; a new `modified` time makes the next dump a new revision.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from google.api_core import exceptions as api_errors

from functions.adapters.google import sql as bigquery_sql
from functions.adapters.google.bigquery import API_ERRORS, _unavailable
from functions.adapters.local.warehouse import LocalWarehouse
from functions.core import identifiers
from functions.core.errors import InvalidRequest
from functions.ports import Clock

if TYPE_CHECKING:
    from google.cloud import bigquery

UPLOAD_SHARE = 50.0  # progress: reading and checking the file is the first half, the load job the second


def bigquery_type(arrow_type) -> str:
    """The BigQuery column type a Parquet column of this Arrow type loads into."""
    import pyarrow as pa

    checks = ((pa.types.is_boolean, "BOOLEAN"), (pa.types.is_integer, "INTEGER"), (pa.types.is_floating, "FLOAT"),
              (pa.types.is_decimal, "BIGNUMERIC"), (pa.types.is_date, "DATE"), (pa.types.is_timestamp, "TIMESTAMP"),
              (pa.types.is_time, "TIME"), (pa.types.is_binary, "BYTES"), (pa.types.is_large_binary, "BYTES"))
    for check, name in checks:
        if check(arrow_type):
            return "NUMERIC" if name == "BIGNUMERIC" and arrow_type.precision <= 38 and arrow_type.scale <= 9 else name
    return "STRING"


def parquet_schema(path: Path) -> list:
    import pyarrow.parquet as pq
    from google.cloud import bigquery

    return [bigquery.SchemaField(field.name, bigquery_type(field.type)) for field in pq.read_schema(path)]


class BigQueryLoader:
    """Loads files into `project.dataset`; `client` is a BigQuery client of an identity allowed to write tables
    there (the operator's own credentials: the deployed identities may not)."""

    def __init__(self, client: Callable[[], bigquery.Client], project: str, dataset: str, clock: Clock):
        self._client, self.project, self.dataset, self._clock = client, project, dataset, clock

    def table_path(self, resource_id: str) -> str:
        try:
            table = bigquery_sql.table_id(identifiers.resource_id(resource_id))
        except ValueError:
            raise InvalidRequest(f"{resource_id!r} cannot name a BigQuery table.",
                                 "Use letters, digits, '-' and '_' (a CKAN resource id).") from None
        return f"{self.project}.{self.dataset}.{table}"

    def table_rows(self, resource_id: str) -> int | None:
        """Rows of the table as BigQuery last counted them; None when there is no such table."""
        try:
            return self._client().get_table(self.table_path(resource_id)).num_rows
        except api_errors.NotFound:
            return None
        except API_ERRORS as error:
            raise _unavailable(error) from error

    def load(self, resource_id: str, source: Path, progress: Callable[[float], None] | None = None,
             null_string: str | None = None, **checks) -> datetime:
        """Create or replace the table from a CSV, TSV, NDJSON or Parquet file; returns its new `modified`.
        `checks` (ragged, expected_rows, ...) go to the local loader as they are."""
        from google.cloud import bigquery

        progress = progress or (lambda percent: None)
        path = self.table_path(resource_id)
        with tempfile.TemporaryDirectory(prefix="bqdump-load-") as staging:
            local = LocalWarehouse(Path(staging) / "tables", Path(staging) / "bucket", self._clock, max_jobs=1)
            try:
                local.load(resource_id, source, progress=lambda p: progress(p * UPLOAD_SHARE / 100),
                           null_string=null_string, **checks)
                parquet = local.table_file(resource_id)
            finally:
                local.close()
            client = self._client()
            try:
                # A new table is created with the file's schema first (a load job may create it too, but the
                # BigQuery emulator cannot); WRITE_TRUNCATE then swaps data and schema in one step.
                client.create_table(bigquery.Table(path, schema=parquet_schema(parquet)), exists_ok=True)
                config = bigquery.LoadJobConfig(source_format=bigquery.SourceFormat.PARQUET,
                                                write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE)
                with open(parquet, "rb") as data:
                    job = client.load_table_from_file(data, path, job_config=config, rewind=True)
                job.result()
                progress(UPLOAD_SHARE + 49)
                # Where the table came from, in its description; writing it also moves `modified` where a load
                # alone does not (bqemulator), so the next dump is a new revision on every warehouse.
                table = client.get_table(path)
                table.description = (f"Loaded from {source.name} by bqdump's `main.py load` at "
                                     f"{self._clock.now().isoformat(timespec='seconds')}.")
                modified = client.update_table(table, ["description"]).modified
            except api_errors.BadRequest as error:
                raise InvalidRequest(f"BigQuery refused to load {source.name} into {path}: {error.message}",
                                     "Check the file against the table's columns, or load it under a new "
                                     "resource id.") from None
            except api_errors.Forbidden as error:
                raise InvalidRequest(f"BigQuery refused the load: {error.message}",
                                     f"Use credentials that may write tables in {self.project}.{self.dataset} "
                                     "(roles/bigquery.dataEditor on the dataset and roles/bigquery.jobUser on "
                                     "the project).") from None
            except API_ERRORS as error:
                raise _unavailable(error) from error
        progress(100.0)
        return modified
