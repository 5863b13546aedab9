"""CKAN's JSON and XML dump files, written from exported Parquet record batches, one byte chunk per batch.

The bytes are exactly what ckanext/datastore/writer.py writes for the values datastore_search gives it
(PostgreSQL's JSON of each value, decoded and re-encoded): see docs/ckan-dump-compat.md. Parquet feeds these
writers because it keeps types (integers, floats, decimals, booleans, timestamps, nulls, nesting) that CSV or
BigQuery's NDJSON (INT64 as strings) would lose. Memory is one record batch at a time, whatever the table's size.

This module is what the worker's step (jobs.ckan_step), the tests and the benchmark use. The writers themselves:
jobs.ckan_json and jobs.ckan_xml, over one vectorised renderer (jobs.ckan_render: a DuckDB SELECT per batch) and
CKAN's column types and value rules (jobs.ckan_values).
"""

from __future__ import annotations

from typing import Iterable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from jobs.ckan_json import JSON_TAIL, json_chunks, json_head, json_rows
from jobs.ckan_render import RENDER_THREADS
from jobs.ckan_values import BOM, ckan_fields, ckan_type
from jobs.ckan_xml import XML_TAIL, XSI_NAMESPACE, xml_chunks, xml_element_names, xml_head, xml_rows

__all__ = ["BATCH_ROWS", "BOM", "JSON_TAIL", "RENDER_THREADS", "XML_TAIL", "XSI_NAMESPACE", "ckan_fields", "ckan_type",
           "json_chunks", "json_head", "json_rows", "parquet_batches", "with_bom", "xml_chunks", "xml_element_names",
           "xml_head", "xml_rows"]


BATCH_ROWS = 65_536  # rows per DuckDB statement: large enough to hide its ~1 ms per statement, small in memory


def parquet_batches(source, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """Record batches of a Parquet file (path or binary file object), read one row group slice at a time."""
    yield from pq.ParquetFile(source).iter_batches(batch_size=batch_rows)


def with_bom(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """CSV and TSV with CKAN's bom=True: a UTF-8 byte order mark before the first byte."""
    yield BOM
    yield from chunks
