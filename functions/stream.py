"""The streaming function: serves a multi-file export as one download, with one CSV header and Range support."""

from __future__ import annotations

import time

from werkzeug.wrappers import Request, Response

from functions import exports
from functions.core import identifiers, layout, tokens
from functions.dump import request_variant
from functions.exports import Target
from functions.http import handles_errors
from functions.serving import byte_response
from functions.services import Services


@handles_errors
def handle_stream(request: Request, services: Services, resource_id: str) -> Response:
    resource_id = identifiers.resource_id(resource_id)
    variant = request_variant(request)
    rev = identifiers.revision(request.args.get("rev", ""))
    # The token is the whole authorisation here: checked before a single byte is read.
    tokens.check_stream_token(services.token_secret, request.args.get("token", ""), resource_id, variant.key, rev,
                              time.time())
    target = Target(resource_id, variant, rev)
    state = exports.lookup(services, target)
    if not state.published:
        raise exports.gone(target)
    manifest = exports.read_manifest(services, state)
    return byte_response(request, services.reader, manifest.pieces,
                         filename=layout.download_filename(resource_id, variant), content_type=variant.content_type,
                         etag=layout.etag(variant, rev), last_modified=layout.revision_time(rev))
