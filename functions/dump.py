"""The HTTP function: GET/HEAD /datastore/dump/<resource_id>?format=... answers with a redirect to one file."""

from __future__ import annotations

import html
import time
from datetime import timedelta
from urllib.parse import urlencode

from werkzeug.http import http_date
from werkzeug.wrappers import Request, Response

from functions import exports
from functions.auth import caller_from_headers
from functions.core import identifiers, layout, tokens
from functions.core.publish import Manifest
from functions.exports import Target
from functions.http import handles_errors, json_response, wants_html
from functions.services import Services



@handles_errors
def handle_dump(request: Request, services: Services, resource_id: str) -> Response:
    resource_id = identifiers.resource_id(resource_id)
    variant = request_variant(request)
    services.authorizer.authorize(caller_from_headers(request.headers), resource_id, time.time())
    target = exports.current_target(services, resource_id, variant)
    if unchanged_for_caller(request, target):
        return not_modified(target)  # no listing, no signing, no export
    state = exports.lookup(services, target)
    if state.published:
        return redirect(request, services, target, exports.read_manifest(services, state))
    attempt = exports.ensure_export(services, target, state)
    wait = 0.0 if request.method == "HEAD" else services.config.wait_seconds
    poll_first, poll_max = services.poll_seconds
    deadline, pause = time.monotonic() + wait, poll_first
    while time.monotonic() < deadline:
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, poll_max)
        state = exports.lookup(services, target)
        if state.published:
            return redirect(request, services, target, exports.read_manifest(services, state))
        if state.failed and state.failed.number >= attempt:
            failure = exports.read_failure(services, state)
            if not failure.retryable:
                raise exports.failure_error(services, state, failure)
            attempt = exports.ensure_export(services, target, state, failure)  # transient: the next attempt, at once
    return pending(request, target, attempt)


def request_variant(request: Request):
    return identifiers.dump_variant(request.args.get("format"), request.args.get("compression"),
                                    request.args.get("bom"))


def validators(target: Target) -> dict:
    return {"ETag": layout.etag(target.variant, target.rev), "Cache-Control": "private, no-cache",
            "Last-Modified": http_date(layout.revision_time(target.rev))}


def unchanged_for_caller(request: Request, target: Target) -> bool:
    """If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2); either way the revision decides."""
    if request.if_none_match:
        return request.if_none_match.contains_weak(layout.etag(target.variant, target.rev).strip('"'))
    since = request.if_modified_since
    return since is not None and layout.revision_time(target.rev).replace(microsecond=0) <= since


def not_modified(target: Target) -> Response:
    return Response(status=304, headers=validators(target))


def redirect(request: Request, services: Services, target: Target, manifest: Manifest) -> Response:
    headers = validators(target)
    now = services.clock()
    if manifest.single_object:
        location = services.signer.sign(
            manifest.pieces[0].name,
            filename=layout.download_filename(target.resource_id, target.variant),
            content_type=target.variant.content_type,
            expires_at=now + timedelta(hours=services.config.url_expiry_hours),
            base_url=public_base(request, services),
        )
    else:  # several pieces (compose off): the streaming function joins them
        expires = int(now.timestamp()) + services.config.stream_token_seconds
        token = tokens.stream_token(services.token_secret, target.resource_id, target.variant.key, target.rev, expires)
        base = services.config.stream_url or public_base(request, services)
        query = urlencode({**target.variant.query, "rev": target.rev, "token": token})
        location = f"{base.rstrip('/')}/stream/{target.resource_id}?{query}"
    headers["Location"] = location
    return Response(b"", status=302, headers=headers)


SERVER_URL = "bqdump.server_url"  # WSGI environ key: the address the local server is bound to, set by that server


def public_base(request: Request, services: Services) -> str:
    """Never the Host header (a caller could point a signed link anywhere): DUMP_PUBLIC_URL, else the address
    the local server was started on, else "" and the link is relative to the URL the caller requested."""
    return services.config.public_url or request.environ.get(SERVER_URL, "")


def pending(request: Request, target: Target, attempt: int) -> Response:
    retry_after = 10
    body = {
        "status": "exporting",
        "resource_id": target.resource_id,
        **target.variant.query,
        "revision": target.rev,
        "attempt": attempt,
        "retry_after": retry_after,
        "message": "The export of this table is being prepared.",
        "hint": f"Request the same URL again in {retry_after} s; it will redirect to the file once it is ready.",
    }
    headers = {"Retry-After": str(retry_after), "Cache-Control": "no-store"}
    if wants_html(request):
        page = (
            f'<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="{retry_after}">'
            f"<title>Preparing {html.escape(target.resource_id)}</title>"
            f"<p>Preparing the {target.variant.key} download of <b>{html.escape(target.resource_id)}</b>. "
            f"This page reloads itself every {retry_after} seconds and the download starts when it is ready.</p>"
        )
        return Response(page, status=202, headers=headers, content_type="text/html; charset=utf-8")
    return json_response(body, 202, headers)
