"""Settings of the Google backend, each declared once on its field with its own parser (no client built here);
`functions.settings.load_settings` reads them and checks how they combine."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from functions.adapters.google import sql as bigquery_sql
from functions.core.settings_schema import Setting, setting, settings_of

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"

ANONYMOUS = "anonymous"
_QUEUE = re.compile(r"projects/[a-z][a-z0-9:.-]{1,62}/locations/[a-z0-9-]{1,63}/queues/[A-Za-z0-9-]{1,100}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _optional(check):
    def parse(raw: str) -> str:
        value = raw.strip()
        return check(value) if value else ""

    return parse


def _project(raw: str) -> str:
    return bigquery_sql.project_id(raw.strip())


def _dataset(raw: str) -> str:
    return bigquery_sql.dataset_id(raw.strip())


def _bucket(raw: str) -> str:
    value = raw.strip()
    if value.startswith("gs://"):
        raise ValueError("give the bucket name without gs://")
    return bigquery_sql.bucket_name(value)


def _url(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError("must be an http(s) URL")
    return value


def _email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError("must be a service account email")
    return value


def _queue(value: str) -> str:
    if not _QUEUE.fullmatch(value):
        raise ValueError("must look like projects/P/locations/L/queues/Q")
    return value


def _deadline(raw: str) -> int:
    if not raw.strip():
        return 0
    seconds = int(raw)
    if not 15 <= seconds <= 1800:
        raise ValueError("must be 15 to 1800 (Cloud Tasks' bounds)")
    return seconds


def _order_column(raw: str) -> str:
    value = raw.strip()
    if value.lower() == "none":
        return ""
    bigquery_sql.quote_identifier(value)
    return value


def _endpoint(value: str) -> str:
    if "://" in value:
        return _url(value)
    if not re.fullmatch(r"[A-Za-z0-9.-]+(:\d+)?", value):
        raise ValueError("must be host[:port] or an http(s) URL")
    return value


@dataclass(frozen=True)
class CredentialSource:
    """Where one identity's credentials come from; `info` stays out of repr so it is never logged."""

    kind: str  # "adc", "info" (a parsed key file) or "anonymous" (emulators only)
    info: dict | None = None
    label: str = ""

    def __repr__(self) -> str:
        return f"CredentialSource({self.kind}{', ' + self.label if self.label else ''})"


def _credentials(raw: str) -> CredentialSource:
    """A service-account JSON blob, a path to one, `anonymous` (emulators), or empty for Application Default Credentials."""
    value = raw.strip()
    if not value:
        return CredentialSource("adc")
    if value == ANONYMOUS:
        return CredentialSource("anonymous")
    if value.startswith("{"):
        text, label = value, "inline JSON"
    else:
        path = Path(value).expanduser()
        if not path.is_file():
            raise ValueError(f"is neither JSON nor a readable file ({path} does not exist)")
        text, label = path.read_text(), str(path)
    try:
        info = json.loads(text)
    except ValueError:
        raise ValueError(f"{label} is not valid JSON") from None
    if not isinstance(info, dict) or not info.get("type"):
        raise ValueError(f"{label} is not a Google credentials file (no \"type\")")
    if info["type"] == "service_account" and not (info.get("client_email") and info.get("private_key")):
        raise ValueError(f"{label} is a service account key without client_email or private_key")
    return CredentialSource("info", info, label)


@dataclass(frozen=True)
class GoogleConfig:
    project: str = setting(
        "BIGQUERY_PROJECT", "", "Google backend (required): project holding the dataset; export jobs run there.",
        _optional(_project))
    dataset: str = setting(
        "BIGQUERY_DATASET", "", "Google backend (required): dataset whose tables are the resources "
        "(resource id = table name).", _optional(_dataset))
    bucket: str = setting(
        "BIGQUERY_EXPORT_BUCKET", "", "Google backend (required): bucket (name, no gs://) the exports are "
        "written to and served from.", _optional(_bucket))
    read_write: CredentialSource = setting(
        "BIGQUERY_CREDENTIALS", "", "Read-write identity (exports, writes, deletes, URL signing, task creation): "
        "service-account JSON, a path to it, empty for Application Default Credentials, or `anonymous` (emulators).",
        _credentials, secret=True)
    read_only: CredentialSource = setting(
        "BIGQUERY_CREDENTIALS_RO", "", "Read-only identity (table metadata, cache lookups, streaming reads), "
        "same forms; empty uses BIGQUERY_CREDENTIALS.", _credentials, secret=True)
    signing_service_account: str = setting(
        "SIGNING_SERVICE_ACCOUNT", "", "Service account that signs download URLs through IAM signBlob when the "
        "read-write credentials hold no private key; default: their own email.", _optional(_email))
    order_column: str = setting(
        "DUMP_ORDER_COLUMN", "_id", "Column exports are ordered by when the table has it (CKAN's row id), "
        "so rows keep one order across files; `none`: the table's natural order.", _order_column)
    tasks_queue: str = setting(
        "TASKS_QUEUE", "", "Cloud Tasks queue of export tasks, projects/P/locations/L/queues/Q "
        "(with WORKER_URL; both empty: this function queues nothing).", _optional(_queue))
    worker_url: str = setting(
        "WORKER_URL", "", "URL Cloud Tasks posts export tasks to (the export worker's).", _optional(_url))
    tasks_service_account: str = setting(
        "TASKS_SERVICE_ACCOUNT", "", "Service account whose OIDC token Cloud Tasks attaches to worker calls; "
        "the worker accepts only its tokens.", _optional(_email))
    worker_audience: str = setting(
        "WORKER_AUDIENCE", "", "When set, the worker requires a Google OIDC token with this audience "
        "(its URL) and answers 401 otherwise.", _optional(_url))
    prewarm_audience: str = setting(
        "PREWARM_AUDIENCE", "", "When set, POST /datastore/dump/prewarm requires a Google OIDC token with this "
        "audience; empty turns HTTP pre-warming off on the Google backend.", _optional(_url))
    prewarm_service_account: str = setting(
        "PREWARM_SERVICE_ACCOUNT", "", "Service account whose OIDC token (Cloud Scheduler's) may pre-warm.",
        _optional(_email))
    bigquery_endpoint: str = setting(
        "BIGQUERY_API_ENDPOINT", "", "BigQuery API base URL (emulators); empty: Google's.", _optional(_url))
    storage_endpoint: str = setting(
        "STORAGE_API_ENDPOINT", "", "Cloud Storage API base URL (emulators); empty: Google's.", _optional(_url))
    tasks_endpoint: str = setting(
        "TASKS_API_ENDPOINT", "", "Cloud Tasks gRPC endpoint host:port; an http:// URL means plaintext "
        "(emulators); empty: Google's.", _optional(_endpoint))
    dispatch_deadline_seconds: int = setting(
        "TASKS_DISPATCH_DEADLINE_SECONDS", "", "Cloud Tasks dispatch deadline of export tasks, 15 to 1800 "
        "(Terraform: the worker's timeout); at least DUMP_WORKER_WAIT_SECONDS + 60 (assembly). Empty: exactly that.",
        _deadline)
    oidc_certs_url: str = setting(
        "OIDC_CERTS_URL", GOOGLE_CERTS_URL, "Certificates OIDC tokens of Cloud Tasks and Cloud Scheduler are "
        "verified against (Google's; a test key's in the deploy rehearsal).", _url)

    def __repr__(self) -> str:
        return f"GoogleConfig(project={self.project!r}, dataset={self.dataset!r}, bucket={self.bucket!r})"


GOOGLE_SETTINGS: tuple[Setting, ...] = settings_of(GoogleConfig)
