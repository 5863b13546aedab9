"""Ask the CKAN portal itself, so a dump is readable exactly when the resource page is."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit, urlunsplit

import requests

from functions.auth.refusals import not_public, token_refused
from functions.core.errors import NotFound, Unavailable
from functions.ports import Caller

log = logging.getLogger(__name__)


def shown_url(url: str) -> str:
    """The portal URL without any user:password part, fit for messages and logs."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _sendable(token: str) -> bool:
    """CKAN tokens are printable ASCII; anything else cannot travel in a header, so never send it."""
    return all("!" <= char <= "~" for char in token)


class CkanAuthorizer:
    name = "ckan"

    def __init__(self, ckan_url: str, timeout: float, session: requests.Session):
        self.endpoint = ckan_url.rstrip("/") + "/api/3/action/resource_show"
        self.portal = shown_url(ckan_url.rstrip("/"))
        self.timeout = timeout
        self.session = session

    def authorize(self, caller: Caller, resource_id: str, now: float) -> None:
        if caller.credential is not None and not _sendable(caller.credential):
            hint = "Copy the token again from your CKAN user page."
            raise token_refused(resource_id, "it is not a well-formed CKAN API token", hint)
        status, body = self._resource_show(caller, resource_id)
        success = body.get("success") if isinstance(body, dict) else None
        if status == 200 and success is True:
            return
        if status in (401, 403) and success is False:
            if caller.credential is None:
                raise not_public("Send your CKAN API token in the Authorization header.")
            raise token_refused(
                resource_id,
                f"the CKAN portal at {self.portal} refused it",
                "Use a token of a user who can see this resource in CKAN, or ask its owner for access.",
            )
        if status == 404 and success is False:
            raise NotFound(
                f"Resource {resource_id} does not exist on the CKAN portal at {self.portal}.",
                "Check the resource id in the URL.",
            )
        log.warning("auth ckan: unusable answer from %s: HTTP %s, success=%r", self.portal, status, success)
        raise Unavailable(
            f"The CKAN portal at {self.portal} gave an unusable answer (HTTP {status}) to an access check.",
            "Try again shortly; if it persists, check CKAN_URL and the portal's health.",
        )

    def _resource_show(self, caller: Caller, resource_id: str) -> tuple[int, object]:
        headers = {"Accept": "application/json"}
        if caller.credential is not None:
            headers["Authorization"] = caller.credential
        try:
            response = self.session.get(
                self.endpoint,
                params={"id": resource_id},
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.Timeout:
            log.warning("auth ckan: %s did not answer within %g s", self.portal, self.timeout)
            raise Unavailable(
                f"The CKAN portal at {self.portal} did not answer within {self.timeout:g} s; try again shortly.",
                "Retry in a few seconds; if it persists, the portal may be overloaded.",
            ) from None
        except requests.RequestException as exc:
            log.warning("auth ckan: cannot reach %s (%s)", self.portal, type(exc).__name__)
            raise Unavailable(
                f"The CKAN portal at {self.portal} cannot be reached to check access; try again shortly.",
                "Retry in a few seconds; if it persists, check CKAN_URL and the portal's health.",
            ) from None
        try:
            return response.status_code, response.json()
        except (ValueError, RecursionError):
            return response.status_code, None
        finally:
            response.close()
