"""One small error hierarchy; `functions.http_errors` maps it to HTTP responses in one place.

Every error carries what was wrong (`message`) and what to do about it (`hint`), because both
reach the caller verbatim in the JSON error body.
"""


class DumpError(Exception):
    status = 500
    code = "internal"

    def __init__(self, message: str, hint: str = "", *, headers: dict | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.headers = headers or {}
        self.details = details or {}

    def body(self) -> dict:
        body = {"error": self.code, "message": self.message}
        if self.hint:
            body["hint"] = self.hint
        body.update(self.details)
        return body


class InvalidRequest(DumpError):
    status = 400
    code = "invalid_request"


class Unauthorized(DumpError):
    """No usable credential; the caller should authenticate."""

    status = 401
    code = "unauthorized"


class Forbidden(DumpError):
    status = 403
    code = "forbidden"


class NotFound(DumpError):
    status = 404
    code = "not_found"


class TooLarge(DumpError):
    status = 413
    code = "too_large"


class RangeNotSatisfiable(DumpError):
    status = 416
    code = "range_not_satisfiable"


class ExportFailed(DumpError):
    """The export of this revision failed; the reason comes from the warehouse."""

    status = 502
    code = "export_failed"


class Unavailable(DumpError):
    """A dependency (warehouse, store, authorization service) cannot answer now; retry later."""

    status = 503
    code = "unavailable"


class ConfigurationError(Exception):
    """A setting is missing or malformed; raised at start-up, never at the first request."""
