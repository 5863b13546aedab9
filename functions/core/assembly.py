"""Pure helpers for turning an export's files into one download: header rows and compose chains."""

from __future__ import annotations

COMPOSE_LIMIT = 32  # sources per Cloud Storage compose call
BOM = "\ufeff".encode()


def csv_header_line(names: list[str], delimiter: str = ",") -> bytes:
    """The header row as CKAN writes it (Python's csv module): quoting where a name needs it, and a CRLF line end,
    while the rows (PostgreSQL's COPY in CKAN, the warehouse's export here) end with LF."""
    def field(name: str) -> str:
        if any(ch in name for ch in (delimiter, '"', "\n", "\r")):
            return '"' + name.replace('"', '""') + '"'
        return name

    return (delimiter.join(field(name) for name in names) + "\r\n").encode()


def compose_steps(sources: list[str], destination: str, limit: int = COMPOSE_LIMIT) -> list[tuple[list[str], str]]:
    """A chain of compose calls of at most `limit` sources each; every later call starts from the previous result."""
    if not sources:
        raise ValueError("nothing to compose")
    steps = [(sources[:limit], destination)]
    rest = sources[limit:]
    while rest:
        steps.append(([destination] + rest[: limit - 1], destination))
        rest = rest[limit - 1:]
    return steps
