"""Google clients, built on first use and once per process, one set per identity (read-only, read-write).

The Cloud Storage client of an identity is built from the very credentials object its BigQuery client
uses, so the read-only identity can never silently fall back to Application Default Credentials.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Mapping

from functions.adapters.google.config import CredentialSource, GoogleConfig

READ_ONLY = "read-only"
READ_WRITE = "read-write"
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)


def load_credentials(source: CredentialSource):
    import google.auth
    from google.auth.credentials import AnonymousCredentials

    if source.kind == "anonymous":
        return AnonymousCredentials()
    if source.kind == "adc":
        credentials, _project = google.auth.default(scopes=SCOPES)
        return credentials
    info = source.info or {}
    if info.get("type") == "service_account":
        from google.oauth2 import service_account

        return service_account.Credentials.from_service_account_info(source.info, scopes=SCOPES)
    credentials, _project = google.auth.load_credentials_from_dict(source.info, scopes=SCOPES)
    return credentials


class GoogleClients:
    """`credentials` (tests) maps a mode to a ready credentials object instead of loading it from the settings."""

    def __init__(self, config: GoogleConfig, credentials: Mapping[str, object]):
        self.config = config
        self._given = dict(credentials)
        self._built: dict[tuple[str, str], Any] = {}
        self._lock = threading.RLock()

    def _once(self, key: tuple[str, str], build: Callable[[], object]):
        with self._lock:
            if key not in self._built:
                self._built[key] = build()
            return self._built[key]

    def credentials(self, mode: str):
        def build():
            if mode in self._given:
                return self._given[mode]
            source = self.config.read_only if mode == READ_ONLY else self.config.read_write
            if mode == READ_ONLY and source == self.config.read_write:
                return self.credentials(READ_WRITE)  # one identity configured: one credentials object
            return load_credentials(source)

        return self._once(("credentials", mode), build)

    def bigquery(self, mode: str):
        def build():
            from google.cloud import bigquery

            options = {"api_endpoint": self.config.bigquery_endpoint} if self.config.bigquery_endpoint else None
            return bigquery.Client(project=self.config.project, credentials=self.credentials(mode),
                                   client_options=options)

        return self._once(("bigquery", mode), build)

    def storage(self, mode: str):
        def build():
            from google.cloud import storage

            options = {"api_endpoint": self.config.storage_endpoint} if self.config.storage_endpoint else None
            return storage.Client(project=self.config.project, credentials=self.credentials(mode),
                                  client_options=options)

        return self._once(("storage", mode), build)

    def session(self, mode: str):
        """A requests session authorised as `mode`, for the store's ranged streaming reads."""

        def build():
            from google.auth.transport.requests import AuthorizedSession

            return AuthorizedSession(self.credentials(mode))

        return self._once(("session", mode), build)

    def tasks(self):
        """Created by the read-write identity (it needs actAs on TASKS_SERVICE_ACCOUNT for the OIDC token)."""

        def build():
            from google.cloud import tasks_v2

            endpoint = self.config.tasks_endpoint
            if endpoint.startswith("http://"):  # an emulator: plaintext gRPC
                import grpc
                from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

                channel = grpc.insecure_channel(endpoint[len("http://"):].rstrip("/"))
                return tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))
            options = {"api_endpoint": endpoint.removeprefix("https://").rstrip("/")} if endpoint else None
            return tasks_v2.CloudTasksClient(credentials=self.credentials(READ_WRITE), client_options=options)

        return self._once(("tasks", READ_WRITE), build)

    def close(self) -> None:
        with self._lock:
            for (kind, _mode), client in self._built.items():
                if kind == "tasks":
                    client.transport.close()
                elif kind in ("bigquery", "storage", "session") and hasattr(client, "close"):
                    client.close()
            self._built.clear()
