"""Every setting bqdump reads, each declared once on the field it fills. The README's table comes from them."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from functions.core.cors import CorsPolicy
from functions.core.dump_query import QueryBounds
from functions.core.errors import ConfigurationError
from functions.core.settings_schema import (SETTING, Setting, boolean, non_negative_float, one_of, positive_float,
                                            positive_int, read_settings, setting, settings_of)

if TYPE_CHECKING:
    from functions.adapters.google.config import GoogleConfig
    from functions.auth.settings import AuthSettings

MAX_URL_EXPIRY_HOURS = 168  # V4 signed URLs live 7 days at most


def _expiry_hours(raw: str) -> float:
    hours = float(raw)
    if not 0 < hours <= MAX_URL_EXPIRY_HOURS:
        raise ValueError(f"must be more than 0 and at most {MAX_URL_EXPIRY_HOURS} (V4 signed URLs live 7 days at most)")
    return hours


def _stripped(raw: str) -> str:
    return raw.strip()


AUTH_HEADERS = ("X-CKAN-API-Key",)  # besides Authorization, the header a browser may send a CKAN token in


def _cors(raw: str) -> CorsPolicy:
    try:
        return CorsPolicy.from_setting(raw, AUTH_HEADERS)
    except ConfigurationError as exc:
        raise ValueError(str(exc)) from None


def _exports_at_once(raw: str) -> int:
    return positive_int(raw) if raw.strip() else max(2, os.cpu_count() or 1)


def _window_seconds(raw: str) -> int:
    seconds = int(raw)
    if not 0 <= seconds <= 3600:
        raise ValueError("must be from 0 to 3600 seconds")
    return seconds


@dataclass(frozen=True)
class Config:
    backend: str = setting("DUMP_BACKEND", "local", "`local` (DuckDB, a folder, an in-process queue) or `google`.",
                           one_of("local", "google"))
    port: int = setting("PORT", "8080", "Port of `python main.py serve` / `make run`.", positive_int)
    local_dir: Path = setting("DUMP_LOCAL_DIR", "./.bqdump",
                              "Folder holding everything the local backend keeps (tables, bucket, key).", Path)
    shard_bytes: int = setting(
        "DUMP_SHARD_BYTES", str(1 << 30),
        "Largest exported file in bytes (BigQuery's is 1 GiB); smaller values make the local warehouse split exports.",
        positive_int)
    local_exports: int = setting(
        "DUMP_LOCAL_EXPORTS", "",
        "Exports the local backend runs at once, and task deliveries (each waits on its export); each export "
        "takes about one core. Empty: one per CPU core, at least 2.", _exports_at_once)
    wait_seconds: float = setting(
        "DUMP_WAIT_SECONDS", "25",
        "How long a dump request waits for a queued export before redirecting to the streaming function's "
        "follow route (`Prefer: respond-async, wait=N`: at most N s, then 202).", non_negative_float)
    stream_timeout_seconds: float = setting(
        "STREAM_TIMEOUT_SECONDS", "3600",
        "The streaming function's request timeout (Terraform sets it from timeouts.stream). A follower of an "
        "export waits at most five sixths of it, then answers 503 with Retry-After.", positive_float)
    failure_cooldown_seconds: float = setting(
        "DUMP_FAILURE_COOLDOWN_SECONDS", "60",
        "How long a failed export is reported to callers before a request may retry it.", non_negative_float)
    stream_token_seconds: int = setting("DUMP_STREAM_TOKEN_SECONDS", "300",
                                        "Lifetime of the token in a redirect to the streaming function.", positive_int)
    worker_wait_seconds: float = setting(
        "DUMP_WORKER_WAIT_SECONDS", "480",
        "How long one worker delivery waits for its export job before answering 503 to be retried "
        "(keep it under the Cloud Tasks dispatch deadline).", non_negative_float)
    task_max_attempts: int = setting(
        "DUMP_TASK_MAX_ATTEMPTS", "20",
        "Deliveries of one export task: the queue's max_attempts (Terraform sets both from one variable). On the "
        "last one the worker records an unfinished attempt as failed, so the next request starts a new one.",
        positive_int)
    token_secret: str = setting(
        "DUMP_TOKEN_SECRET", "",
        "Secret for streaming tokens and locally signed URLs. Local backend: generated into DUMP_LOCAL_DIR when empty.",
        secret=True)
    public_url: str = setting(
        "DUMP_PUBLIC_URL", "",
        "Base URL callers reach this service at (behind a proxy); default: the local server's own address, "
        "else links relative to the request (never the Host header).", _stripped)
    stream_url: str = setting(
        "STREAM_URL", "",
        "Base URL of the streaming function; default: this service (the local server mounts it). On Google with "
        "DUMP_COMPOSE=false it (or DUMP_PUBLIC_URL) is required at start-up.", _stripped)
    compose: bool = setting(
        "DUMP_COMPOSE", "true",
        "Join a multi-file export (and its header) into one stored object behind a signed URL; false serves "
        "it through the streaming function.", boolean)
    prewarm_secret: str = setting(
        "PREWARM_SECRET", "",
        "Secret for POST /datastore/dump/prewarm in the X-Prewarm-Secret header (local backend); empty turns "
        "HTTP pre-warming off there.", secret=True)
    cors_origins: CorsPolicy = setting(
        "CORS_ORIGINS", "",
        "Origins whose browser scripts may call the dump URL, separated by spaces or commas (CKAN's "
        "ckan.cors.origin_whitelist), or `*` for any; empty: no CORS headers. The bucket's CORS (Terraform) "
        "takes the same list.", _cors)
    query_cap: int = setting(
        "DUMP_QUERY_MAX_PER_RESOURCE", "100",
        "Distinct filtered (query) dumps kept per resource; beyond it the least recently requested go, once no "
        "signed URL for them can be live (else a new one answers 503 until there is room).", positive_int)
    query_touch_seconds: float = setting(
        "DUMP_QUERY_TOUCH_SECONDS", "300",
        "A cache hit on a query dump records its request at most this often (one small task and marker write).",
        non_negative_float)
    max_filter_values: int = setting("DUMP_MAX_FILTER_VALUES", "1000",
                                     "Most values a request's `filters` may hold in all.", positive_int)
    max_q_chars: int = setting("DUMP_MAX_Q_CHARS", "1000", "Longest `q` (characters).", positive_int)
    max_q_words: int = setting("DUMP_MAX_Q_WORDS", "32", "Most words in `q` (or per field).",
                               positive_int)
    max_fields: int = setting("DUMP_MAX_FIELDS", "1000", "Most names in `fields`.", positive_int)
    max_sort_keys: int = setting("DUMP_MAX_SORT_KEYS", "32", "Most keys in `sort`.", positive_int)
    url_expiry_hours: float = setting(
        "BIGQUERY_EXPORT_URL_EXPIRY_HOURS", "1",
        "Lifetime of signed download URLs, at most 168; GC keeps superseded exports this long.", _expiry_hours)
    signed_url_window_seconds: int = setting(
        "DUMP_SIGNED_URL_WINDOW_SECONDS", "300",
        "Callers of one download within this window get the same signed URL, signed once per instance; "
        "a URL keeps more than its lifetime minus this. 0 signs every redirect.", _window_seconds)


    @property
    def bounds(self) -> QueryBounds:
        return QueryBounds(self.max_filter_values, self.max_q_chars, self.max_q_words, self.max_fields,
                           self.max_sort_keys)


CORE_SETTINGS: tuple[Setting, ...] = settings_of(Config)


def _optional_positive_int(raw: str):
    return positive_int(raw) if raw.strip() else None


# Read by functions-framework (gunicorn), not by bqdump: declared so a deployment's environment is all known.
PLATFORM_SETTINGS: tuple[Setting, ...] = (
    Setting("THREADS", "", "functions-framework: request threads per process; Terraform sets it to the instance's "
            "request concurrency (empty: 4 per CPU).", _optional_positive_int),
    Setting("WORKERS", "1", "functions-framework: worker processes per instance.", positive_int),
)


def all_settings() -> tuple[Setting, ...]:
    from functions.adapters.google.config import GOOGLE_SETTINGS
    from functions.auth import AUTH_SETTINGS

    return CORE_SETTINGS + tuple(AUTH_SETTINGS) + GOOGLE_SETTINGS + PLATFORM_SETTINGS


ASSEMBLY_SLACK_SECONDS = 60  # a worker delivery's time after its wait: assembly, publish, the answer
GOOGLE_REQUIRED = ("project", "dataset", "bucket")  # GoogleConfig fields without which nothing works


@dataclass(frozen=True)
class Settings:
    """Every configuration the process runs with, parsed from the environment and checked once, at start-up."""

    core: Config
    auth: AuthSettings
    google: GoogleConfig | None  # on the Google backend; its dispatch deadline is resolved (never 0)


def load_settings(env: Mapping[str, str]) -> Settings:
    """Every setting read and every rule between settings checked here, without building any client: a bad or
    missing one raises ConfigurationError naming it, so the process stops before it serves anything."""
    from functions.auth.settings import load_auth_settings

    core = read_settings(Config, env)
    auth = load_auth_settings(env)
    if core.backend != "google":
        return Settings(core, auth, None)
    if not core.token_secret:
        raise ConfigurationError("DUMP_TOKEN_SECRET is required with DUMP_BACKEND=google (mount it from Secret Manager).")
    if not core.compose and not (core.stream_url or core.public_url):
        # Redirects are never built from the Host header: without either address a multi-file export would
        # be sent to a relative /stream path, which the dump function does not serve.
        raise ConfigurationError("STREAM_URL (the streaming function's URL) or DUMP_PUBLIC_URL is required with "
                                 "DUMP_BACKEND=google and DUMP_COMPOSE=false.")
    return Settings(core, auth, _google(env, core.worker_wait_seconds))


def _google(env: Mapping[str, str], worker_wait_seconds: float) -> GoogleConfig:
    from functions.adapters.google.config import GoogleConfig

    google = read_settings(GoogleConfig, env)
    declared = {item.name: item.metadata[SETTING] for item in fields(GoogleConfig)}
    for name in GOOGLE_REQUIRED:
        if not getattr(google, name):
            raise ConfigurationError(f"{declared[name].name} is required with DUMP_BACKEND=google. {declared[name].help}")
    if bool(google.tasks_queue) != bool(google.worker_url):
        raise ConfigurationError("TASKS_QUEUE and WORKER_URL go together: set both (the dump function) or neither.")
    if google.read_only.kind == "adc":  # BIGQUERY_CREDENTIALS_RO empty: never silently ADC when a key was given
        google = replace(google, read_only=google.read_write)
    for source, name in ((google.read_write, "BIGQUERY_CREDENTIALS"), (google.read_only, "BIGQUERY_CREDENTIALS_RO")):
        if source.kind == "anonymous" and not (google.bigquery_endpoint and google.storage_endpoint):
            raise ConfigurationError(f"{name}=anonymous works only against emulators: set BIGQUERY_API_ENDPOINT "
                                     "and STORAGE_API_ENDPOINT too.")
    return replace(google, dispatch_deadline_seconds=_dispatch_deadline(google, worker_wait_seconds))


def _dispatch_deadline(google: GoogleConfig, worker_wait_seconds: float) -> int:
    """A delivery waits DUMP_WORKER_WAIT_SECONDS, then assembles: the deadline must hold both."""
    needed = int(worker_wait_seconds) + ASSEMBLY_SLACK_SECONDS
    if not google.dispatch_deadline_seconds:
        return min(1800, max(15, needed))
    if google.dispatch_deadline_seconds < needed:
        raise ConfigurationError(
            f"TASKS_DISPATCH_DEADLINE_SECONDS={google.dispatch_deadline_seconds} is shorter than "
            f"DUMP_WORKER_WAIT_SECONDS + {ASSEMBLY_SLACK_SECONDS} ({needed}): a delivery would be cut off while it "
            "assembles.")
    return google.dispatch_deadline_seconds


def markdown_table() -> str:
    """The README's settings table: `python -m functions.settings` prints it."""
    rows = ["| name | default | meaning |", "|---|---|---|"]
    for declared in all_settings():
        default = f"`{declared.default}`" if declared.default else ""
        rows.append(f"| `{declared.name}` | {default} | {declared.help} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
