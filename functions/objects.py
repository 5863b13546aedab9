"""The local backend's stand-in for signed Cloud Storage URLs: /_objects/<name>?expires=&filename=&type=&signature=."""

from __future__ import annotations

import time

from werkzeug.wrappers import Request, Response

from functions.core.errors import Forbidden, NotFound
from functions.core.shards import Piece
from functions.http import handles_errors
from functions.ports import find_object
from functions.serving import byte_response
from functions.services import Services


@handles_errors
def handle_object(request: Request, services: Services, name: str) -> Response:
    expires, filename = request.args.get("expires", ""), request.args.get("filename", "")
    content_type = request.args.get("type", "")
    if not filename or not content_type:
        raise Forbidden("This download link is incomplete.", "Request the dump URL again for a fresh link.")
    services.signer.check(name, filename=filename, content_type=content_type, expires=expires,
                          signature=request.args.get("signature", ""), now=time.time())
    found = find_object(services.store, name)
    if found is None:
        raise NotFound("This export is no longer stored.", "Request the dump URL again for the current one.")
    return byte_response(request, services.store, [Piece(name, found.size)], filename=filename,
                         content_type=content_type, last_modified=found.updated)
