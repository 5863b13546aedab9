"""The local backend's stand-in for signed Cloud Storage URLs: /_objects/<name>?expires=&filename=&type=&signature=."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from werkzeug.wrappers import Request, Response

from functions.access_log import logs_requests, note
from functions.core.errors import Forbidden, NotFound
from functions.core.shards import Piece
from functions.http import handles_errors
from functions.ports import Clock, ObjectStore, find_object
from functions.serving import byte_response


@dataclass(frozen=True)
class ObjectsDoor:
    store: ObjectStore
    check_link: Callable[..., None]  # the local signer's check: raises Forbidden unless it signed these values
    clock: Clock


@logs_requests
@handles_errors
def handle_object(request: Request, door: ObjectsDoor, name: str) -> Response:
    expires, filename = request.args.get("expires", ""), request.args.get("filename", "")
    content_type = request.args.get("type", "")
    if not filename or not content_type:
        raise Forbidden("This download link is incomplete.", "Request the dump URL again for a fresh link.")
    door.check_link(name, filename=filename, content_type=content_type, expires=expires,
                    signature=request.args.get("signature", ""), now=door.clock.now().timestamp())
    note(request, object=name, authorizer="signed link")
    found = find_object(door.store, name)
    if found is None:
        raise NotFound("This export is no longer stored.", "Request the dump URL again for the current one.")
    return byte_response(request, door.store, [Piece(name, found.size)], filename=filename,
                         content_type=content_type, last_modified=found.updated)
