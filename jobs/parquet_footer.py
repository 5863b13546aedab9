"""Parquet footers from bytes to bytes (no store I/O; the IDL file is read once, on first use): read one from
a file's tail, and join the footers of several files into the footer of their concatenation.

Readers find row groups only through the footer, by absolute offsets. So files concatenated whole and
followed by one footer holding every file's row groups, their offsets shifted by where each file starts,
read exactly like one file; the later files' own `PAR1` and footers stay behind as unreferenced bytes.
Thrift (de)serialization is thriftpy2's, over parquet_footer.thrift beside this: the footer's structures as the
format specifies them, checked byte for byte against pyarrow's and DuckDB's footers by tests/test_parquet_footer.py.
"""

from __future__ import annotations

import functools
import struct
from typing import Any
from pathlib import Path

MAGIC = b"PAR1"
TRAILER = 8  # footer length (4 bytes, little-endian) and the magic
_IDL = Path(__file__).with_name("parquet_footer.thrift")
_MAX_ORDINAL = 2 ** 15 - 1  # RowGroup.ordinal is an i16


class FooterMismatch(ValueError):
    """These files cannot be joined by their footers (the reason is the message); merge them another way."""


class _UnknownField(Exception):
    pass


@functools.cache
def _thrift():
    """Loaded on first use, not at import: only Parquet merges pay for parsing the IDL (about 30 ms)."""
    import thriftpy2
    from thriftpy2.protocol.compact import TCompactProtocol

    class KnownFieldsOnly(TCompactProtocol):
        """thriftpy2 skips fields its IDL does not know; writing the footer back would drop them, so refuse."""

        def skip(self, ttype):
            raise _UnknownField()

    return thriftpy2.load(str(_IDL), module_name="parquet_thrift"), KnownFieldsOnly


def _decode(data: bytes):
    from thriftpy2.transport import TMemoryBuffer

    idl, protocol = _thrift()
    footer = idl.FileMetaData()
    footer.read(protocol(TMemoryBuffer(data)))
    return footer


def _encode(footer) -> bytes:
    from thriftpy2.protocol.compact import TCompactProtocolFactory
    from thriftpy2.utils import serialize

    return serialize(footer, TCompactProtocolFactory())


def footer_length(name: str, size: int, trailer: bytes) -> int:
    """The footer's length, from a file's last 8 bytes."""
    if size < len(MAGIC) + TRAILER or len(trailer) != TRAILER:
        raise FooterMismatch(f"{name} is too short to be a Parquet file ({size} bytes)")
    if trailer[4:] != MAGIC:
        raise FooterMismatch(f"{name} does not end with {MAGIC!r} (an encrypted footer, or not Parquet)")
    length = struct.unpack("<I", trailer[:4])[0]
    if length > size - len(MAGIC) - TRAILER:
        raise FooterMismatch(f"{name} claims a {length}-byte footer in a {size}-byte file")
    return length


def parse_footer(name: str, data: bytes):
    """The FileMetaData; refused if it holds fields this IDL does not know (they would be lost)."""
    try:
        return _decode(data)
    except _UnknownField:
        raise FooterMismatch(f"{name}'s footer holds fields this reader does not know") from None
    except Exception as error:  # thriftpy2 raises several kinds on malformed input
        raise FooterMismatch(f"{name} has an unreadable footer ({type(error).__name__}: {error})") from None


def joined_footer(named_footers: list[tuple[str, Any]], starts: list[int]):
    """The footer of the files concatenated: file i's row groups with every absolute offset moved by
    starts[i]. Page indexes are dropped (their contents hold absolute offsets too, and rewriting them
    means reading them); row-group statistics, which filters use, are kept. The first file's key-value
    metadata, schema and writer stand for all."""
    first_name, joined = named_footers[0]
    groups: list = []
    for (name, footer), start in zip(named_footers, starts):
        _check_joinable(first_name, joined, name, footer)
        for group in footer.row_groups or []:
            groups.append(_shifted(group, start, len(groups)))
    joined.row_groups = groups
    joined.num_rows = sum(footer.num_rows for _, footer in named_footers)
    return joined


def tail_bytes(footer) -> bytes:
    """What follows the files: the footer, its length, the magic."""
    data = _encode(footer)
    return data + struct.pack("<I", len(data)) + MAGIC


def _check_joinable(first_name: str, first, name: str, footer) -> None:
    if footer.encryption_algorithm is not None:
        raise FooterMismatch(f"{name} has encrypted columns")
    if footer.schema != first.schema:
        raise FooterMismatch(f"{name} has a different schema from {first_name}")
    if footer.column_orders != first.column_orders:
        raise FooterMismatch(f"{name} orders column statistics differently from {first_name}")
    for group in footer.row_groups or []:
        for column in group.columns:
            if column.file_path is not None:
                raise FooterMismatch(f"{name} keeps column data in another file ({column.file_path})")
            if column.meta_data is None or column.crypto_metadata is not None:
                raise FooterMismatch(f"{name} has a column chunk without plain metadata")


def _shifted(group, start: int, ordinal: int):
    """Zero offsets stay zero: writers use 0 for 'none', and no page can start on the file's magic."""
    def move(offset):
        return offset + start if offset else offset

    group.file_offset = move(group.file_offset)
    if group.ordinal is not None:  # the row group's place in the file, where the writer noted it
        group.ordinal = ordinal if ordinal <= _MAX_ORDINAL else None
    for column in group.columns:
        column.file_offset = move(column.file_offset)
        meta = column.meta_data
        meta.data_page_offset = move(meta.data_page_offset)
        meta.dictionary_page_offset = move(meta.dictionary_page_offset)
        meta.index_page_offset = move(meta.index_page_offset)
        meta.bloom_filter_offset = move(meta.bloom_filter_offset)
        column.offset_index_offset = column.offset_index_length = None
        column.column_index_offset = column.column_index_length = None
    return group
