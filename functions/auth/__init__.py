"""Who may read a dump: anonymous, the CKAN portal, or a bearer JWT, behind one Authorizer."""

from functions.auth.config import build_authorizer
from functions.auth.headers import caller_from_headers
from functions.auth.settings import AUTH_SETTINGS, AuthConfig, AuthSettings, load_auth_settings

__all__ = ["AUTH_SETTINGS", "AuthConfig", "AuthSettings", "build_authorizer", "caller_from_headers",
           "load_auth_settings"]
