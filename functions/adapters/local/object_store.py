"""A local folder as the bucket: object names map to files, writes are atomic renames."""

from __future__ import annotations

import os
import secrets
import shutil
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Sequence

from functions.core.errors import InvalidRequest, NotFound
from functions.core.model import ObjectInfo

_PARTIAL = ".partial-"
PARTIAL_PREFIX = _PARTIAL  # a file being written: never listed, so never taken for an object


class Changes:
    """Writes to the folder bucket, counted, so a request waiting for an export sleeps until one happens (or its
    pause ends: another process may write the folder too) instead of listing the folder again and again."""

    def __init__(self):
        self._moved = threading.Condition()
        self._count = 0

    def mark(self) -> int:
        return self._count

    def moved(self) -> None:
        with self._moved:
            self._count += 1
            self._moved.notify_all()

    def wait(self, since: int, seconds: float) -> None:
        with self._moved:
            self._moved.wait_for(lambda: self._count != since, timeout=seconds)


class LocalObjectStore:
    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.changes = Changes()  # what this process writes; a waiter still looks again after its pause

    def _path(self, name: str) -> Path:
        parts = name.split("/")
        if not name or name.startswith("/") or any(p in ("", ".", "..") for p in parts[:-1]) or parts[-1] in (".", ".."):
            raise InvalidRequest(f"Invalid object name {name!r}.", "Object names are relative paths without '..'.")
        return self.root / name

    def list(self, prefix: str) -> list[ObjectInfo]:
        directory = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        found: list[ObjectInfo] = []
        for dirpath, _dirs, files in os.walk(directory):
            for filename in files:
                if filename.startswith(_PARTIAL):
                    continue
                path = Path(dirpath) / filename
                name = path.relative_to(self.root).as_posix()
                if not name.startswith(prefix):
                    continue
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue  # deleted while listing
                found.append(ObjectInfo(name, stat.st_size, datetime.fromtimestamp(stat.st_mtime, timezone.utc)))
        return sorted(found, key=lambda o: o.name)

    def read_bytes(self, name: str) -> bytes:
        try:
            return self._path(name).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"Object {name!r} is gone.", "Request the dump URL again.") from None

    def read_range(self, name: str, start: int, length: int, chunk_size: int = 65536) -> Iterator[bytes]:
        try:
            handle = open(self._path(name), "rb")
        except FileNotFoundError:
            raise NotFound(f"Object {name!r} is gone.", "Request the dump URL again.") from None
        return _chunks(handle, start, length, chunk_size)

    def write_bytes(self, name: str, data: bytes, content_type: str = "", *, if_absent: bool = False) -> bool:
        target = self._path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.parent / f"{_PARTIAL}{secrets.token_hex(8)}"
        partial.write_bytes(data)
        try:
            return _install(partial, target, if_absent)
        finally:
            partial.unlink(missing_ok=True)
            self.changes.moved()

    def set_download_headers(self, name: str, *, content_type: str, filename: str) -> None:
        """Nothing to store: the local signed URL carries the file name, and the type follows from it."""

    def compose(self, sources: Sequence[str], destination: str, content_type: str = "", *, if_absent: bool = False) -> bool:
        if if_absent and len(sources) == 1:
            try:
                os.link(self._path(sources[0]), self._path(destination))  # atomic create-if-absent, no copy
                return True
            except FileExistsError:
                return False
            finally:
                self.changes.moved()
        target = self._path(destination)
        if not if_absent and sources[0] == destination and target.exists():
            # A compose chain growing its own result: append instead of copying it again at every step.
            # Not atomic for readers, which is fine: chains build scratch objects nobody reads.
            with open(target, "ab") as out:
                self._append(sources[1:], out)
            return True
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.parent / f"{_PARTIAL}{secrets.token_hex(8)}"
        try:
            with open(partial, "wb") as out:
                self._append(sources, out)
            return _install(partial, target, if_absent)
        finally:
            partial.unlink(missing_ok=True)
            self.changes.moved()

    def _append(self, sources: Sequence[str], out) -> None:
        for source in sources:
            with open(self._path(source), "rb") as handle:
                shutil.copyfileobj(handle, out, 1 << 20)

    def open_reader(self, name: str):
        return open(self._path(name), "rb")

    @contextmanager
    def open_writer(self, name: str, content_type: str = "", *, if_absent: bool = False):
        target = self._path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.parent / f"{_PARTIAL}{secrets.token_hex(8)}"
        try:
            with open(partial, "wb") as handle:
                yield handle
            _install(partial, target, if_absent)
        finally:
            partial.unlink(missing_ok=True)
            self.changes.moved()

    def delete(self, name: str) -> None:
        path = self._path(name)
        path.unlink(missing_ok=True)
        self.changes.moved()
        parent = path.parent
        while parent != self.root:
            try:
                parent.rmdir()  # only succeeds once the folder is empty
            except OSError:
                break
            parent = parent.parent


def _install(partial: Path, target: Path, if_absent: bool) -> bool:
    """Make a fully written file visible under its name in one step; with `if_absent`, never replace one."""
    if not if_absent:
        os.replace(partial, target)
        return True
    try:
        os.link(partial, target)  # atomic create-if-absent
        return True
    except FileExistsError:
        return False


def _chunks(handle, start: int, length: int, chunk_size: int) -> Iterator[bytes]:
    """A generator that owns the file: closing it (client gone) closes the file at once."""
    with handle:
        handle.seek(start)
        remaining = length
        while remaining > 0:
            chunk = handle.read(min(chunk_size, remaining))
            if not chunk:
                raise IOError(f"{handle.name} ended {remaining} bytes early")
            remaining -= len(chunk)
            yield chunk
