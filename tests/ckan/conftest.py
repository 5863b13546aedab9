"""Session fixtures: real CKAN 2.12 loaded with tests/ckan/data.py's tables (its database cached between runs),
and bqdump's embedded default with the same tables under the same resource ids."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from tests.ckan import servers
from tests.ckan.data import TABLES



def cache_root() -> Path:
    """`.bqdump/ckan-cache` in the checkout; as root, PostgreSQL runs as another user, who may not reach a
    checkout under a private home: then a folder of /var/tmp named after the checkout."""
    inside = servers.ROOT / ".bqdump" / "ckan-cache"
    if servers.reachable_by_server_user(servers.ROOT):
        return inside
    return Path("/var/tmp") / f"bqdump-ckan-cache-{hashlib.sha256(str(servers.ROOT).encode()).hexdigest()[:12]}"


CACHE = cache_root()
UPSERT_ROWS = 5000


def cache_key() -> str:
    """The cached CKAN database is valid for this data, this set-up code and this CKAN."""
    digest = hashlib.sha256()
    for path in (Path(__file__).with_name("data.py"), Path(servers.__file__), servers.ROOT / "requirements-ckan.txt"):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass
class RealCkan:
    url: str
    resources: dict[str, str]  # table name -> resource id


def _build(work: Path) -> dict:
    """A fresh cluster with CKAN's databases, a sysadmin, and every table loaded through the action API."""
    postgres = servers.Postgres(work / "pgdata")
    postgres.initdb()
    solr = servers.SolrStandIn()
    ckan = servers.Ckan(postgres, solr, work)
    try:
        postgres.start()
        ckan.create_databases()
        token = ckan.sysadmin_token()
        ckan.start()
        package = ckan.action("package_create", token, name="conformance", title="bqdump conformance")
        resources = {}
        for table in TABLES.values():
            # A resource with a plain URL, then its DataStore table: CKAN schedules background jobs (Redis) only for
            # DataStore-uploaded resources (url_type "datastore") and for background record counts.
            rid = ckan.action("resource_create", token, package_id=package["id"], name=table.name,
                              url=f"http://example.invalid/{table.name}.csv")["id"]
            ckan.action("datastore_create", token, resource_id=rid, fields=table.fields, force=True,
                        calculate_record_count=False)
            for start in range(0, len(table.rows), UPSERT_ROWS):
                ckan.action("datastore_upsert", token, resource_id=rid, method="insert", force=True,
                            calculate_record_count=False, records=table.rows[start:start + UPSERT_ROWS])
            resources[table.name] = rid
        return {"resources": resources}
    finally:
        ckan.stop()
        postgres.stop()
        solr.stop()


@pytest.fixture(scope="session")
def real_ckan():
    if not servers.CKAN_BIN.exists():
        pytest.fail("CKAN is not installed: run `make tools` (scripts/setup-ckan.sh builds .venv-ckan)")
    home = CACHE / cache_key()
    if not (home / "state.json").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        for stale in CACHE.iterdir():  # older data or set-up: one cached database at a time
            shutil.rmtree(stale, ignore_errors=True)
        work = Path(tempfile.mkdtemp(prefix="building-", dir=CACHE))
        os.chmod(work, 0o755)
        state = _build(work)
        (work / "state.json").write_text(json.dumps(state))
        work.rename(home)
    state = json.loads((home / "state.json").read_text())
    postgres = servers.Postgres(home / "pgdata")
    solr = servers.SolrStandIn()
    ckan = servers.Ckan(postgres, solr, home)
    try:
        postgres.start()
        ckan.start()
        yield RealCkan(ckan.url, state["resources"])
    finally:
        ckan.stop()
        postgres.stop()
        solr.stop()


@pytest.fixture(scope="session")
def bqdump_local(real_ckan, tmp_path_factory):
    """The embedded default (DuckDB, a folder bucket) serving the same tables under CKAN's resource ids."""
    from functions.wiring import build_app
    from tests.support.app import LiveServer, local_env

    root = tmp_path_factory.mktemp("bqdump-conformance")
    app = build_app(local_env(root / "app", DUMP_WAIT_SECONDS=120))
    for name, rid in real_ckan.resources.items():
        table = TABLES[name]
        arrow_file = root / f"{name}.arrow.parquet"
        pq.write_table(table.arrow(), arrow_file)
        typed = root / f"{name}.parquet"
        json_cast = ", ".join(f"{duckdb_quote(c)}::JSON AS {duckdb_quote(c)}" for c in table.json_columns())
        select = f"SELECT * REPLACE ({json_cast})" if json_cast else "SELECT *"
        duckdb.sql(f"COPY ({select} FROM read_parquet('{arrow_file}')) TO '{typed}' (FORMAT parquet)")
        app.backend.read_write.warehouse.load(rid, typed)
    with LiveServer(app.doors) as live:
        yield live
    app.close()


def duckdb_quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def pytest_terminal_summary(terminalreporter):
    from tests.ckan.test_conformance import RESULTS

    if not RESULTS:
        return
    counts = {kind: sum(1 for v in RESULTS.values() if v == kind)
              for kind in ("identical", "equal after parsing", "different")}
    terminalreporter.write_line(f"CKAN conformance: {len(RESULTS)} dump URLs: " +
                                ", ".join(f"{n} {kind}" for kind, n in counts.items()))
    out = servers.ROOT / ".bqdump" / "ckan-conformance.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"counts": counts, "cases": RESULTS}, indent=1))
