"""Every setting bqdump reads, declared once. The README's table is checked against this list."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from functions.core.errors import ConfigurationError
from functions.core.settings_schema import Setting, boolean, non_negative_float, one_of, positive_int

MAX_URL_EXPIRY_HOURS = 168  # V4 signed URLs live 7 days at most


def _expiry_hours(raw: str) -> float:
    hours = float(raw)
    if not 0 < hours <= MAX_URL_EXPIRY_HOURS:
        raise ValueError(f"must be more than 0 and at most {MAX_URL_EXPIRY_HOURS} (V4 signed URLs live 7 days at most)")
    return hours


CORE_SETTINGS: tuple[Setting, ...] = (
    Setting("DUMP_BACKEND", "local", "`local` (DuckDB, a folder, an in-process queue) or `google`.",
            one_of("local", "google")),
    Setting("PORT", "8080", "Port of `python main.py serve` / `make run`.", positive_int),
    Setting("DUMP_LOCAL_DIR", "./.bqdump", "Folder holding everything the local backend keeps (tables, bucket, key)."),
    Setting("DUMP_SHARD_BYTES", str(1 << 30),
            "Largest exported file in bytes (BigQuery's is 1 GiB); smaller values make the local warehouse split exports.",
            positive_int),
    Setting("DUMP_WAIT_SECONDS", "25", "How long a dump request waits for a queued export before answering 202.",
            non_negative_float),
    Setting("DUMP_FAILURE_COOLDOWN_SECONDS", "60",
            "How long a failed export is reported to callers before a request may retry it.", non_negative_float),
    Setting("DUMP_STREAM_TOKEN_SECONDS", "300",
            "Lifetime of the token in a redirect to the streaming function.", positive_int),
    Setting("DUMP_WORKER_WAIT_SECONDS", "480",
            "How long one worker delivery waits for its export job before answering 503 to be retried "
            "(keep it under the Cloud Tasks dispatch deadline).", non_negative_float),
    Setting("DUMP_TOKEN_SECRET", "",
            "Secret for streaming tokens and locally signed URLs. Local backend: generated into DUMP_LOCAL_DIR when empty.",
            secret=True),
    Setting("DUMP_PUBLIC_URL", "",
            "Base URL callers reach this service at (behind a proxy); default: the local server's own address, "
            "else links relative to the request (never the Host header)."),
    Setting("STREAM_URL", "", "Base URL of the streaming function; default: this service (the local server mounts it)."),
    Setting("DUMP_COMPOSE", "true",
            "Join a multi-file export (and its header) into one stored object behind a signed URL; false serves "
            "it through the streaming function.", boolean),
    Setting("PREWARM_SECRET", "",
            "Secret for POST /datastore/dump/prewarm in the X-Prewarm-Secret header (local backend); empty turns "
            "HTTP pre-warming off there.", secret=True),
    Setting("BIGQUERY_EXPORT_URL_EXPIRY_HOURS", "1",
            "Lifetime of signed download URLs, at most 168; GC keeps superseded exports this long.", _expiry_hours),
)


@dataclass(frozen=True)
class Config:
    backend: str
    port: int
    local_dir: Path
    shard_bytes: int
    wait_seconds: float
    failure_cooldown_seconds: float
    stream_token_seconds: int
    worker_wait_seconds: float
    token_secret: str
    public_url: str
    stream_url: str
    url_expiry_hours: float
    prewarm_secret: str
    compose: bool
    env: Mapping[str, str] = field(repr=False)  # holds secrets (DUMP_TOKEN_SECRET, BIGQUERY_CREDENTIALS)


def all_settings() -> tuple[Setting, ...]:
    from functions.adapters.google.config import GOOGLE_SETTINGS
    from functions.auth import AUTH_SETTINGS

    return CORE_SETTINGS + tuple(AUTH_SETTINGS) + GOOGLE_SETTINGS


def load_config(env: Mapping[str, str]) -> Config:
    """Reads and checks every core setting now, so a bad one fails at start-up with its name."""
    values = {s.name: s.read(env) for s in CORE_SETTINGS}
    config = Config(
        backend=values["DUMP_BACKEND"],
        port=values["PORT"],
        local_dir=Path(values["DUMP_LOCAL_DIR"]),
        shard_bytes=values["DUMP_SHARD_BYTES"],
        wait_seconds=values["DUMP_WAIT_SECONDS"],
        failure_cooldown_seconds=values["DUMP_FAILURE_COOLDOWN_SECONDS"],
        stream_token_seconds=values["DUMP_STREAM_TOKEN_SECONDS"],
        worker_wait_seconds=values["DUMP_WORKER_WAIT_SECONDS"],
        token_secret=values["DUMP_TOKEN_SECRET"],
        public_url=values["DUMP_PUBLIC_URL"].strip(),
        stream_url=values["STREAM_URL"].strip(),
        url_expiry_hours=values["BIGQUERY_EXPORT_URL_EXPIRY_HOURS"],
        prewarm_secret=values["PREWARM_SECRET"],
        compose=values["DUMP_COMPOSE"],
        env=dict(env),
    )
    if config.backend == "google" and not config.token_secret:
        raise ConfigurationError("DUMP_TOKEN_SECRET is required with DUMP_BACKEND=google (mount it from Secret Manager).")
    return config


def check_settings(env: Mapping[str, str]) -> Config:
    """Validates every setting of the configured backend without building any client."""
    config = load_config(env)
    from functions.auth import build_authorizer

    build_authorizer(env)
    if config.backend == "google":
        from functions.adapters.google.config import load_google_config

        load_google_config(env)
    return config


def markdown_table() -> str:
    """The README's settings table: `python -m functions.settings` prints it."""
    rows = ["| name | default | meaning |", "|---|---|---|"]
    for setting in all_settings():
        default = f"`{setting.default}`" if setting.default else ""
        rows.append(f"| `{setting.name}` | {default} | {setting.help} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
