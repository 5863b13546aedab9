"""The vectorised CKAN writers against the per-value writer they replace (tests/support/ckan_writer_oracle.py):
the same bytes for generated tables of every type, with nulls, unicode, control characters, markup and big values,
whatever the batching."""

from datetime import datetime, timezone
from decimal import Decimal

import pyarrow as pa
from hypothesis import HealthCheck, given, settings, strategies as st

from jobs import ckan_writers as new
from tests.support import ckan_writer_oracle as old

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12) | st.sampled_from(
    ["", "&", "<a>", '"', "\\", "\x00", "\x0b\x1f\x7f", "\r\n\t\b\f", "\u2028é漢字😀", "NaN", "x" * 5000])
FLOAT = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -0.0, 1e15, 1e15 - 1, 999999999999999.9, 1e16, 1e-5, 1e-4, 123456789.125, 5e-324, 1e300])
MOMENT = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59))


def column(kind: str):
    """(arrow type, values strategy) for a kind of column."""
    return {
        "int64": (pa.int64(), st.integers(-2**63, 2**63 - 1)),
        "int16": (pa.int16(), st.integers(-2**15, 2**15 - 1)),
        "uint64": (pa.uint64(), st.integers(0, 2**64 - 1)),
        "float64": (pa.float64(), FLOAT),
        "float32": (pa.float32(), st.floats(width=32)),
        "decimal": (pa.decimal128(38, 9), st.decimals(min_value=Decimal("-1e28"), max_value=Decimal("1e28"), places=9,
                                                      allow_nan=False)),
        "decimal0": (pa.decimal128(20, 0), st.decimals(min_value=-10**19, max_value=10**19, places=0,
                                                       allow_nan=False)),
        "text": (pa.string(), TEXT),
        "large_text": (pa.large_string(), TEXT),
        "bool": (pa.bool_(), st.booleans()),
        "timestamp": (pa.timestamp("us"), MOMENT),
        "timestamp_utc": (pa.timestamp("us", tz="UTC"), MOMENT.map(lambda m: m.replace(tzinfo=timezone.utc))),
        "timestamp_ms": (pa.timestamp("ms"), MOMENT.map(lambda m: m.replace(microsecond=m.microsecond // 1000 * 1000))),
        "date": (pa.date32(), st.dates()),
        "time": (pa.time64("us"), st.times()),
        "bytes": (pa.binary(), st.binary(max_size=8)),
        "list_text": (pa.list_(pa.string()), st.lists(st.none() | TEXT, max_size=3)),
        "list_float": (pa.list_(pa.float64()), st.lists(st.none() | FLOAT, max_size=3)),
        "struct": (pa.struct([("a", pa.int64()), ("b", pa.string())]),
                   st.fixed_dictionaries({"a": st.none() | st.integers(-5, 5), "b": st.none() | TEXT})),
        "json": (pa.string(), st.sampled_from(['{"k": [1, null, 2.50], "t": "x<y"}', "3", "true", "null", '"s"',
                                               "not json", "[]", "{}", '{"a": 1e400}'])),
    }[kind]


KINDS = ["int64", "int16", "uint64", "float64", "float32", "decimal", "decimal0", "text", "large_text", "bool",
         "timestamp", "timestamp_utc", "timestamp_ms", "date", "time", "bytes", "list_text", "list_float", "struct",
         "json"]
NAMES = (st.sampled_from(["ID", "Name", "name", "xml x", "2nd", "a b", "café", "a&b", "x$y", "name"])
         | st.text(max_size=6).filter(lambda name: name != "_id"))


@st.composite
def tables(draw):
    rows = draw(st.integers(0, 12))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=0, max_size=6))
    names, arrays, json_columns = [], [], []
    if draw(st.booleans()):
        names.append("_id")
        arrays.append(pa.array(range(1, rows + 1), pa.int64()))
    for index, kind in enumerate(kinds):
        arrow_type, values = column(kind)
        data = draw(st.lists(st.none() | values, min_size=rows, max_size=rows))
        name = f"{draw(NAMES)}{index}" if draw(st.booleans()) else draw(NAMES)
        if name in names:
            name = f"c{index}"
        names.append(name)
        arrays.append(pa.array(data, arrow_type))
        if kind == "json":
            json_columns.append(name)
    return pa.table(arrays, names=names), json_columns, draw(st.integers(1, 5))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(tables(), st.booleans())
def test_the_vectorised_writers_write_the_per_value_writers_bytes(case, bom):
    table, json_columns, batch_rows = case
    batches = table.to_batches(max_chunksize=batch_rows)
    fields = old.ckan_fields(table.schema, json_columns)
    assert new.ckan_fields(table.schema, json_columns) == fields
    assert b"".join(new.json_chunks(batches, fields, bom)) == b"".join(old.json_chunks(batches, fields, bom))
    assert b"".join(new.xml_chunks(batches, fields, bom)) == b"".join(old.xml_chunks(batches, fields, bom))


def test_big_values_and_many_rows():
    text = "é\"<&\n" * 200_000
    table = pa.table({"_id": pa.array(range(3), pa.int64()), "t": [text, None, text[:7]],
                      "f": [1.5, None, 2.0]})
    fields = old.ckan_fields(table.schema)
    for writer in ("json_chunks", "xml_chunks"):
        assert b"".join(getattr(new, writer)(table.to_batches(), fields)) == \
            b"".join(getattr(old, writer)(table.to_batches(), fields))
