"""Who may read a dump: anonymous, the CKAN portal, or a bearer JWT, behind one Authorizer."""

from functions.auth.config import build_authorizer
from functions.auth.headers import caller_from_headers
from functions.auth.settings import AUTH_SETTINGS, AuthConfig, load_auth_config

__all__ = ["AUTH_SETTINGS", "AuthConfig", "build_authorizer", "caller_from_headers", "load_auth_config"]
