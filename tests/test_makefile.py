"""The Makefile as a newcomer runs it: `make clean-data` frees the local data and nothing else."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), *args], env=env, capture_output=True,
                          text=True, timeout=60)


def test_clean_data_deletes_tables_and_exports_but_not_the_virtualenv_or_other_files(tmp_path):
    data = tmp_path / "state"
    for part in ("tables/flights", "bucket/dumps/flights", "demo"):
        (data / part).mkdir(parents=True)
        (data / part / "file").write_text("x")
    (data / "token-secret.key").write_text("k")
    (data / "notes.txt").write_text("not bqdump's")
    result = make("clean-data", env=dict(os.environ, DUMP_LOCAL_DIR=str(data)))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in data.iterdir()) == ["notes.txt"]
    assert (ROOT / ".venv" / "bin" / "python").exists()


def test_clean_data_removes_the_emptied_folder(tmp_path):
    data = tmp_path / "state"
    (data / "tables").mkdir(parents=True)
    assert make("clean-data", f"DUMP_LOCAL_DIR={data}").returncode == 0
    assert not data.exists()
