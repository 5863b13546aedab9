"""Build the configured Authorizer from checked settings (functions.auth.settings refuses bad ones at start-up)."""

from __future__ import annotations

import requests

from functions.auth.cache import CachedAuthorizer, DecisionCache
from functions.auth.ckan import CkanAuthorizer
from functions.auth.jwt_bearer import JwtAuthorizer
from functions.auth.settings import AuthSettings
from functions.ports import Authorizer, Caller


class AnonymousAuthorizer:
    """Everything is readable; the default, for portals whose DataStore is public anyway."""

    name = "anonymous"

    def authorize(self, caller: Caller, resource_id: str, now: float) -> None:
        return None


def build_authorizer(settings: AuthSettings, http_session: requests.Session) -> Authorizer:
    if settings.jwt is not None:
        return JwtAuthorizer(settings.jwt)
    if settings.ckan is not None:
        ckan = settings.ckan
        provider = CkanAuthorizer(ckan.url, ckan.timeout_seconds, http_session)
        return CachedAuthorizer(provider, "ckan", ckan.cache_ttl_seconds, DecisionCache(ckan.cache_max_entries))
    return AnonymousAuthorizer()
