"""The small interfaces the core flow talks to; local and Google adapters implement them side by side."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Callable, ContextManager, Iterator, Mapping, Protocol, Sequence

from functions.core.delivery import Outcome
from functions.core.model import ExportJob, JobStatus, ObjectInfo, TableShape


class Clock(Protocol):
    """The one source of time: wall time for records and signatures, monotonic time and sleep for waiting."""

    def now(self) -> datetime:
        """Timezone-aware UTC."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class Warehouse(Protocol):
    def table_modified(self, resource_id: str) -> datetime:
        """The table's last-modified time (timezone-aware); raises NotFound for an unknown table."""

    def list_tables(self) -> list[str]: ...

    def shape(self, resource_id: str) -> TableShape:
        """The table's modified time and every column with its warehouse type, in order, from one metadata call:
        CKAN queries are checked against them; raises NotFound for an unknown table."""

    def column_names(self, resource_id: str) -> list[str]:
        """The export's columns in order: the worker writes the header object from them."""

    def start_export(self, job: ExportJob) -> None:
        """Start the export job; a job with the same id that already exists is left running (no error)."""

    def wait_export(self, job_id: str, timeout: float) -> JobStatus:
        """Wait up to `timeout` seconds; answers the job's state then."""


class ObjectStore(Protocol):
    def list(self, prefix: str) -> list[ObjectInfo]: ...

    def read_bytes(self, name: str) -> bytes: ...

    def read_range(self, name: str, start: int, length: int, chunk_size: int) -> Iterator[bytes]:
        """Stream `length` bytes from `start`; closing the iterator releases the upstream connection."""

    def write_bytes(self, name: str, data: bytes, content_type: str, *, if_absent: bool = False) -> bool:
        """Write an object; with `if_absent`, answers False instead of overwriting an existing one."""

    def set_download_headers(self, name: str, *, content_type: str, filename: str) -> None:
        """Content-Type and Content-Disposition stored on the object, which some stores serve over the URL's."""

    def compose(self, sources: Sequence[str], destination: str, content_type: str, *, if_absent: bool = False) -> bool:
        """Concatenate 1 to 32 objects into `destination` (which may be one of the sources); with `if_absent`,
        answers False instead of replacing an existing destination."""

    def open_reader(self, name: str) -> ContextManager[BinaryIO]:
        """A seekable binary file over the object, for readers that jump around (Parquet footers)."""

    def open_writer(self, name: str, content_type: str) -> ContextManager[BinaryIO]:
        """A binary file that becomes the object when closed without error, streamed out as it is written."""

    def delete(self, name: str) -> None:
        """Delete; an object already gone is not an error."""


class TaskQueue(Protocol):
    def enqueue(self, name: str, payload: Mapping) -> bool:
        """Queue a named task; False when a task of that name is already queued (deduplicated)."""


class Changes(Protocol):
    """A bucket that tells of its changes: `wait` returns when something was written since `mark()` was taken,
    or after `seconds` at most."""

    def mark(self) -> int: ...

    def wait(self, since: int, seconds: float) -> None: ...


class UrlSigner(Protocol):
    def sign(self, name: str, *, filename: str, content_type: str, expires_at: datetime, base_url: str) -> str:
        """A URL that downloads object `name` as `filename` until `expires_at`."""


@dataclass(frozen=True)
class Caller:
    """What the request said about who is calling; the raw credential never leaves this object unhashed."""

    credential: str | None = field(default=None, repr=False)


class Authorizer(Protocol):
    name: str  # anonymous, ckan, jwt: named in the request log

    def authorize(self, caller: Caller, resource_id: str, now: float) -> str | None:
        """Return if `caller` may read `resource_id`; raise Unauthorized, Forbidden, NotFound or Unavailable.
        The answer names who decided when it was not `name` itself (the decision cache)."""


def find_object(store: ObjectStore, name: str) -> ObjectInfo | None:
    """The listing entry of exactly `name`: the port has no stat call, and a prefix listing also finds longer names."""
    return next((o for o in store.list(name) if o.name == name), None)


CallerCheck = Callable[[Mapping[str, str]], None]  # raises Unauthorized or Forbidden


def allow_every_caller(headers: Mapping[str, str]) -> None:
    """Task and pre-warm calls on the local backend come from this process (or this machine's loopback)."""


@dataclass(frozen=True)
class ReadOnlyPorts:
    """What the read-only identity reaches: table metadata and the bucket (cache lookups, streaming)."""

    tables: Warehouse
    bucket: ObjectStore


@dataclass(frozen=True)
class ReadWritePorts:
    """What the read-write identity reaches: export jobs, bucket writes and deletes, URL signing, task creation."""

    warehouse: Warehouse
    store: ObjectStore
    queue: TaskQueue
    signer: UrlSigner


Deliver = Callable[..., Outcome]  # the export worker's deliver(payload, *, last)


@dataclass(frozen=True)
class InProcess:
    """What only the local backend has: its own signed-download route, and a queue that delivers in this process."""

    check_link: Callable[..., None]  # the local signer's check of a download link (functions.objects)
    connect_worker: Callable[[Deliver], None]  # hands the in-process queue this process's worker


@dataclass(frozen=True)
class Backend:
    """The adapters one backend provides, by identity (on the local backend each pair is one object), built by
    its factory: functions.adapters.local.factory or functions.adapters.google.factory."""

    read_only: ReadOnlyPorts
    read_write: ReadWritePorts
    stream_key: bytes  # signs streaming tokens (functions.core.keys.STREAM_TOKENS)
    check_task_caller: CallerCheck
    check_prewarm_caller: CallerCheck
    poll_seconds: tuple[float, float]  # first and longest pause while a request waits for an export
    in_process: InProcess | None  # the local backend's; None on Google
    closers: list[Callable[[], None]]
    changes: "Changes | None"  # the bucket tells of its changes (local); None: waiters sleep their pauses
