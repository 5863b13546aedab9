"""The Google backend's adapters: which identity each one acts as is decided here, and only here.

Read-only identity (`Backend.read_only`): table metadata (revisions) and the bucket (cache lookups, streaming).
Read-write identity (`Backend.read_write`): export jobs and the bucket (post-export listing, writes, GC), URL
signing and task creation. Nothing local is built: downloads are Cloud Storage's signed URLs and Cloud Tasks
calls the worker over HTTP. Clients are built on first use, not here.
"""

from __future__ import annotations

from typing import Mapping

from functions.adapters.google.bigquery import GoogleWarehouse
from functions.adapters.google.clients import READ_ONLY, READ_WRITE, GoogleClients
from functions.adapters.google.config import GoogleConfig
from functions.adapters.google.oidc import OidcCallerCheck
from functions.adapters.google.signer import IAM_ENDPOINT, GcsUrlSigner
from functions.adapters.google.storage import GcsObjectStore
from functions.adapters.google.tasks import CloudTasksQueue, NoTaskQueue
from functions.core import keys
from functions.core.errors import Forbidden
from functions.ports import Backend, Clock, ReadOnlyPorts, ReadWritePorts, TaskQueue, allow_every_caller


POLL_SECONDS = (0.25, 1.0)  # first and longest pause while a request waits for an export (each look is a listing)


def refuse_prewarm(headers: Mapping[str, str]) -> None:
    raise Forbidden("Pre-warming over HTTP is off.", "Set PREWARM_AUDIENCE (Cloud Scheduler's OIDC audience).")


def build_google_backend(google: GoogleConfig, token_secret: str, clock: Clock, *,
                         credentials: Mapping[str, object] | None = None, certs_url: str = "",
                         iam_endpoint: str = IAM_ENDPOINT) -> Backend:
    """`credentials` (by mode), `certs_url` and `iam_endpoint` are for tests; deployments pass none of them."""
    certs_url = certs_url or google.oidc_certs_url
    clients = GoogleClients(google, credentials or {})
    warehouse = GoogleWarehouse(lambda: clients.bigquery(READ_ONLY), lambda: clients.bigquery(READ_WRITE),
                                google.project, google.dataset, google.bucket, google.order_column, clock)
    store = GcsObjectStore(lambda: clients.storage(READ_WRITE), google.bucket, lambda: clients.session(READ_WRITE))
    reader = GcsObjectStore(lambda: clients.storage(READ_ONLY), google.bucket, lambda: clients.session(READ_ONLY))
    signer = GcsUrlSigner(lambda: clients.storage(READ_WRITE), google.bucket, lambda: clients.credentials(READ_WRITE),
                          clock.now, google.signing_service_account, iam_endpoint)
    queue: TaskQueue = NoTaskQueue()
    if google.tasks_queue:
        queue = CloudTasksQueue(clients.tasks, google.tasks_queue, google.worker_url, google.tasks_service_account,
                                google.worker_audience or google.worker_url, google.dispatch_deadline_seconds)
    check_task_caller = allow_every_caller
    if google.worker_audience:
        check_task_caller = OidcCallerCheck(google.worker_audience, google.tasks_service_account, certs_url)
    check_prewarm_caller = refuse_prewarm
    if google.prewarm_audience:
        check_prewarm_caller = OidcCallerCheck(google.prewarm_audience, google.prewarm_service_account, certs_url)
    return Backend(ReadOnlyPorts(warehouse, reader), ReadWritePorts(warehouse, store, queue, signer),
                   keys.derive(token_secret.encode(), keys.STREAM_TOKENS), check_task_caller, check_prewarm_caller,
                   POLL_SECONDS, None, closers=[clients.close], changes=None)
