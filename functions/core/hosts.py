"""Which Host headers are host names at all. The service never builds a link from Host, but werkzeug and
Flask parse it before any handler runs, and fail on an empty label or broken IDNA (HTML 400 or a crash)."""

from __future__ import annotations

import re

_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_IP_LITERAL = re.compile(r"\[[0-9A-Fa-f:.]{2,45}\]")
_PORT = re.compile(r"[0-9]{1,5}")


def valid_host(value: str) -> bool:
    """host[:port] as RFC 9110 allows it: a DNS name (IDNA that round-trips) or an IP literal. No Host is fine."""
    if not value:
        return True
    name, port = value, ""
    if value.startswith("["):
        if "]" not in value:
            return False
        name, _, rest = value.partition("]")
        name += "]"
        if rest and not rest.startswith(":"):
            return False
        port = rest[1:] if rest else ""
        if rest == ":" or not _IP_LITERAL.fullmatch(name):
            return False
    elif ":" in value:
        name, _, port = value.rpartition(":")
        if not port:
            return False
    if port and not (_PORT.fullmatch(port) and int(port) <= 65535):
        return False
    return name.startswith("[") or _dns_name(name)


def _dns_name(name: str) -> bool:
    name = name[:-1] if name.endswith(".") else name  # a fully qualified name may end with a dot
    try:
        ascii_name = name.encode("idna").decode("ascii")
        ascii_name.encode("ascii").decode("idna")  # "xn--a" encodes as itself but decodes to nothing
    except UnicodeError:
        return False
    return 0 < len(ascii_name) <= 253 and all(_LABEL.fullmatch(label) for label in ascii_name.split("."))
