"""The streaming function: serves a multi-file export as one download, with one CSV header and Range support."""

from __future__ import annotations

from dataclasses import dataclass, replace

from werkzeug.wrappers import Request, Response

from functions.access_log import logs_requests, note
from functions.catalogue import ExportCatalogue
from functions.core import identifiers, layout, tokens
from functions.core.target import Target
from functions.dump import request_variant
from functions.http import handles_errors
from functions.ports import Clock
from functions.serving import byte_response


@dataclass(frozen=True)
class StreamDoor:
    catalogue: ExportCatalogue  # read-only identity: listings, manifests and the bytes themselves
    stream_key: bytes  # checks streaming tokens (functions.core.keys.STREAM_TOKENS)
    clock: Clock


@logs_requests
@handles_errors
def handle_stream(request: Request, door: StreamDoor, resource_id: str) -> Response:
    resource_id = identifiers.resource_id(resource_id)
    variant = replace(request_variant(request), query_key=identifiers.query_key(request.args.get("query_key")))
    rev = identifiers.revision(request.args.get("rev", ""))
    note(request, resource=resource_id, variant=variant.key, revision=rev, authorizer="stream token")
    # The token is the whole authorisation here: checked before a single byte is read.
    tokens.check_stream_token(door.stream_key, request.args.get("token", ""), resource_id, variant.key, rev,
                              door.clock.now().timestamp())
    manifest = door.catalogue.published_manifest(Target(resource_id, variant, rev))
    return byte_response(request, door.catalogue.bucket, manifest.pieces,
                         filename=layout.download_filename(resource_id, variant), content_type=variant.content_type,
                         etag=layout.etag(variant, rev), last_modified=layout.revision_time(rev))
