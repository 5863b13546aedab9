"""The dump function on the Google backend, with every Google call going through a FaultProxy and counted.

fake-gcs-server and bqemulator each sit behind a proxy that can add a delay to every call; IAM signBlob is
the stand-in from tests/support/fake_iam.py with the same delay (the read-write identity holds no private
key, as on Cloud Functions). The app is assembled by functions.wiring and served by make_local_server in
this process on a free port. Used by tests/contract/test_google_cache_hit.py and the cache-hit benchmark.
"""

from __future__ import annotations

import secrets

import requests
from google.auth.credentials import AnonymousCredentials
from google.oauth2.credentials import Credentials

from functions.adapters.google.clients import READ_ONLY, READ_WRITE
from functions.adapters.system_clock import SYSTEM_CLOCK
from functions.auth import build_authorizer
from functions.core import identifiers
from functions.core.target import Target
from functions.local_server import make_local_server
from functions.settings import load_settings
from functions.wiring import assemble, build_backend
from tests.support.app import with_ports
from tests.contract import keys
from tests.support.export_bridge import BridgedWarehouse
from tests.support.fake_iam import FakeIam
from tests.support.fault_proxy import FaultProxy
from tests.support.servers import ServerThread

PROJECT = "test-project"
CALL_KINDS = {  # kind: (which proxy, method, path pattern)
    "tables.get": ("bigquery", "GET", r"/datasets/[^/]+/tables/[^/?]+(\?|$)"),
    "objects list": ("storage", "GET", r"/storage/v1/b/[^/]+/o\?"),
    "manifest read": ("storage", "GET", r"manifest\.json\?alt=media"),
}


class ProxiedGoogleApp:
    """One table `rid` of `rows` numbered rows in a fresh dataset and bucket; `env` over the defaults."""

    def __init__(self, gcs, bq, *, rid: str = "numbers", rows: int = 2000, delay: float = 0.0,
                 env: dict[str, str] | None = None, queue=None):
        """`queue`: where dump requests queue exports (default: none can be queued, as without TASKS_QUEUE)."""
        self.rid, self.bq_client = rid, bq.client(PROJECT)
        self.bucket = f"bqdump-{secrets.token_hex(4)}"
        self.dataset = f"cache_{secrets.token_hex(4)}"
        gcs.client(PROJECT).create_bucket(self.bucket)
        self.bq_client.create_dataset(self.dataset)
        self.replace_table(f"SELECT x AS _id, CONCAT('row-', CAST(x AS STRING)) AS label "
                           f"FROM UNNEST(GENERATE_ARRAY(1, {rows})) AS x")
        self.storage_proxy = FaultProxy(gcs.endpoint, delay).start()
        self.bigquery_proxy = FaultProxy(bq.endpoint, delay).start()
        self.iam = FakeIam(keys.new_key(), delay)
        self.iam_before = 0
        settings = load_settings({
            "DUMP_BACKEND": "google", "DUMP_TOKEN_SECRET": "cache-secret", "AUTH_TYPE": "anonymous",
            "DUMP_WAIT_SECONDS": "0", "BIGQUERY_PROJECT": PROJECT, "BIGQUERY_DATASET": self.dataset,
            "BIGQUERY_EXPORT_BUCKET": self.bucket, "BIGQUERY_CREDENTIALS": "anonymous",
            "SIGNING_SERVICE_ACCOUNT": keys.SIGNER_EMAIL, "BIGQUERY_API_ENDPOINT": self.bigquery_proxy.url,
            "STORAGE_API_ENDPOINT": self.storage_proxy.url, **(env or {})})
        config = settings.core
        identities = {READ_ONLY: AnonymousCredentials(), READ_WRITE: Credentials(token="runtime-token")}  # no key
        backend = build_backend(settings, SYSTEM_CLOCK, credentials=identities, iam_endpoint=self.iam.url)
        bridged = BridgedWarehouse(backend.read_write.warehouse, bq.export_root, gcs.client(PROJECT).bucket(self.bucket))
        self.app = assemble(config, with_ports(backend, warehouse=bridged, queue=queue),
                            build_authorizer(settings.auth, requests.Session()), SYSTEM_CLOCK)
        self.server = make_local_server(self.app.doors, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.port}"
        self.running = ServerThread(self.server, "google-app")

    def replace_table(self, select: str) -> None:
        """CREATE OR REPLACE: bqemulator moves the table's `modified` on it (not on DML)."""
        self.bq_client.query(f"CREATE OR REPLACE TABLE `{PROJECT}.{self.dataset}.{self.rid}` AS {select}",
                             job_retry=None).result()

    def publish(self, fmt: str = "csv") -> Target:
        """The worker exports and publishes the current revision, as a Cloud Tasks delivery would."""
        target = self.app.catalogue.current(self.rid, identifiers.dump_variant(fmt, None, None))
        outcome = self.app.worker.deliver(target.task_payload(1))
        if outcome.reason != "published":
            raise RuntimeError(f"the worker answered {outcome.body()}")
        return target

    def reset_counts(self) -> None:
        self.storage_proxy.reset_counts()
        self.bigquery_proxy.reset_counts()
        self.iam_before = self.iam.sign_calls

    def calls(self) -> dict[str, int]:
        """Google calls since reset_counts, by kind; `other` counts every call of no named kind."""
        proxies = {"bigquery": self.bigquery_proxy, "storage": self.storage_proxy}
        counted = {kind: proxies[p].count(method, path) for kind, (p, method, path) in CALL_KINDS.items()}
        counted["signBlob"] = self.iam.sign_calls - self.iam_before
        every = len(self.storage_proxy.calls) + len(self.bigquery_proxy.calls) + counted["signBlob"]
        counted["other"] = every - sum(counted.values())
        return counted

    def close(self) -> None:
        self.running.stop()
        self.app.close()
        self.storage_proxy.stop()
        self.bigquery_proxy.stop()
        self.iam.close()
