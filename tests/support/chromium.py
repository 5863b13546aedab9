"""Headless Chromium driven as a test drives a client: its DevTools protocol over the pipe Chromium opens with
--remote-debugging-pipe (JSON messages ending in NUL, commands on its fd 3, answers and events on its fd 4), so no
WebSocket library and no port. scripts/setup-browser.sh installs it (Debian's chromium) where it can."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any


def chromium_binary() -> str | None:
    return shutil.which("chromium")


class Chromium:
    def __init__(self, profile: Path):
        binary = chromium_binary()
        assert binary, "chromium is not installed (scripts/setup-browser.sh)"
        commands_read, self._commands = os.pipe()
        self._answers, answers_write = os.pipe()
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--remote-debugging-pipe",
                 f"--user-data-dir={profile}", "about:blank"]
        script = f'exec "$0" "$@" 3<&{commands_read} 4>&{answers_write} {commands_read}<&- {answers_write}>&-'
        self.process = subprocess.Popen(["bash", "-c", script, binary, *flags], pass_fds=(commands_read, answers_write),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(commands_read)
        os.close(answers_write)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, session: str | None = None, **params: Any) -> dict:
        """A command's result (an error answer fails the test)."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        answer = self.wait(lambda m: m.get("id") == self._next_id)
        assert "error" not in answer, answer
        return answer.get("result", {})

    def wait(self, matches, timeout: float = 120) -> dict:
        """The next message that `matches` (every event read is kept in `events`); readiness, not a sleep: it
        returns as soon as Chromium says it."""
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "method" in message:
                    self.events.append(message)
                if matches(message):
                    return message
            left = deadline - time.monotonic()
            assert left > 0, f"Chromium said nothing that matched in {timeout} s"
            ready, _, _ = select.select([self._answers], [], [], left)
            if ready:
                data = os.read(self._answers, 1 << 16)
                assert data, "Chromium closed its DevTools pipe"
                self._buffer += data

    def event(self, method: str, timeout: float = 120, **where: Any) -> dict:
        """The first event `method` whose params include `where`, seen already or still to come."""
        def fits(message: dict) -> bool:
            params = message.get("params", {})
            return message.get("method") == method and all(params.get(k) == v for k, v in where.items())

        for seen in self.events:
            if fits(seen):
                return seen["params"]
        return self.wait(fits, timeout)["params"]

    def close(self) -> None:
        try:
            os.write(self._commands, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
        except OSError:
            pass
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._commands)
        os.close(self._answers)
