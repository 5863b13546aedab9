"""How a setting is declared: once, with its default and help, so the README table can be checked against it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from functions.core.errors import ConfigurationError


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str
    parse: Callable[[str], Any] = str
    secret: bool = False

    def read(self, env: Mapping[str, str]) -> Any:
        raw = env.get(self.name, "")
        raw = raw if raw.strip() else self.default
        try:
            return self.parse(raw)
        except (ValueError, TypeError) as exc:
            shown = "(hidden)" if self.secret else repr(raw)
            raise ConfigurationError(f"{self.name}={shown} is not valid: {exc}. {self.help}") from None


def positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def non_negative_float(raw: str) -> float:
    value = float(raw)
    if value < 0:
        raise ValueError("must be zero or more")
    return value


def boolean(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("must be true or false")


def one_of(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value

    return parse
