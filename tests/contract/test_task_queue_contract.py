"""The TaskQueue contract, on the in-process queue and on Cloud Tasks (gcloud-tasks-emulator, real HTTP POSTs).

Gaps of the emulator, asserted as they are rather than hidden: it does not deduplicate task names (Cloud
Tasks answers ALREADY_EXISTS for about an hour, which CloudTasksQueue maps to False: see
tests/test_google_tasks.py), and it attaches no OIDC token (tests/test_google_oidc.py covers the check).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from functions.adapters.google.tasks import CloudTasksQueue
from functions.adapters.local.task_queue import InProcessTaskQueue
from functions.adapters.system_clock import SYSTEM_CLOCK
from functions.core.delivery import Outcome, Status
from tests.contract.conftest import PROJECT
from tests.support.servers import ServerThread


def as_outcome(status: int):
    """The local queue reads a delivery's outcome where Cloud Tasks reads the HTTP status it becomes."""
    return Outcome(Status.PUBLISHED) if 200 <= status < 300 else Outcome(Status.RETRY, {"reason": f"answered {status}"})


class Receiver:
    """The worker's side: records each delivery, answers the next scripted status (then 200)."""

    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.deliveries: list[tuple[dict, dict]] = []
        self.lock = threading.Lock()

    def answer(self, payload: dict, headers: dict) -> int:
        with self.lock:
            self.deliveries.append((payload, headers))
            return self.statuses.pop(0) if self.statuses else 200

    def wait_for(self, count: int, timeout: float = 20) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.deliveries) < count:
            time.sleep(0.05)
        return self.deliveries


class HttpReceiver(Receiver):
    def __init__(self, statuses=()):
        super().__init__(statuses)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = receiver.answer(json.loads(body), {k.lower(): v for k, v in self.headers.items()})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/tasks/export"
        self.running = ServerThread(self.server, "task-receiver")

    def close(self):
        self.running.stop()


@dataclass
class Backend:
    name: str
    make: object  # (statuses) -> (queue, receiver)
    dedups: bool


@pytest.fixture(params=["in-process", "cloud-tasks"])
def backend(request):
    closers = []
    if request.param == "in-process":
        def make(statuses=()):
            receiver = Receiver(statuses)
            queue = InProcessTaskQueue(lambda payload, last: as_outcome(receiver.answer(payload, {"last": last})),
                                       workers=2, max_attempts=3, backoff_seconds=0.01, clock=SYSTEM_CLOCK)
            closers.append(queue.close)
            return queue, receiver

        yield Backend("in-process", make, dedups=True)
    else:
        emulator = request.getfixturevalue("tasks_emulator")
        client = emulator.client()
        closers.append(client.transport.close)
        location = f"projects/{PROJECT}/locations/here"

        def make(statuses=()):
            receiver = HttpReceiver(statuses)
            closers.append(receiver.close)
            queue_path = f"{location}/queues/contract-{secrets.token_hex(4)}"
            client.create_queue(parent=location, queue={"name": queue_path})
            return CloudTasksQueue(lambda: client, queue_path, receiver.url,
                                   "bqdump-tasks@test-project.iam.gserviceaccount.com", receiver.url, 600), receiver

        yield Backend("cloud-tasks", make, dedups=False)
    for close in reversed(closers):
        close()


PAYLOAD = {"resource_id": "flights", "format": "csv", "revision": "5f1e", "attempt": 1}


def test_a_named_task_is_delivered_with_its_payload(backend):
    queue, receiver = backend.make()
    name = f"dump-{secrets.token_hex(8)}-1"
    assert queue.enqueue(name, PAYLOAD) is True
    [(payload, headers)] = receiver.wait_for(1)
    assert payload == PAYLOAD
    if backend.name == "cloud-tasks":
        assert headers["content-type"] == "application/json"
        assert headers["x-cloudtasks-taskname"] == name


def test_a_repeated_name_is_queued_once_where_the_backend_deduplicates(backend):
    queue, receiver = backend.make()
    name = f"dump-{secrets.token_hex(8)}-1"
    assert queue.enqueue(name, PAYLOAD) is True
    again = queue.enqueue(name, PAYLOAD)
    if backend.dedups:
        assert again is False
        time.sleep(0.3)
        assert len(receiver.wait_for(1)) == 1
    else:  # the emulator's gap: it accepts and delivers the repeat; Cloud Tasks would answer ALREADY_EXISTS
        assert again is True
        assert len(receiver.wait_for(2)) == 2


def test_a_failed_delivery_is_retried(backend):
    queue, receiver = backend.make(statuses=[503])
    assert queue.enqueue(f"dump-{secrets.token_hex(8)}-1", PAYLOAD) is True
    deliveries = receiver.wait_for(2)
    assert [payload for payload, _ in deliveries[:2]] == [PAYLOAD, PAYLOAD]
    # The worker learns which delivery this is, to record a failure on the last one (ExportWorker.deliver).
    if backend.name == "cloud-tasks":  # X-CloudTasks-TaskRetryCount: earlier deliveries (functions/worker_door.py)
        assert [headers["x-cloudtasks-taskretrycount"] for _, headers in deliveries[:2]] == ["0", "1"]
    else:
        assert [headers["last"] for _, headers in deliveries[:2]] == [False, False]


def test_the_in_process_queue_marks_its_last_delivery_and_then_stops():
    receiver = Receiver(statuses=[503, 503, 503, 503])
    queue = InProcessTaskQueue(lambda payload, last: as_outcome(receiver.answer(payload, {"last": last})),
                               workers=2, max_attempts=3, backoff_seconds=0.01, clock=SYSTEM_CLOCK)
    try:
        queue.enqueue("dump-last-1", PAYLOAD)
        assert queue.drain(20)
        assert [headers["last"] for _, headers in receiver.deliveries] == [False, False, True]
    finally:
        queue.close()
