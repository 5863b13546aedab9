"""Build the functions' source zip: python scripts/package.py [OUTPUT]   (`make package`)

The zip holds what Cloud Functions builds (main.py, requirements.txt, functions/, jobs/) and nothing else.
It is reproducible: entries in sorted order, fixed timestamps and modes, so the same tree always gives the
same bytes. Terraform (terraform/examples/basic) uploads it under a name made of its SHA-256, so a new
release is a new object and `terraform apply` rebuilds the functions, while an unchanged tree changes nothing.
"""

from __future__ import annotations

import hashlib
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "build" / "bqdump-source.zip"
FILES = ("main.py", "requirements.txt")
TREES = ("functions", "jobs")
EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


def sources(root: Path = ROOT) -> list[Path]:
    """The files that go into the zip, relative to `root`, in sorted order."""
    found = [Path(name) for name in FILES]
    for tree in TREES:
        found += [path.relative_to(root) for path in (root / tree).rglob("*")
                  if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo")]
    return sorted(found, key=lambda p: p.as_posix())


def build(output: Path = DEFAULT_OUTPUT, root: Path = ROOT) -> str:
    """Write the zip to `output` and return its SHA-256 (hex)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for relative in sources(root):
            entry = zipfile.ZipInfo(relative.as_posix(), date_time=EPOCH)
            entry.external_attr = 0o100644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, (root / relative).read_bytes())
    partial.replace(output)  # never a half-written zip under the name Terraform reads
    return hashlib.sha256(output.read_bytes()).hexdigest()


def main(argv: list[str]) -> int:
    output = Path(argv[0]).resolve() if argv else DEFAULT_OUTPUT
    digest = build(output)
    shown = output.relative_to(ROOT) if output.is_relative_to(ROOT) else output
    print(f"{shown}  sha256:{digest}  (uploaded as source/bqdump-{digest[:16]}.zip)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
