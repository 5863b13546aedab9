"""One functions-framework target started as deployed (its own process group, 127.0.0.1, a given port),
ready once /healthz answers, stopped by its own pid: for the contract tests, the rehearsal and benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_FRAMEWORK = Path(sys.executable).with_name("functions-framework")


class FunctionProcess:
    """One functions-framework target in its own process group, stopped by its pid."""

    def __init__(self, target: str, env: dict, log: Path, port: int):
        self.target, self.log, self.port = target, log, port
        self.url = f"http://127.0.0.1:{port}"
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                [str(FUNCTIONS_FRAMEWORK), "--target", target, "--source", "main.py", "--host", "127.0.0.1",
                 "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.target} exited {self.process.returncode}:\n{self.log.read_text()}")
            try:
                requests.get(self.url + "/healthz", timeout=1)
                return
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or slow on a busy machine
                time.sleep(0.1)
        raise AssertionError(f"{self.target} not serving after {timeout} s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
