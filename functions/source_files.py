"""A file to load into a table, checked before any warehouse reads it.

A loader must load a file faithfully or refuse it: a warehouse left to guess reads a ragged CSV as one text
column, an empty file as an invented column, and stops on a malformed line with its own traceback. So every
row is read here first (streamed, flat memory), and what cannot be loaded as it is gets an `InvalidRequest`
naming the file, the line and what to do. Backend-neutral: the local (DuckDB) and the Google (BigQuery load
job) loaders run the same checks, so the words here name no warehouse.
"""

from __future__ import annotations

import csv
import gzip
import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from functions.core.errors import InvalidRequest

# Every format the loader reads, by file name (csv, tsv and ndjson optionally gzip-compressed).
SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".ndjson": "ndjson", ".jsonl": "ndjson", ".json": "ndjson",
            ".parquet": "parquet", ".pq": "parquet"}
DELIMITERS = {"csv": ",", "tsv": "\t"}
READABLE = (".csv, .tsv, .ndjson (or .jsonl, .json: one JSON object per line) or .parquet; csv, tsv and ndjson "
            "optionally gzip-compressed (.gz)")
RAGGED_CHOICES = ("refuse", "pad")  # pad: a row short of values gets NULL for its missing trailing ones

csv.field_size_limit(2**31 - 1)  # a long text value is data, not an error


@dataclass(frozen=True)
class SourceFormat:
    format: str  # csv, tsv, ndjson, parquet
    gzip: bool

    @property
    def delimiter(self) -> str | None:
        return DELIMITERS.get(self.format)


@dataclass(frozen=True)
class SourceFile:
    """What the checks found: the warehouse loads exactly this many rows of these columns."""

    path: Path
    kind: SourceFormat
    columns: tuple[str, ...]  # the header (csv, tsv), the schema (parquet); ndjson: keys in order of appearance
    rows: int
    padded_rows: int = 0  # rows short of values, loaded with NULLs (ragged="pad")


def source_format(path: Path) -> SourceFormat:
    """The format a file's name says it holds."""
    name = path.name.lower()
    compressed = name.endswith(".gz")
    stem = name[: -len(".gz")] if compressed else name
    fmt = SUFFIXES.get(Path(stem).suffix)
    if fmt is None or (compressed and fmt == "parquet"):
        raise InvalidRequest(f"Cannot tell the format of {path.name!r} from its name.",
                             f"Name the file after its format: {READABLE}.")
    return SourceFormat(fmt, compressed)


def locate(path: Path) -> SourceFormat:
    """The cheap checks, before anything is read: the file exists and its name says a format bqdump reads."""
    if not path.is_file():
        raise InvalidRequest(f"There is no file at {path}.", f"Give the path of a file: {READABLE}.")
    return source_format(path)


def check(path: Path, ragged: str = "refuse") -> SourceFile:
    """Reads the whole file once; refuses what a warehouse could not load as it is."""
    if ragged not in RAGGED_CHOICES:
        raise InvalidRequest(f"Unknown ragged-row choice {ragged!r}.", f"Choose one of {', '.join(RAGGED_CHOICES)}.")
    kind = locate(path)
    if path.stat().st_size == 0:
        raise _empty(path, kind)
    if kind.format == "parquet":
        return _check_parquet(path, kind)
    try:
        if kind.format == "ndjson":
            return _check_ndjson(path, kind)
        return _check_delimited(path, kind, ragged)
    except gzip.BadGzipFile:
        raise InvalidRequest(f"{path.name} is named .gz but is not gzip-compressed.",
                             "Load it without the .gz in its name, or compress it with gzip.") from None
    except (EOFError, zlib.error) as error:
        raise InvalidRequest(f"{path.name}: the gzip-compressed data is cut short or damaged ({error}).",
                             "Copy or download the file again, then check it with: gzip -t FILE") from None


def _text_lines(path: Path, kind: SourceFormat) -> Iterator[str]:
    """The file's lines as text, each decoded on its own so a byte that is not UTF-8 is found on its line."""
    with (gzip.open(path, "rb") if kind.gzip else open(path, "rb")) as raw:
        for number, line in enumerate(raw, 1):
            try:
                text = line.decode()
            except UnicodeDecodeError as error:
                raise InvalidRequest(
                    f"{path.name}, line {number}: not UTF-8 text (byte 0x{line[error.start]:02x}).",
                    "Save the file as UTF-8 (spreadsheets call it \"CSV UTF-8\"), then load it again.") from None
            yield text.removeprefix("\ufeff") if number == 1 else text  # Excel's byte order mark names no column


def _empty(path: Path, kind: SourceFormat) -> InvalidRequest:
    what = {"csv": "a header line naming the columns, then one line per row",
            "tsv": "a header line naming the columns, then one line per row",
            "ndjson": "one JSON object per line, like {\"id\": 1, \"name\": \"ann\"}",
            "parquet": "a Parquet file's data and footer"}[kind.format]
    return InvalidRequest(f"{path.name} is empty: there is nothing to load.", f"Give a file holding {what}.")


def _records(path: Path, kind: SourceFormat) -> Iterator[tuple[int, list[str]]]:
    """(first line, values) of every record; a quoted value may span lines. Blank lines hold no record."""
    assert kind.delimiter is not None, "only csv and tsv are read as records"
    reader = csv.reader(_text_lines(path, kind), delimiter=kind.delimiter, quotechar='"', doublequote=True,
                        strict=True)
    line = 1
    try:
        for values in reader:
            if values:
                yield line, values
            line = reader.line_num + 1
    except csv.Error as error:
        raise InvalidRequest(f"{path.name}, line {reader.line_num}: cannot be read as {kind.format.upper()} ({error}).",
                             "Fix that line: a value holding the delimiter, a quote or a line break needs double "
                             "quotes around it, and a quote inside it is written twice (\"\").") from None


def _check_delimited(path: Path, kind: SourceFormat, ragged: str) -> SourceFile:
    records = _records(path, kind)
    first = next(records, None)
    if first is None:
        raise _empty(path, kind)
    header_line, header = first
    _check_header(path, header_line, header)
    counted = _count_delimited(path, kind, header) if ragged == "refuse" else None  # pad: the scan counts them
    if counted is not None:
        return SourceFile(path, kind, tuple(header), counted)
    return _scan_delimited(path, kind, ragged, records, header_line, header)  # finds the line, and says what


def _count_delimited(path: Path, kind: SourceFormat, header: list[str]) -> int | None:
    """The rows, when every row fits the header; else None. Arrow's parser in C++ reads a well-formed file ~4x
    faster than Python's csv module; it cannot name a bad row's line, so a file it refuses is read again by the
    Python scan, which does. No invalid-row handler: with DuckDB loaded in the process, a Python handler called
    from Arrow's reader aborted the process at exit now and then ("terminate called without an active
    exception"); one thread, and the reader closed, for the same reason."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    stream = pa.input_stream(str(path), compression="gzip" if kind.gzip else None)
    try:
        reader = pa_csv.open_csv(
            stream,
            read_options=pa_csv.ReadOptions(block_size=1 << 22, use_threads=False),
            parse_options=pa_csv.ParseOptions(delimiter=kind.delimiter, quote_char='"', double_quote=True,
                                              newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(column_types={name: pa.string() for name in header}))
        try:
            return sum(batch.num_rows for batch in reader)
        finally:
            reader.close()
    except (pa.ArrowException, OSError, EOFError, ValueError):  # a misfit, not UTF-8, damaged gzip: see the scan
        return None
    finally:
        stream.close()


def _scan_delimited(path: Path, kind: SourceFormat, ragged: str, records: Iterator[tuple[int, list[str]]],
                    header_line: int, header: list[str]) -> SourceFile:
    rows = padded = 0
    for line, values in records:
        rows += 1
        if len(values) == len(header):
            continue
        if len(values) < len(header) and ragged == "pad":
            padded += 1
            continue
        raise _ragged(path, kind, line, len(values), header_line, header)
    return SourceFile(path, kind, tuple(header), rows, padded)


def _check_header(path: Path, line: int, header: list[str]) -> None:
    seen: dict[str, int] = {}
    for number, name in enumerate(header, 1):
        if not name.strip():
            raise InvalidRequest(f"{path.name}, line {line}: column {number} of the header has no name.",
                                 "Name every column in the header line (the first line of the file).")
        earlier = seen.setdefault(name.casefold(), number)  # warehouses compare column names case-insensitively
        if earlier != number:
            raise InvalidRequest(f"{path.name}, line {line}: the header names column {earlier} and column {number} "
                                 f"both {name!r}.",
                                 "Give every column a different name (case does not count) in the header line.")


def _ragged(path: Path, kind: SourceFormat, line: int, count: int, header_line: int,
            header: list[str]) -> InvalidRequest:
    shown = ", ".join(header[:8]) + (", ..." if len(header) > 8 else "")
    message = (f"{path.name}, line {line}: {count} value{'s' if count != 1 else ''}, but the header (line "
               f"{header_line}) names {len(header)} columns ({shown}).")
    delimiter = "a comma" if kind.delimiter == "," else "a tab"
    if count > len(header):
        hint = (f"Fix that line: a value holding {delimiter} needs double quotes around it; or add a column name "
                "to the header.")
    else:
        hint = ("Fix that line, or load with --ragged pad to load rows short of values with NULL for the missing "
                "trailing ones.")
    return InvalidRequest(message, hint)


def _check_ndjson(path: Path, kind: SourceFormat) -> SourceFile:
    keys: dict[str, None] = {}
    rows = 0
    for number, line in enumerate(_text_lines(path, kind), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise _bad_json_line(path, number, line, error) from None
        if not isinstance(record, dict):
            raise InvalidRequest(f"{path.name}, line {number}: a JSON {_json_kind(record)}, not an object.",
                                 "Each line of an NDJSON file is one JSON object, like {\"id\": 1, \"name\": \"ann\"}.")
        keys.update(dict.fromkeys(record))
        rows += 1
    if rows == 0:
        raise _empty(path, kind)
    return SourceFile(path, kind, tuple(keys), rows)


def _bad_json_line(path: Path, number: int, line: str, error: json.JSONDecodeError) -> InvalidRequest:
    message = f"{path.name}, line {number}: not valid JSON ({error.msg}, column {error.colno})."
    if number == 1 and line.lstrip().startswith("["):
        return InvalidRequest(message, "This looks like one JSON array: NDJSON is one JSON object per line, with "
                                       "no [ ] around them or commas between them (jq -c '.[]' converts it).")
    return InvalidRequest(message, "Each line of an NDJSON file is one complete JSON object: fix or remove that "
                                   "line (an object may not span lines).")


def _json_kind(value) -> str:
    return {list: "array", str: "string", bool: "true/false", type(None): "null"}.get(type(value), "number")


def _check_parquet(path: Path, kind: SourceFormat) -> SourceFile:
    import pyarrow.parquet as pq

    with open(path, "rb") as handle:
        head = handle.read(4)
        handle.seek(max(0, path.stat().st_size - 4))
        tail = handle.read(4)
    if head != b"PAR1" or tail != b"PAR1":
        found = "is cut short (it does not end as a Parquet file does)" if head == b"PAR1" else \
            "does not start as a Parquet file does"
        raise InvalidRequest(f"{path.name} is not a Parquet file: it {found}.",
                             f"Check that the file is complete, or name it after its format: {READABLE}.")
    try:
        metadata = pq.ParquetFile(path).metadata
    except Exception as error:  # pyarrow raises several kinds for a damaged footer; all mean the same here
        raise InvalidRequest(f"{path.name}: its Parquet footer cannot be read ({error}).",
                             "Write the file again with a Parquet writer (pyarrow, polars, DuckDB, Spark...).") \
            from None
    return SourceFile(path, kind, tuple(metadata.schema.to_arrow_schema().names), metadata.num_rows)
