"""One structured log entry per dump request and per worker task, in Cloud Logging's shape (pure: no I/O).

Cloud Logging reads a JSON line on stdout as a LogEntry: `severity`, `message`, `httpRequest` (requestMethod,
requestUrl, status, responseSize, latency as "0.012s", userAgent, remoteIp) are its own fields, the rest
lands in jsonPayload. The URL keeps only the query parameters that say what was asked for: a token, a
signature or anything else a caller sent never reaches the log.
"""

from __future__ import annotations

from typing import Mapping
from urllib.parse import parse_qsl, quote, urlencode

LOGGED_QUERY = ("format", "compression", "bom", "rev", "query_key")  # what was asked for; never token or signature
MAX_TEXT = 512  # a user agent or a path is cut here: a log line stays one short line


def severity(status: int) -> str:
    return "ERROR" if status >= 500 else "WARNING" if status >= 400 else "INFO"


def latency(seconds: float) -> str:
    return f"{max(seconds, 0.0):.3f}s"


def logged_url(path: str, query: str) -> str:
    """The path, and only the query parameters in LOGGED_QUERY (each value cut to MAX_TEXT characters)."""
    kept = [(key, value[:MAX_TEXT]) for key, value in parse_qsl(query, keep_blank_values=True) if key in LOGGED_QUERY]
    shown = quote(path[:MAX_TEXT], safe="/")
    return f"{shown}?{urlencode(kept)}" if kept else shown


def request_entry(*, method: str, path: str, query: str, status: int, response_size: int | None, seconds: float,
                  user_agent: str, remote_ip: str, fields: Mapping[str, object]) -> dict:
    """`fields`: what the door noted (resource, variant, revision, outcome, authorizer, task details)."""
    http_request: dict[str, object] = {"requestMethod": method[:16], "requestUrl": logged_url(path, query), "status": status,
                    "latency": latency(seconds), "userAgent": user_agent[:MAX_TEXT], "remoteIp": remote_ip[:64]}
    if response_size is not None:
        http_request["responseSize"] = str(response_size)  # LogEntry's int64 fields are JSON strings
    noted = {key: value for key, value in fields.items() if value is not None}
    outcome = noted.get("outcome") or ("error" if status >= 400 else "")
    message = " ".join(part for part in (method[:16], logged_url(path, query), str(status), str(outcome)) if part)
    return {**noted, **({"outcome": outcome} if outcome else {}), "severity": severity(status), "message": message,
            "httpRequest": http_request}


def task_entry(body: Mapping[str, object], *, retry: bool, last: bool, seconds: float) -> dict:
    """A delivery of an export task that came by no HTTP request (the local in-process queue)."""
    noted = {key: value for key, value in body.items() if value is not None}
    status = str(noted.pop("status", ""))
    level = "WARNING" if retry or status == "failed" else "INFO"
    return {**noted, "severity": level, "message": f"export task {status}", "task": status, "retry": retry,
            "last_delivery": last, "latency": latency(seconds)}
