"""Who may read a dump: anonymous, the CKAN portal, or a bearer JWT, behind one Authorizer."""

from functions.auth.config import build_authorizer
from functions.auth.headers import caller_from_headers
from functions.auth.settings import AUTH_SETTINGS

__all__ = ["AUTH_SETTINGS", "build_authorizer", "caller_from_headers"]
