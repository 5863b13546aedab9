"""The streaming function: serves a multi-file export as one download, with one CSV header and Range support,
and follows an export that is not published yet until it is (the dump function's redirect on a miss)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from werkzeug.wrappers import Request, Response

from functions.access_log import logs_requests, note
from functions.catalogue import ExportCatalogue
from functions.core import identifiers, layout, tokens
from functions.core.dump_query import DumpQuery
from functions.core.errors import Unavailable
from functions.core.follow import still_exporting_retry_after
from functions.core.next_step import Fail, Serve, failure_error
from functions.core.publish import Manifest
from functions.core.target import Target
from functions.dump import request_variant
from functions.http import client_gone, handles_errors
from functions.ports import Clock
from functions.serving import byte_response, followed_response


@dataclass(frozen=True)
class StreamDoor:
    catalogue: ExportCatalogue  # read-only identity: listings, manifests and the bytes themselves
    stream_key: bytes  # checks streaming and follow tokens (functions.core.keys.STREAM_TOKENS)
    clock: Clock
    follow_seconds: float = 0.0  # how long a follower waits for its export (functions.core.follow)


@logs_requests
@handles_errors
def handle_stream(request: Request, door: StreamDoor, resource_id: str) -> Response:
    target = requested_target(request, resource_id)
    # The token is the whole authorisation here: checked before a single byte is read.
    tokens.check_stream_token(door.stream_key, request.args.get("token", ""), target.resource_id,
                              target.variant.key, target.rev, door.clock.now().timestamp())
    return serve_manifest(request, door, target, door.catalogue.published_manifest(target))


@logs_requests
@handles_errors
def handle_follow(request: Request, door: StreamDoor, resource_id: str) -> Response:
    """Holds the request (a thread, no CPU: the catalogue waits on the bucket's changes or the clock) until the
    token's attempt is published, then serves it as `handle_stream` does; its failure is its error status; a
    wait that reaches the function's bound is a 503 with Retry-After. Where the export's pieces become final one
    after the other (functions.core.progress), a GET without Range gets them as they do, then the rest of the
    published file: headers go out with the first byte, and a failure after it cuts the body. A HEAD request
    waits too: its answer gives the file's length."""
    target = requested_target(request, resource_id)
    attempt = identifiers.attempt(request.args.get("attempt"))
    note(request, attempt=attempt)
    tokens.check_follow_token(door.stream_key, request.args.get("token", ""), target.resource_id,
                              target.variant.key, target.rev, attempt, door.clock.now().timestamp())
    deadline = door.clock.monotonic() + door.follow_seconds
    early = request.method == "GET" and "Range" not in request.headers  # a range is served from the published file
    found = door.catalogue.follow(target, attempt, door.follow_seconds, seen=0 if early else None,
                                  gone=lambda: client_gone(request.environ))
    step = found.step
    if isinstance(step, Serve):
        note(request, outcome="followed")
        return serve_manifest(request, door, target, door.catalogue.manifest(step))
    if isinstance(step, Fail):
        note(request, outcome="failed", failure=step.kind.value)
        raise failure_error(step.failure, target.variant, step.retry_after)
    if found.records:
        note(request, outcome="streamed")
        return followed_response(request, door.catalogue, target, attempt, found.records, deadline,
                                 filename=layout.download_filename(target.resource_id, target.variant),
                                 etag=layout.etag(target.variant, target.rev))
    note(request, outcome="client-gone" if client_gone(request.environ) else "still-exporting")
    retry_after = still_exporting_retry_after(door.follow_seconds)
    raise Unavailable(f"The export of {target.resource_id!r} is still running.",
                      f"Request /datastore/dump/{target.resource_id} again in {retry_after} s.",
                      headers={"Retry-After": str(retry_after)})


def requested_target(request: Request, resource_id: str) -> Target:
    resource_id = identifiers.resource_id(resource_id)
    variant = replace(request_variant(request), query_key=identifiers.query_key(request.args.get("query_key")))
    rev = identifiers.revision(request.args.get("rev", ""))
    note(request, resource=resource_id, variant=variant.key, revision=rev, authorizer="stream token")
    return Target(resource_id, variant, rev, DumpQuery())  # the key is in the variant


def serve_manifest(request: Request, door: StreamDoor, target: Target, manifest: Manifest) -> Response:
    return byte_response(request, door.catalogue.bucket, manifest.pieces,
                         filename=layout.download_filename(target.resource_id, target.variant),
                         content_type=target.variant.content_type, etag=layout.etag(target.variant, target.rev),
                         last_modified=layout.revision_time(target.rev))
