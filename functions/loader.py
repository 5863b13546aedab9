"""`python main.py load`: check a file, then create or replace a table from it, saying what it did.

Backend-neutral: the warehouse passed in needs `table_rows(resource_id)` (None when there is no such table) and
`load(resource_id, path, progress=, null_string=, ragged=, expected_rows=)`. The file checks are
functions/source_files.py's.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from functions.core import identifiers
from functions.core.errors import InvalidRequest
from functions.source_files import check, locate

Say = Callable[[str], None]


def load_table(warehouse, resource_id: str, path: Path, *, null_string: str | None = None, ragged: str = "refuse",
               replace: bool = True, say: Say = print, progress_bar: bool = True) -> int:
    """Loads the file as the table `resource_id`; returns the rows loaded. Refuses (InvalidRequest, nothing
    changed) a file it cannot load faithfully, and an existing table when `replace` is false."""
    identifiers.resource_id(resource_id)
    locate(path)  # a missing file or an unknown format is refused before the warehouse is asked anything
    before = warehouse.table_rows(resource_id)
    if before is not None and not replace:
        raise InvalidRequest(f"There is already a table {resource_id!r} ({_rows(before)}); --no-replace leaves it "
                             "as it is.",
                             "Load the file under another resource id, or leave out --no-replace to replace it.")
    source = check(path, ragged)
    with _progress(resource_id, progress_bar) as progress:
        modified = warehouse.load(resource_id, path, progress=progress, null_string=null_string, ragged=ragged,
                                  expected_rows=source.rows)
    loaded = f"{_rows(source.rows)}, {len(source.columns)} column{'' if len(source.columns) == 1 else 's'}"
    if before is None:
        say(f"{resource_id}: created from {path.name}: {loaded}.")
    else:
        say(f"{resource_id}: replaced from {path.name}: {loaded} now ({_rows(before)} before).")
    if source.padded_rows:
        say(f"{resource_id}: {_rows(source.padded_rows)} had fewer values than the header's columns: their "
            "missing trailing values are NULL (--ragged pad).")
    say(f"{resource_id}: modified {modified.isoformat()}: downloads now serve this data.")
    return source.rows


def _rows(count: int) -> str:
    return f"{count:,} row{'' if count == 1 else 's'}"


@contextmanager
def _progress(resource_id: str, shown: bool) -> Iterator[Callable[[float], None] | None]:
    """A progress bar on stderr while the warehouse reads the file."""
    if not shown:
        yield None
        return
    from tqdm import tqdm

    with tqdm(total=100, desc=f"loading {resource_id}", unit="%", bar_format="{l_bar}{bar}| {elapsed}") as bar:
        yield lambda percent: bar.update(max(0.0, percent - bar.n))
