"""The wording of refusals, shared by providers so callers see one voice whatever AUTH_TYPE is."""

from __future__ import annotations

from functions.core.errors import Forbidden, Unauthorized

REALM = 'Bearer realm="bqdump"'


def not_public(how: str) -> Unauthorized:
    return Unauthorized("This resource is not public.", how, headers={"WWW-Authenticate": REALM})


def token_refused(resource_id: str, why: str, hint: str) -> Forbidden:
    return Forbidden(f"Your credential does not give read access to resource {resource_id}: {why}.", hint)


def invalid_token(why: str, hint: str) -> Unauthorized:
    challenge = f'{REALM}, error="invalid_token", error_description="{why}"'
    return Unauthorized(f"The bearer token was refused: {why}.", hint, headers={"WWW-Authenticate": challenge})
