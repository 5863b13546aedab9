"""How a setting is declared: once, on the configuration field it fills, with its name, default and help.

`setting(...)` is that field; `settings_of(cls)` lists a configuration class's settings (the README table and
Terraform's checks come from them) and `read_settings(cls, env)` fills the class, validating every value.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Callable, Mapping, TypeVar

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


SETTING = "setting"  # the metadata key a field's Setting is kept under
T = TypeVar("T")


def setting(name: str, default: str, help: str, parse: Callable[[str], Any] = str, *, secret: bool = False):
    """A configuration field filled from environment variable `name`; secrets stay out of the class's repr."""
    return field(repr=not secret, metadata={SETTING: Setting(name, default, help, parse, secret)})


def settings_of(cls: type) -> tuple[Setting, ...]:
    return tuple(f.metadata[SETTING] for f in fields(cls) if SETTING in f.metadata)


def read_settings(cls: type[T], env: Mapping[str, str]) -> T:
    """Every setting of `cls` read and checked now, so a bad one fails at start-up with its name."""
    declared = fields(cls)  # type: ignore[arg-type]  # a dataclass: TypeVar bounds cannot say so
    return cls(**{f.name: f.metadata[SETTING].read(env) for f in declared if SETTING in f.metadata})


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


def positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0 or value == float("inf"):
        raise ValueError("must be a positive number of seconds")
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
