"""Plain values shared by the core, the ports and the adapters."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class Format(enum.Enum):
    CSV = "csv"
    TSV = "tsv"
    NDJSON = "ndjson"
    PARQUET = "parquet"

    @property
    def extension(self) -> str:
        return {"csv": "csv", "tsv": "tsv", "ndjson": "ndjson", "parquet": "parquet"}[self.value]

    @property
    def content_type(self) -> str:
        return {
            "csv": "text/csv; charset=utf-8",
            "tsv": "text/tab-separated-values; charset=utf-8",
            "ndjson": "application/x-ndjson",
            "parquet": "application/vnd.apache.parquet",
        }[self.value]

    @property
    def has_header(self) -> bool:
        return self in (Format.CSV, Format.TSV)

    @property
    def concatenates(self) -> bool:
        """Whether several export files can be served as one by joining their bytes."""
        return self is not Format.PARQUET


@dataclass(frozen=True)
class Variant:
    """What a caller downloads: a format, optionally gzip-compressed, optionally with a UTF-8 BOM for Excel.

    Each variant is cached as its own export, under its `key` (csv, csv.gz, csv-bom, csv-bom.gz, ...)."""

    format: Format
    gzip: bool = False
    bom: bool = False

    @property
    def key(self) -> str:
        return self.format.value + ("-bom" if self.bom else "") + (".gz" if self.gzip else "")

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
        return params


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


@dataclass(frozen=True)
class JobStatus:
    state: JobState
    error: str = ""
    kind: FailureKind = FailureKind.FAILED

    @property
    def retryable(self) -> bool:
        return self.kind is FailureKind.TRANSIENT
