"""One functions-framework target started as deployed (its own process group, 127.0.0.1, a given port),
ready once /healthz answers, stopped by its own pid: for the contract tests, the rehearsal and benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.servers import wait_serving

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
        try:
            wait_serving(self.url, timeout, self._check_alive)
        except AssertionError as exc:
            raise AssertionError(f"{self.target}: {exc}:\n{self.log.read_text()}") from None

    def _check_alive(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(f"{self.target} exited {self.process.returncode}:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
