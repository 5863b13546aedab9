"""CKAN's json and xml written in pieces for followers (jobs.ckan_step.write_ckan_pieces): each piece is final as
it lands, in order, and joined they are the bytes of the file written in one go; real Parquet, a real folder."""

from __future__ import annotations

import gzip

import duckdb
import pytest

from functions.adapters.local.object_store import LocalObjectStore
from functions.adapters.local.sql import quote_literal
from functions.core.model import Format, Variant
from jobs import ckan_step


@pytest.fixture
def store(tmp_path):
    source = tmp_path / "rows.parquet"
    duckdb.sql(f"COPY (SELECT range AS _id, 'row ' || range AS label, {{'a': range}}::JSON AS doc "
               f"FROM range(200000)) TO {quote_literal(str(source))} (FORMAT parquet)")
    bucket = LocalObjectStore(tmp_path / "bucket")
    bucket.write_bytes("dumps/t/part-0-0.parquet", source.read_bytes())
    return bucket


@pytest.mark.parametrize("variant", [Variant(Format.JSON), Variant(Format.XML, bom=True),
                                     Variant(Format.JSON, gzip=True)])
def test_the_pieces_joined_are_the_file_written_in_one_go(store, monkeypatch, variant):
    monkeypatch.setattr(ckan_step, "PIECE_BYTES", 50_000)  # many pieces of a small table
    seen: list[list[str]] = []
    parts = ckan_step.write_ckan_pieces(store, ["dumps/t/part-0-0.parquet"], "dumps/t/", variant, ["doc"],
                                        lambda landed: seen.append([o.name for o in landed]))
    names = [o.name for o in parts]
    # gzip: pieces end between gzip members (several MB of json each), so this small table is one piece
    assert len(names) > (0 if variant.gzip else 3)
    assert seen == [names[:n] for n in range(1, len(names) + 1)]  # told of each, in order
    ckan_step.write_ckan_file(store, ["dumps/t/part-0-0.parquet"], "dumps/t/whole", variant, ["doc"],
                              "dumps/t/.scratch-whole")
    joined = b"".join(store.read_bytes(name) for name in names)
    assert joined == store.read_bytes("dumps/t/whole")
    if variant.gzip:
        assert gzip.decompress(joined).startswith(b"{")
