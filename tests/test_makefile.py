"""Set-up and clean-up as a newcomer runs them: the Makefile's targets and its set-up script, with real pip and
real files (pip installs a wheel built here, from a local folder: no network)."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SETUP_VENV = ROOT / "scripts" / "setup-venv.sh"


def make(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), *args], env=env, capture_output=True,
                          text=True, timeout=60)


def test_clean_data_deletes_tables_and_exports_but_not_the_virtualenv_or_other_files(tmp_path):
    data = tmp_path / "state"
    for part in ("tables/flights", "bucket/dumps/flights", "scratch/job", "demo"):
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


def wheel(folder: Path, name: str, version: str) -> None:
    """The smallest valid wheel: one module and its metadata."""
    dist = f"{name}-{version}.dist-info"
    files = {f"{name}/__init__.py": b"VERSION = '%s'\n" % version.encode(),
             f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
             f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: bqdump-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = "".join(f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},"
                     f"{len(data)}\n" for path, data in files.items()) + f"{dist}/RECORD,,\n"
    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as archive:
        for path, data in {**files, f"{dist}/RECORD": record.encode()}.items():
            archive.writestr(path, data)


@pytest.fixture
def pip_world(tmp_path):
    """A venv using this interpreter's pip, and a pip configuration like this machine's: a package folder that
    exists and one that does not (pip warns about it on every install)."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel(wheels, "bqdump_probe", "1.0")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)], check=True)
    env = dict(os.environ, PIP_NO_INDEX="1", PIP_FIND_LINKS=f"{wheels} {tmp_path / 'absent-folder'}",
               PIP_NO_CACHE_DIR="1")
    return venv, env, tmp_path


def setup_venv(venv: Path, requirements: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SETUP_VENV), str(venv), str(requirements)], env=env, capture_output=True,
                          text=True, timeout=120)


def test_set_up_prints_its_steps_and_none_of_pips_noise(pip_world):
    venv, env, tmp = pip_world
    requirements = tmp / "requirements.txt"
    requirements.write_text("bqdump_probe==1.0\n")
    result = setup_venv(venv, requirements, env)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = (result.stdout + result.stderr).splitlines()
    assert lines[0] == f"bqdump set-up: installing {requirements} into {venv} (the first time takes a few minutes)"
    assert lines[1].startswith(f"bqdump set-up: {venv} has {requirements} (") and len(lines) == 2
    installed = subprocess.run([str(venv / "bin" / "python"), "-c", "import bqdump_probe; print(bqdump_probe.VERSION)"],
                               capture_output=True, text=True)
    assert installed.stdout.strip() == "1.0"


def test_set_up_shows_pips_errors_and_fails_with_it(pip_world):
    venv, env, tmp = pip_world
    requirements = tmp / "requirements.txt"
    requirements.write_text("bqdump_probe==2.0\n")  # no such version in the folder
    result = setup_venv(venv, requirements, env)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "No matching distribution found for bqdump_probe==2.0" in output
    assert "is ignored" not in output


def test_set_up_without_python_3_11_says_what_to_do(tmp_path):
    result = setup_venv(tmp_path / "venv", tmp_path / "requirements.txt",
                        dict(os.environ, PYTHON=str(tmp_path / "no-python3.11")))
    assert result.returncode == 1
    assert "bqdump needs Python 3.11" in result.stderr and "PYTHON=/path/to/python3.11" in result.stderr
    assert not (tmp_path / "venv").exists()
