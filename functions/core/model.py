"""Plain values shared by the core, the ports and the adapters."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from functions.core.dump_query import DumpQuery, TableColumn


class Format(enum.Enum):
    CSV = "csv"
    TSV = "tsv"
    NDJSON = "ndjson"
    PARQUET = "parquet"
    JSON = "json"  # CKAN's JSON dump: {"fields": [...], "records": [[...], ...]}
    XML = "xml"  # CKAN's XML dump: <data><row _id="...">...</row></data>

    @property
    def extension(self) -> str:
        return self.value

    @property
    def content_type(self) -> str:
        return {
            "csv": "text/csv; charset=utf-8",
            "tsv": "text/tab-separated-values; charset=utf-8",
            "ndjson": "application/x-ndjson",
            "parquet": "application/vnd.apache.parquet",
            "json": "application/json; charset=utf-8",
            "xml": "text/xml; charset=utf-8",
        }[self.value]

    @property
    def has_header(self) -> bool:
        return self in (Format.CSV, Format.TSV)

    @property
    def concatenates(self) -> bool:
        """Whether several export files can be served as one by joining their bytes."""
        return self in (Format.CSV, Format.TSV, Format.NDJSON)

    @property
    def written_by_worker(self) -> bool:
        """No warehouse exports CKAN's JSON or XML: the worker writes them from an export to Parquet."""
        return self in (Format.JSON, Format.XML)

    @property
    def exported_as(self) -> "Format":
        return Format.PARQUET if self.written_by_worker else self

    @property
    def takes_bom(self) -> bool:
        """CKAN writes a BOM before csv, tsv, json and xml alike when asked."""
        return self in (Format.CSV, Format.TSV, Format.JSON, Format.XML)


@dataclass(frozen=True)
class Variant:
    """What a caller downloads: a format, optionally gzip-compressed, optionally with a UTF-8 BOM for Excel,
    of the whole table or of the rows a CKAN query selects (`query_key`, DumpQuery.key; "" for the whole table).

    Each variant is cached as its own export, under its `key` (csv, csv.gz, csv-bom, json.q<16 hex>, ...)."""

    format: Format
    gzip: bool = False
    bom: bool = False
    query_key: str = ""

    @property
    def format_key(self) -> str:
        return self.format.value + ("-bom" if self.bom else "") + (".gz" if self.gzip else "")

    @property
    def key(self) -> str:
        return self.format_key + (f".q{self.query_key}" if self.query_key else "")

    @property
    def value(self) -> str:
        return self.key

    @property
    def extension(self) -> str:
        return self.format.extension + (".gz" if self.gzip else "")

    @property
    def content_type(self) -> str:
        """gzip downloads are stored as application/gzip, not Content-Encoding, so Range keeps working."""
        return "application/gzip" if self.gzip else self.format.content_type

    @property
    def has_header(self) -> bool:
        return self.format.has_header

    @property
    def concatenates(self) -> bool:
        return self.format.concatenates

    @property
    def query(self) -> dict:
        """The request parameters that name this variant."""
        params = {"format": self.format.value}
        if self.gzip:
            params["compression"] = "gzip"
        if self.bom:
            params["bom"] = "true"
        if self.query_key:
            params["query_key"] = self.query_key
        return params


@dataclass(frozen=True)
class TableShape:
    """What one metadata call tells of a table: its revision time and its columns (a CKAN query is checked
    against them)."""

    modified: datetime
    columns: tuple[TableColumn, ...]


@dataclass(frozen=True)
class ObjectInfo:
    name: str
    size: int
    updated: datetime


@dataclass(frozen=True)
class ExportJob:
    job_id: str
    resource_id: str
    format: Format
    destination_prefix: str  # object-name prefix of this attempt, ending in "/"
    shard_bytes: int
    header: bool = True  # CSV/TSV: a header row in every file (False when the worker writes one header object)
    gzip: bool = False
    selection: DumpQuery = DumpQuery()  # the rows and columns to export, checked against the table
    early: bool = False  # a follower sends the files as they are final: make the first one final early


class JobState(enum.Enum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class FailureKind(enum.Enum):
    """Why an export failed, as the domain sees it; `functions.http` alone decides what a caller is answered."""

    TABLE_GONE = "table_gone"
    TOO_LARGE = "too_large"
    TRANSIENT = "transient"  # a new attempt may succeed at once
    FAILED = "failed"
    BUSY = "busy"  # the resource holds as many recently requested query dumps as it may: later, room is made


@dataclass(frozen=True)
class JobStatus:
    state: JobState
    error: str = ""
    kind: FailureKind = FailureKind.FAILED

    @property
    def retryable(self) -> bool:
        return self.kind is FailureKind.TRANSIENT
