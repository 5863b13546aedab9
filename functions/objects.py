"""The local backend's stand-in for signed Cloud Storage URLs: /_objects/<name>?expires=&filename=&signature=."""

from __future__ import annotations

import time

from werkzeug.wrappers import Request, Response

from functions.core import tokens
from functions.core.errors import Forbidden, NotFound
from functions.core.model import Format
from functions.core.shards import Piece
from functions.http import handles_errors
from functions.serving import byte_response
from functions.services import Services


@handles_errors
def handle_object(request: Request, services: Services, name: str) -> Response:
    expires, filename = request.args.get("expires", ""), request.args.get("filename", "")
    if not expires.isdigit() or not filename:
        raise Forbidden("This download link is incomplete.", "Request the dump URL again for a fresh link.")
    tokens.check_signature(services.token_secret, request.args.get("signature", ""), int(expires), time.time(),
                           "object", name, filename, expires)
    found = [o for o in services.store.list(name) if o.name == name]
    if not found:
        raise NotFound("This export is no longer stored.", "Request the dump URL again for the current one.")
    return byte_response(request, services.store, [Piece(name, found[0].size)], filename=filename,
                         content_type=_content_type(filename), last_modified=found[0].updated)


def _content_type(filename: str) -> str:
    extension = filename.rsplit(".", 1)[-1]
    for fmt in Format:
        if fmt.extension == extension:
            return fmt.content_type
    return "application/octet-stream"
