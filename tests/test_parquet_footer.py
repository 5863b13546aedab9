"""bqdump's description of the Parquet footer (jobs/parquet_footer.thrift) is complete for what real writers
emit: their footers read and write back byte for byte, so joining footers loses nothing."""

from __future__ import annotations

import struct
from datetime import datetime, timezone
from decimal import Decimal

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs import parquet_footer


def footer_of(path) -> bytes:
    data = path.read_bytes()
    length = struct.unpack("<I", data[-8:-4])[0]
    return data[-8 - length:-8]


def rich_table() -> pa.Table:
    """Every kind of column that gives the footer something to say: logical types, nesting, nulls."""
    return pa.table({
        "id": pa.array(range(1000), pa.int64()),
        "small": pa.array([i % 100 for i in range(1000)], pa.int8()),
        "name": pa.array([None if i % 7 == 0 else f"n{i % 13}" for i in range(1000)]),
        "price": pa.array([Decimal(i) / 100 for i in range(1000)], pa.decimal128(12, 2)),
        "at": pa.array([datetime(2024, 1, 1, tzinfo=timezone.utc)] * 1000, pa.timestamp("us", tz="UTC")),
        "day": pa.array([datetime(2024, 1, 1).date()] * 1000, pa.date32()),
        "tags": pa.array([[f"t{i % 3}", "x"] for i in range(1000)], pa.list_(pa.string())),
        "ratio": pa.array([i / 3 for i in range(1000)], pa.float64()),
    })


@pytest.mark.parametrize("options", [
    {},
    {"write_page_index": True},
    {"write_page_index": True, "compression": "zstd", "row_group_size": 100, "write_statistics": True},
    {"use_dictionary": False, "data_page_version": "2.0", "store_schema": False},
], ids=["defaults", "page-index", "zstd-groups", "plain-v2"])
def test_pyarrow_footers_round_trip_byte_for_byte(tmp_path, options):
    path = tmp_path / "t.parquet"
    pq.write_table(rich_table(), path, **options)
    footer = footer_of(path)
    parsed = parquet_footer.parse_footer("t", footer)
    assert parquet_footer.tail_bytes(parsed) == footer + struct.pack("<I", len(footer)) + b"PAR1"


def test_duckdb_footers_round_trip_byte_for_byte(tmp_path):
    """DuckDB writes bloom filters and its own statistics: what the local warehouse's exports carry."""
    path = tmp_path / "d.parquet"
    with duckdb.connect() as con:
        con.register("t", rich_table())
        con.execute(f"COPY (SELECT * FROM t) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 250)")
    footer = footer_of(path)
    parsed = parquet_footer.parse_footer("d", footer)
    assert any(c.meta_data.bloom_filter_offset for g in parsed.row_groups for c in g.columns)
    assert parquet_footer.tail_bytes(parsed) == footer + struct.pack("<I", len(footer)) + b"PAR1"
