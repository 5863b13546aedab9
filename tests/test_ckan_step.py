"""The worker's JSON/XML step over several exported Parquet files in a real folder bucket: one document, rows in
file order, gzip as one member, the BOM once, and no scratch object left behind."""

from __future__ import annotations

import gzip
import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from functions.adapters.local.object_store import LocalObjectStore
from functions.core.model import Format, Variant
from jobs.ckan_step import write_ckan_file
from jobs.ckan_writers import ckan_fields, json_chunks, parquet_batches, xml_chunks

PREFIX = "dumps/t/q/0123456789abcdef/json/1/1/"


def shards(store, count=3, rows=5000):
    names = []
    for index in range(count):
        table = pa.table({"_id": pa.array(range(index * rows, (index + 1) * rows), pa.int64()),
                          "name": [f"n{i}" if i % 3 else None for i in range(rows)]})
        sink = io.BytesIO()
        pq.write_table(table, sink, row_group_size=1000)
        names.append(f"{PREFIX}part-{index}.parquet")
        store.write_bytes(names[-1], sink.getvalue(), "application/vnd.apache.parquet")
    return names


@pytest.mark.parametrize("fmt,writer", [(Format.JSON, json_chunks), (Format.XML, xml_chunks)])
@pytest.mark.parametrize("packed,bom", [(False, False), (True, True)])
def test_several_parquet_files_become_one_ckan_document(tmp_path, fmt, writer, packed, bom):
    store = LocalObjectStore(tmp_path / "bucket")
    names = shards(store)
    variant = Variant(fmt, gzip=packed, bom=bom)
    destination = f"{PREFIX}download.{variant.extension}"
    write_ckan_file(store, names, destination, variant, [], f"{PREFIX}.scratch-x")
    whole = pa.concat_tables(pq.read_table(io.BytesIO(store.read_bytes(n))) for n in names)
    sink = io.BytesIO()
    pq.write_table(whole, sink)
    sink.seek(0)
    expected = b"".join(writer(parquet_batches(sink), ckan_fields(whole.schema), bom=bom))
    written = store.read_bytes(destination)
    if packed:
        assert written[:2] == b"\x1f\x8b"
        written = gzip.decompress(written)
    assert written == expected
    assert [o.name for o in store.list(PREFIX)] == sorted(names + [destination])  # no scratch left
