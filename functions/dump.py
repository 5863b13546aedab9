"""The HTTP function: GET/HEAD /datastore/dump/<resource_id>?format=... answers with a redirect to one file."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from werkzeug.http import http_date
from werkzeug.wrappers import Request, Response

from functions.access_log import logs_requests, note
from functions.auth import caller_from_headers
from functions.catalogue import ExportCatalogue
from functions.core import identifiers, layout, tokens
from functions.core.ckan_params import parse_dump_query
from functions.core.conditional import Conditional
from functions.core.dump_query import QueryBounds
from functions.core.follow import FOLLOW_STREAMED_AFTER, MissAnswer, plan_miss
from functions.core.next_step import Fail, Queue, Serve, failure_error
from functions.core.publish import Manifest
from functions.core.target import Target
from functions.http import handles_errors, headers_of, json_response, wants_html
from functions.ports import Authorizer, Clock, UrlSigner


@dataclass(frozen=True)
class DumpSettings:
    wait_seconds: float  # how long a request waits for a queued export before redirecting to the follow route
    url_lifetime: timedelta
    stream_token_seconds: int
    public_url: str
    stream_url: str
    bounds: QueryBounds  # what a CKAN query may ask


@dataclass(frozen=True)
class DumpDoor:
    """What the dump function uses, and nothing else."""

    catalogue: ExportCatalogue
    signer: UrlSigner
    authorizer: Authorizer
    stream_key: bytes  # signs streaming tokens (functions.core.keys.STREAM_TOKENS)
    clock: Clock
    settings: DumpSettings


@logs_requests
@handles_errors
def handle_dump(request: Request, door: DumpDoor, resource_id: str) -> Response:
    resource_id = identifiers.resource_id(resource_id)
    variant = request_variant(request)
    note(request, resource=resource_id, variant=variant.key, authorizer=door.authorizer.name)
    params = request.args.to_dict(flat=False)
    asked = parse_dump_query(params, door.settings.bounds)  # malformed parameters are refused before anything else
    decided = door.authorizer.authorize(caller_from_headers(headers_of(request)), resource_id, door.clock.now().timestamp())
    note(request, authorizer=decided or door.authorizer.name)
    # one lookup: the current revision, a query checked against its columns, the next step (none when the
    # caller's copy is current: no listing, no signing, no export)
    found = door.catalogue.lookup(resource_id, variant, asked, conditional_of(request))
    target = found.target
    note(request, variant=target.variant.key, revision=target.rev)  # a query dump's variant names its key
    if found.step is None:
        note(request, outcome="not-modified")
        return not_modified(target)
    step = found.step
    waited = isinstance(step, Queue)
    miss = plan_miss(request.method, request.headers.get("Prefer"), door.settings.wait_seconds)
    if isinstance(step, Queue):
        step = door.catalogue.wait_for(target, step.attempt, miss.wait_seconds,
                                       FOLLOW_STREAMED_AFTER if miss.answer is MissAnswer.FOLLOW else None)
    if isinstance(step, Serve):
        door.catalogue.note_request(found)
        note(request, outcome="waited" if waited else "hit", attempt=step.attempt)
        return redirect(request, door, target, door.catalogue.manifest(step))
    if isinstance(step, Fail):
        note(request, outcome="failed", failure=step.kind.value)
        raise failure_error(step.failure, target.variant, step.retry_after)
    if miss.answer is MissAnswer.PENDING:
        note(request, outcome="queued", attempt=step.attempt)
        return pending(request, target, step.attempt)
    note(request, outcome="follow", attempt=step.attempt)
    return follow_redirect(request, door, target, step.attempt)


def request_variant(request: Request):
    return identifiers.dump_variant(request.args.get("format"), request.args.get("compression"),
                                    request.args.get("bom"))


def validators(target: Target) -> dict:
    return {"ETag": layout.etag(target.variant, target.rev), "Cache-Control": "private, no-cache",
            "Last-Modified": http_date(layout.revision_time(target.rev))}


def conditional_of(request: Request) -> Conditional:
    tags = request.if_none_match
    return Conditional(frozenset(tags.as_set(include_weak=True)), tags.star_tag, request.if_modified_since)


def not_modified(target: Target) -> Response:
    return Response(status=304, headers=validators(target))


def redirect(request: Request, door: DumpDoor, target: Target, manifest: Manifest) -> Response:
    headers = validators(target)
    now, settings = door.clock.now(), door.settings
    if manifest.single_object:
        location = door.signer.sign(
            manifest.pieces[0].name,
            filename=layout.download_filename(target.resource_id, target.variant),
            content_type=target.variant.content_type,
            expires_at=now + settings.url_lifetime,
            base_url=public_base(request, settings),
        )
    else:  # several pieces (compose off): the streaming function joins them
        expires = int(now.timestamp()) + settings.stream_token_seconds
        token = tokens.stream_token(door.stream_key, target.resource_id, target.variant.key, target.rev, expires)
        location = stream_location(request, settings, "stream", target, {"rev": target.rev, "token": token})
    headers["Location"] = location
    return Response(b"", status=302, headers=headers)


def follow_redirect(request: Request, door: DumpDoor, target: Target, attempt: int) -> Response:
    """A miss that outlasted the short wait: the streaming function's follow route holds the request until this
    attempt is published and then serves the file (or answers the failure's error status), within its timeout.
    The token opens that one attempt, briefly; it is no validator of the file, so the answer carries none."""
    settings = door.settings
    expires = int(door.clock.now().timestamp()) + settings.stream_token_seconds
    token = tokens.follow_token(door.stream_key, target.resource_id, target.variant.key, target.rev, attempt, expires)
    location = stream_location(request, settings, "follow", target,
                               {"rev": target.rev, "attempt": str(attempt), "token": token})
    return Response(b"", status=302, headers={"Location": location, "Cache-Control": "no-store"})


def stream_location(request: Request, settings: DumpSettings, route: str, target: Target, extra: dict) -> str:
    base = settings.stream_url or public_base(request, settings)
    return f"{base.rstrip('/')}/{route}/{target.resource_id}?{urlencode({**target.variant.query, **extra})}"


SERVER_URL = "bqdump.server_url"  # WSGI environ key: the address the local server is bound to, set by that server


def public_base(request: Request, settings: DumpSettings) -> str:
    """Never the Host header (a caller could point a signed link anywhere): DUMP_PUBLIC_URL, else the address
    the local server was started on, else "" and the link is relative to the URL the caller requested."""
    return settings.public_url or request.environ.get(SERVER_URL, "")


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
            f"<p>Preparing the {'filtered ' if target.is_query else ''}{target.variant.format_key} download of "
            f"<b>{html.escape(target.resource_id)}</b>. "
            f"This page reloads itself every {retry_after} seconds and the download starts when it is ready.</p>"
        )
        return Response(page, status=202, headers=headers, content_type="text/html; charset=utf-8")
    return json_response(body, 202, headers)
