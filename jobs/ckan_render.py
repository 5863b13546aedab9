"""The vectorised renderer of CKAN's JSON and XML rows (jobs.ckan_json, jobs.ckan_xml give it a row's parts).

Each batch's rows are rendered as text by one DuckDB SELECT over the Arrow batch (a string expression per scalar
column), and the batch's bytes are the data buffer of the resulting string column, with no Python per value.
Nested, JSON and unusual columns keep a per-value Python renderer, joined in by Arrow.
"""

from __future__ import annotations

import functools
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc

from jobs.ckan_values import quote_literal


RENDER_THREADS = os.cpu_count() or 1
PythonPart = Callable[[pa.Array], list]  # one column's values -> their texts


# ("sql", expression, careful expression, column name or None) | ("py", column name, PythonPart). The careful
# expression is for a batch whose column holds a control character DuckDB's to_json spells differently.
Part = tuple


def sql_part(expression: str) -> Part:
    return ("sql", expression, expression, None)


def literal_part(text: str) -> Part:
    return sql_part(quote_literal(text))


def rendered(batches: Iterable[pa.RecordBatch], fields: list[dict],
             row_parts: Callable[[pa.Schema, list[dict]], list[Part]]) -> Iterator[bytes]:
    """Each non-empty batch's rows, rendered and concatenated: one bytes object per batch, in order. Batches are
    rendered on RENDER_THREADS threads (DuckDB releases the GIL), at most one more batch in flight than threads."""
    plan = None
    with ThreadPoolExecutor(RENDER_THREADS, thread_name_prefix="ckan-render") as pool:
        in_flight: deque = deque()
        for batch in batches:
            if plan is None:
                plan = _Plan(row_parts(batch.schema, fields))
            if batch.num_rows:
                in_flight.append(pool.submit(plan.render, batch))
            if len(in_flight) > RENDER_THREADS:
                yield in_flight.popleft().result()
        while in_flight:
            yield in_flight.popleft().result()


class _Plan:
    """The row's parts with neighbouring SQL parts merged into one SELECT column each (one `concat` a row)."""

    def __init__(self, parts: list[Part]):
        self.columns: list[tuple] = []  # ("sql", index into the SELECT) | ("py", name, renderer)
        self.checked = [part[3] for part in parts if part[0] == "sql" and part[3] is not None]
        fast: list[str] = []
        careful: list[str] = []
        pending: list[Part] = []
        for part in parts + [("end",)]:
            if part[0] == "sql":
                pending.append(part)
                continue
            if pending:
                self.columns.append(("sql", len(fast)))
                fast.append(_concat_sql([p[1] for p in pending]))
                careful.append(_concat_sql([p[2] for p in pending]))
                pending = []
            if part[0] == "py":
                self.columns.append(part)
        self.fast, self.careful = _select_sql(fast), _select_sql(careful)

    def render(self, batch: pa.RecordBatch) -> bytes:
        select = self.fast
        if any(_has_hex_letter_control(batch.column(name)) for name in self.checked):
            select = self.careful
        selected = _select(select, batch) if select else None
        texts = []
        for column in self.columns:
            if column[0] == "sql":
                assert selected is not None  # a sql column means the plan has a select
                texts.append(_one_array(selected.column(column[1])))
            else:
                texts.append(pa.array(column[2](batch.column(column[1])), pa.large_string()))
        rows = texts[0] if len(texts) == 1 else pc.binary_join_element_wise(*texts, pa.scalar("", pa.large_string()))
        return _concatenated(rows)


def _concat_sql(expressions: list[str]) -> str:
    return expressions[0] if len(expressions) == 1 else f"concat({', '.join(expressions)})"


def _select_sql(expressions: list[str]) -> str | None:
    if not expressions:
        return None
    return "SELECT " + ", ".join(f"{e} AS s{i}" for i, e in enumerate(expressions)) + " FROM batch"


def _one_array(column: pa.ChunkedArray) -> pa.Array:
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def _select(sql: str, batch: pa.RecordBatch) -> pa.Table:
    with _database().cursor() as cursor:
        cursor.register("batch", pa.RecordBatch.from_arrays(batch.columns, [f"c{i}" for i in range(batch.num_columns)]))
        return cursor.sql(sql).to_arrow_table()


@functools.lru_cache(maxsize=1)
def _database():
    import duckdb

    database = duckdb.connect()
    database.execute("SET TimeZone = 'UTC'")  # zoned timestamps print as UTC wall time
    database.execute("SET arrow_large_buffer_size = true")  # a batch of big values may pass 2 GiB of text
    return database


def _concatenated(rows: pa.Array) -> bytes:
    """The texts of a string array end to end: the slice of its data buffer its offsets span."""
    if rows.null_count:
        raise ValueError("a rendered row is null")  # a renderer missed a null: never write a short file
    rows = rows.cast(pa.large_string())
    _, offsets, data = rows.buffers()
    first = int.from_bytes(offsets[rows.offset * 8:rows.offset * 8 + 8], "little", signed=True)
    last = int.from_bytes(offsets[(rows.offset + len(rows)) * 8:(rows.offset + len(rows)) * 8 + 8], "little",
                          signed=True)
    return data[first:last].to_pybytes() if data is not None else b""


_HEX_LETTER_CONTROLS = bytes([0x0b, 0x0e, 0x0f, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f])  # to_json: \u001F; Python: \u001f
_MARK_HEX_LETTER_CONTROLS = bytes(0 if b in _HEX_LETTER_CONTROLS else 1 for b in range(256))


def _has_hex_letter_control(array: pa.Array) -> bool:
    """Whether a text column's bytes hold a control character that DuckDB's to_json escapes in capitals (its
    whole data buffer is scanned, a byte table at memory speed; rare, and then the batch takes the careful path)."""
    data = array.buffers()[2]
    return data is not None and 0 in data.to_pybytes().translate(_MARK_HEX_LETTER_CONTROLS)
