"""Writes one JSON line per request at the doors (the entry itself is built by functions.core.log_entries).

The lines go to stderr, where Cloud Functions and Cloud Run hand each one to Cloud Logging as a structured
entry (stderr, not stdout: the command line prints its own results on stdout). A door notes what it
learnt (resource, variant, revision, outcome, authorizer) with `note`.
"""

from __future__ import annotations

import functools
import json
import logging
import sys

from werkzeug.wrappers import Request, Response

from functions.core.log_entries import request_entry, task_entry

NOTES = "bqdump.log_notes"  # WSGI environ key: what the door noted about this request


class _JsonLines(logging.Handler):
    """The message alone, on whatever sys.stderr is when it is written."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(record.getMessage() + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


log = logging.getLogger("bqdump.requests")
log.addHandler(_JsonLines())
log.setLevel(logging.INFO)
log.propagate = False  # a JSON line, not the root logger's "INFO:bqdump...: " prefix


def note(request: Request, **fields) -> None:
    request.environ.setdefault(NOTES, {}).update(fields)


def client_ip(request: Request) -> str:
    """Behind Google's front end the caller is the first X-Forwarded-For entry; locally, the peer."""
    forwarded = request.headers.get("X-Forwarded-For", "")
    return forwarded.split(",")[0].strip() or request.remote_addr or ""


def write(entry: dict) -> None:
    log.info(json.dumps(entry, separators=(",", ":"), ensure_ascii=True, default=str))


def logs_requests(handler):
    """Outermost on a handler taking (request, door, ...), the door having a `clock`: one entry per answer."""

    @functools.wraps(handler)
    def wrapper(request: Request, door, *args, **kwargs) -> Response:
        started = door.clock.monotonic()
        response = handler(request, door, *args, **kwargs)
        write(request_entry(method=request.method, path=request.path,
                            query=request.query_string.decode("latin-1"), status=response.status_code,
                            response_size=response.calculate_content_length(),
                            seconds=door.clock.monotonic() - started,
                            user_agent=request.headers.get("User-Agent", ""), remote_ip=client_ip(request),
                            fields=request.environ.get(NOTES, {})))
        return response

    return wrapper


def logs_deliveries(deliver, clock):
    """The in-process queue's deliveries, which come by no HTTP request: one entry each."""

    def logged(payload, last: bool = False):
        started = clock.monotonic()
        outcome = deliver(payload, last=last)
        seconds = clock.monotonic() - started
        write(task_entry(outcome.body(), retry=not outcome.done, last=last, seconds=seconds))
        return outcome

    return logged
