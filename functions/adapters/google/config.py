"""Settings of the Google backend, declared once and all checked at start-up (no client is built here)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping
from urllib.parse import urlparse

from functions.core import bigquery_sql
from functions.core.errors import ConfigurationError
from functions.core.settings_schema import Setting

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


def _deadline(value: str) -> int:
    seconds = int(value)
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


REQUIRED = ("BIGQUERY_PROJECT", "BIGQUERY_DATASET", "BIGQUERY_EXPORT_BUCKET")

GOOGLE_SETTINGS: tuple[Setting, ...] = (
    Setting("BIGQUERY_PROJECT", "", "Google backend (required): project holding the dataset; export jobs run there.",
            _optional(_project)),
    Setting("BIGQUERY_DATASET", "", "Google backend (required): dataset whose tables are the resources "
            "(resource id = table name).", _optional(_dataset)),
    Setting("BIGQUERY_EXPORT_BUCKET", "", "Google backend (required): bucket (name, no gs://) the exports are "
            "written to and served from.", _optional(_bucket)),
    Setting("BIGQUERY_CREDENTIALS", "", "Read-write identity (exports, writes, deletes, URL signing, task creation): "
            "service-account JSON, a path to it, empty for Application Default Credentials, or `anonymous` (emulators).",
            _credentials, secret=True),
    Setting("BIGQUERY_CREDENTIALS_RO", "", "Read-only identity (table metadata, cache lookups, streaming reads), "
            "same forms; empty uses BIGQUERY_CREDENTIALS.", _credentials, secret=True),
    Setting("SIGNING_SERVICE_ACCOUNT", "", "Service account that signs download URLs through IAM signBlob when the "
            "read-write credentials hold no private key; default: their own email.", _optional(_email)),
    Setting("DUMP_ORDER_COLUMN", "_id", "Column exports are ordered by when the table has it (CKAN's row id), "
            "so rows keep one order across files; `none`: the table's natural order.", _order_column),
    Setting("TASKS_QUEUE", "", "Cloud Tasks queue of export tasks, projects/P/locations/L/queues/Q "
            "(with WORKER_URL; both empty: this function queues nothing).", _optional(_queue)),
    Setting("WORKER_URL", "", "URL Cloud Tasks posts export tasks to (the export worker's).", _optional(_url)),
    Setting("TASKS_SERVICE_ACCOUNT", "", "Service account whose OIDC token Cloud Tasks attaches to worker calls; "
            "the worker accepts only its tokens.", _optional(_email)),
    Setting("WORKER_AUDIENCE", "", "When set, the worker requires a Google OIDC token with this audience "
            "(its URL) and answers 401 otherwise.", _optional(_url)),
    Setting("PREWARM_AUDIENCE", "", "When set, POST /datastore/dump/prewarm requires a Google OIDC token with this "
            "audience; empty turns HTTP pre-warming off on the Google backend.", _optional(_url)),
    Setting("PREWARM_SERVICE_ACCOUNT", "", "Service account whose OIDC token (Cloud Scheduler's) may pre-warm.",
            _optional(_email)),
    Setting("BIGQUERY_API_ENDPOINT", "", "BigQuery API base URL (emulators); empty: Google's.", _optional(_url)),
    Setting("STORAGE_API_ENDPOINT", "", "Cloud Storage API base URL (emulators); empty: Google's.", _optional(_url)),
    Setting("TASKS_API_ENDPOINT", "", "Cloud Tasks gRPC endpoint host:port; an http:// URL means plaintext "
            "(emulators); empty: Google's.", _optional(_endpoint)),
    Setting("TASKS_DISPATCH_DEADLINE_SECONDS", "", "Cloud Tasks dispatch deadline of export tasks, 15 to 1800 "
            "(Terraform: the worker's timeout); at least DUMP_WORKER_WAIT_SECONDS + 60 (assembly). Empty: exactly that.",
            _optional(_deadline)),
    Setting("OIDC_CERTS_URL", GOOGLE_CERTS_URL, "Certificates OIDC tokens of Cloud Tasks and Cloud Scheduler are "
            "verified against (Google's; a test key's in the deploy rehearsal).", _url),
)


@dataclass(frozen=True)
class GoogleConfig:
    project: str
    dataset: str
    bucket: str
    read_write: CredentialSource
    read_only: CredentialSource
    signing_service_account: str
    order_column: str
    tasks_queue: str
    worker_url: str
    tasks_service_account: str
    worker_audience: str
    prewarm_audience: str
    prewarm_service_account: str
    bigquery_endpoint: str
    storage_endpoint: str
    tasks_endpoint: str
    dispatch_deadline_seconds: int
    oidc_certs_url: str

    def __repr__(self) -> str:
        return f"GoogleConfig(project={self.project!r}, dataset={self.dataset!r}, bucket={self.bucket!r})"


ASSEMBLY_SLACK_SECONDS = 60  # a worker delivery's time after its wait: assembly, publish, the answer


def _dispatch_deadline(env: Mapping[str, str], configured: int | str) -> int:
    """A delivery waits DUMP_WORKER_WAIT_SECONDS and then assembles: the deadline must hold both."""
    from functions.settings import CORE_SETTINGS

    wait = next(s for s in CORE_SETTINGS if s.name == "DUMP_WORKER_WAIT_SECONDS").read(env)
    needed = int(wait) + ASSEMBLY_SLACK_SECONDS
    if not configured:
        return min(1800, max(15, needed))
    if configured < needed:
        raise ConfigurationError(f"TASKS_DISPATCH_DEADLINE_SECONDS={configured} is shorter than DUMP_WORKER_WAIT_SECONDS "
                                 f"+ {ASSEMBLY_SLACK_SECONDS} ({needed}): a delivery would be cut off while it assembles.")
    return configured


def load_google_config(env: Mapping[str, str]) -> GoogleConfig:
    """Every Google setting parsed now; a missing or malformed one raises ConfigurationError naming it."""
    values = {s.name: s.read(env) for s in GOOGLE_SETTINGS}
    for name in REQUIRED:
        if not values[name]:
            setting = next(s for s in GOOGLE_SETTINGS if s.name == name)
            raise ConfigurationError(f"{name} is required with DUMP_BACKEND=google. {setting.help}")
    if bool(values["TASKS_QUEUE"]) != bool(values["WORKER_URL"]):
        raise ConfigurationError("TASKS_QUEUE and WORKER_URL go together: set both (the dump function) or neither.")
    deadline = _dispatch_deadline(env, values["TASKS_DISPATCH_DEADLINE_SECONDS"])
    read_only = values["BIGQUERY_CREDENTIALS_RO"]
    if read_only.kind == "adc" and not env.get("BIGQUERY_CREDENTIALS_RO", "").strip():
        read_only = values["BIGQUERY_CREDENTIALS"]  # never silently ADC when a read-write key was given
    for source, name in ((values["BIGQUERY_CREDENTIALS"], "BIGQUERY_CREDENTIALS"), (read_only, "BIGQUERY_CREDENTIALS_RO")):
        if source.kind == "anonymous" and not (values["BIGQUERY_API_ENDPOINT"] and values["STORAGE_API_ENDPOINT"]):
            raise ConfigurationError(f"{name}=anonymous works only against emulators: set BIGQUERY_API_ENDPOINT "
                                     "and STORAGE_API_ENDPOINT too.")
    return GoogleConfig(
        project=values["BIGQUERY_PROJECT"],
        dataset=values["BIGQUERY_DATASET"],
        bucket=values["BIGQUERY_EXPORT_BUCKET"],
        read_write=values["BIGQUERY_CREDENTIALS"],
        read_only=read_only,
        signing_service_account=values["SIGNING_SERVICE_ACCOUNT"],
        order_column=values["DUMP_ORDER_COLUMN"],
        tasks_queue=values["TASKS_QUEUE"],
        worker_url=values["WORKER_URL"],
        tasks_service_account=values["TASKS_SERVICE_ACCOUNT"],
        worker_audience=values["WORKER_AUDIENCE"],
        prewarm_audience=values["PREWARM_AUDIENCE"],
        prewarm_service_account=values["PREWARM_SERVICE_ACCOUNT"],
        bigquery_endpoint=values["BIGQUERY_API_ENDPOINT"],
        storage_endpoint=values["STORAGE_API_ENDPOINT"],
        tasks_endpoint=values["TASKS_API_ENDPOINT"],
        dispatch_deadline_seconds=deadline,
        oidc_certs_url=values["OIDC_CERTS_URL"],
    )
