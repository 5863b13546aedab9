"""`python main.py ...` run as a user runs it: a subprocess in the checkout, on the local backend in a folder of
the test's own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def local_env(folder: Path, **extra: str) -> dict[str, str]:
    """This process's environment with the local backend's data (and HOME) under `folder`."""
    env = dict(os.environ, DUMP_LOCAL_DIR=str(folder / "state"), HOME=str(folder), **extra)
    env.pop("DUMP_BACKEND", None)
    return env


def run_main(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
