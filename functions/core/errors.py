"""One small error hierarchy; `functions.http` maps it to HTTP responses, in one place.

Every error carries what was wrong (`message`) and what to do about it (`hint`), because both
reach the caller verbatim in the JSON error body.
"""


class DumpError(Exception):
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
    code = "invalid_request"


class Unauthorized(DumpError):
    """No usable credential; the caller should authenticate."""

    code = "unauthorized"


class Forbidden(DumpError):
    code = "forbidden"


class NotFound(DumpError):
    code = "not_found"


class MethodNotAllowed(DumpError):
    code = "method_not_allowed"


class TooLarge(DumpError):
    code = "too_large"


class RangeNotSatisfiable(DumpError):
    code = "range_not_satisfiable"


class ExportFailed(DumpError):
    """The export of this revision failed; the reason comes from the warehouse."""

    code = "export_failed"


class Unavailable(DumpError):
    """A dependency (warehouse, store, authorization service) cannot answer now; retry later."""

    code = "unavailable"


class ConfigurationError(Exception):
    """A setting is missing or malformed; raised at start-up, never at the first request."""
