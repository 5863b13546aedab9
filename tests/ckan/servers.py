"""Real CKAN 2.12 for the conformance suite: PostgreSQL, CKAN's own WSGI app (`ckan run`), and a Solr stand-in.

- PostgreSQL: Debian's server binaries when installed, else the `pgserver` wheel's (scripts/setup-ckan.sh adds
  it to .venv-ckan). PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user
  (or `nobody`); without root it runs as the caller. The cluster uses ICU's `en-US` collation, CKAN's usual
  `en_US` order, the same on every machine whatever locales it has.
- Redis: not started. CKAN 2.12 only logs "Could not connect to Redis" at start-up; sessions are cookies; the
  dump and datastore_search never touch it; datastore_create/upsert queue background jobs (Redis) only for a
  DataStore-uploaded resource (url_type "datastore") or a background record count, which the loader
  (tests/ckan/conftest.py) does not ask for.
- Solr: a stand-in, because CKAN's dump never reads the search index: `package_create` and `resource_create`
  only push the dataset into it. The stand-in answers the three calls CKAN makes (the schema version check,
  a `select` ping, `update`) and keeps nothing.
Every server binds 127.0.0.1 on a free port and is stopped by its own process id.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
CKAN_VENV = ROOT / ".venv-ckan"
CKAN_BIN = CKAN_VENV / "bin" / "ckan"
CKAN_PYTHON = CKAN_VENV / "bin" / "python"
START_TIMEOUT = 180.0  # a busy two-core CI machine: CKAN's first import takes tens of seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bin() -> Path | None:
    """Debian's newest PostgreSQL server, else the pgserver wheel's binaries in .venv-ckan; None: neither."""
    for found in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True):
        return Path(found).parent
    wheel = glob.glob(str(CKAN_VENV / "lib" / "python*" / "site-packages" / "pgserver" / "pginstall" / "bin"))
    return Path(wheel[0]) if wheel else None


def _server_user() -> str | None:
    """The user PostgreSQL runs as: None (the caller) unless we are root, which PostgreSQL refuses."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root, and there is no postgres or nobody user to run PostgreSQL as")


def reachable_by_server_user(path: Path) -> bool:
    """Can the user PostgreSQL runs as enter `path` (and so a data folder below it)?"""
    user = _server_user()
    if user is None:
        return True
    return subprocess.run(["test", "-x", str(path)], user=user).returncode == 0


def _wait(ready, what: str, process: subprocess.Popen, log: Path, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited ({process.returncode}):\n{log.read_text()[-4000:]}")
        if ready():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready after {timeout:.0f}s:\n{log.read_text()[-4000:]}")


def _stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


class SqlError(RuntimeError):
    pass


class Postgres:
    """One PostgreSQL cluster in `data_dir` (created by `initdb()`), served on a free port by `start()`."""

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.bin = postgres_bin()
        if self.bin is None:
            raise RuntimeError("no PostgreSQL server binaries: install Debian's postgresql or run scripts/setup-ckan.sh")
        self.user = _server_user()
        self.port = 0
        self.process: subprocess.Popen | None = None

    def _as_server_user(self) -> dict:
        return {"user": self.user} if self.user else {}

    def initdb(self) -> None:
        self.data_dir.mkdir(parents=True)
        if self.user:
            shutil.chown(self.data_dir, self.user)
        subprocess.run([str(self.bin / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "--auth=trust",
                        "--encoding=UTF8", "--locale=C.UTF-8", "--locale-provider=icu", "--icu-locale=en-US"],
                       check=True, capture_output=True, **self._as_server_user())

    def start(self) -> None:
        self.port = free_port()
        log = self.data_dir.parent / "postgres.log"
        log.touch()
        if self.user:
            shutil.chown(log, self.user)
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [str(self.bin / "postgres"), "-D", str(self.data_dir), "-p", str(self.port), "-h", "127.0.0.1",
                 "-c", "unix_socket_directories=", "-c", "fsync=off", "-c", "full_page_writes=off"],
                stdout=out, stderr=subprocess.STDOUT, **self._as_server_user())
        _wait(self._accepts, "PostgreSQL", self.process, log)

    def _accepts(self) -> bool:
        try:
            self.sql("postgres", "SELECT 1")
            return True
        except SqlError:
            return False

    def url(self, user: str, database: str) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def sql(self, database: str, *statements: str) -> None:
        """Run each SQL text as the superuser, outside a transaction, with CKAN's own psycopg2 (from .venv-ckan:
        our venv has no PostgreSQL driver)."""
        script = ("import json, sys, psycopg2\n"
                  "c = psycopg2.connect(sys.argv[1]); c.autocommit = True\n"
                  "[c.cursor().execute(s) for s in json.load(sys.stdin)]\n")
        done = subprocess.run([str(CKAN_PYTHON), "-c", script, self.url("postgres", database)],
                              input=json.dumps(statements).encode(), capture_output=True)
        if done.returncode:
            raise SqlError(done.stderr.decode(errors="replace")[-3000:])

    def stop(self) -> None:
        _stop(self.process)  # SIGTERM: PostgreSQL's smart shutdown, the cluster stays reusable


class SolrStandIn:
    """Answers CKAN's schema check, its `select` ping and `update` pushes; keeps nothing (the dump never searches)."""

    SCHEMA = b'<?xml version="1.0" encoding="UTF-8" ?>\n<schema name="ckan-2.12" version="1.6"></schema>\n'

    def __init__(self):
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                stand_in._answer(self)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                stand_in._answer(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/solr/ckan"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?")[0].rstrip("/")
        if path.endswith("/schema") or path.endswith("/admin/file"):
            body, kind = self.SCHEMA, "application/xml"
        elif path.endswith("/select"):
            body = json.dumps({"responseHeader": {"status": 0}, "response": {"numFound": 0, "start": 0, "docs": []}})
            body, kind = body.encode(), "application/json"
        else:  # /update: index pushes and commits
            body, kind = b'{"responseHeader":{"status":0,"QTime":0}}', "application/json"
        handler.send_response(200)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


INI = """\
[app:main]
use = egg:ckan
ckan.site_url = {site_url}
ckan.site_id = conformance
sqlalchemy.url = {main_url}
ckan.datastore.write_url = {write_url}
ckan.datastore.read_url = {read_url}
solr_url = {solr_url}
ckan.redis.url = redis://127.0.0.1:{redis_port}/0
ckan.plugins = datastore
ckan.storage_path = {storage}
ckan.auth.create_unowned_dataset = true
SECRET_KEY = conformance-suite-only-not-a-secret
api_token.jwt.encode.secret = string:conformance-suite-only-not-a-secret
api_token.jwt.decode.secret = string:conformance-suite-only-not-a-secret
WTF_CSRF_ENABLED = false
ckan.devserver.threaded = true

[loggers]
keys = root

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(asctime)s %(levelname)-5.5s [%(name)s] %(message)s
"""


class Ckan:
    """CKAN 2.12 (its `ckan run` WSGI server) over `postgres`, with its config under `work_dir`."""

    def __init__(self, postgres: Postgres, solr: SolrStandIn, work_dir: Path):
        self.postgres, self.solr, self.work_dir = postgres, solr, Path(work_dir)
        self.port = 0
        self.process: subprocess.Popen | None = None
        self.ini = self.work_dir / "ckan.ini"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_config(self) -> None:
        self.port = self.port or free_port()
        storage = self.work_dir / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        self.ini.write_text(INI.format(
            site_url=self.url, main_url=self.postgres.url("ckan", "ckan"),
            write_url=self.postgres.url("ckan", "datastore"), read_url=self.postgres.url("datastore_ro", "datastore"),
            solr_url=self.solr.url, redis_port=free_port(), storage=storage))

    def cli(self, *args: str) -> str:
        done = subprocess.run([str(CKAN_BIN), "-c", str(self.ini), *args], capture_output=True, text=True,
                              cwd=self.work_dir)
        if done.returncode:
            raise RuntimeError(f"ckan {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
        return done.stdout

    def create_databases(self) -> None:
        """CKAN's main and DataStore databases and its read-only user, as CKAN's install guide sets them up."""
        self.postgres.sql("postgres", "CREATE ROLE ckan LOGIN", "CREATE ROLE datastore_ro LOGIN",
                          "CREATE DATABASE ckan OWNER ckan", "CREATE DATABASE datastore OWNER ckan")
        self.write_config()
        self.cli("db", "init")
        script = self.cli("datastore", "set-permissions")  # for psql: its one `\\connect` is to this database
        self.postgres.sql("datastore", "\n".join(line for line in script.splitlines()
                                                  if not line.startswith("\\connect")))

    def sysadmin_token(self) -> str:
        self.cli("user", "add", "loader", "email=loader@example.invalid", "password=conformance-suite-0nly")
        self.cli("sysadmin", "add", "loader")
        return self.cli("user", "token", "add", "loader", "conformance").strip().splitlines()[-1].strip()

    def start(self) -> None:
        self.write_config()
        log = self.work_dir / "ckan.log"
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [str(CKAN_BIN), "-c", str(self.ini), "run", "-H", "127.0.0.1", "-p", str(self.port),
                 "--disable-reloader", "--disable-debugger", "--threaded"],
                stdout=out, stderr=subprocess.STDOUT, cwd=self.work_dir)
        _wait(self._answers, "CKAN", self.process, log)

    def _answers(self) -> bool:
        try:
            return requests.get(f"{self.url}/api/3/action/status_show", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def action(self, action: str, token: str, **data) -> dict:
        answer = requests.post(f"{self.url}/api/3/action/{action}", json=data, headers={"Authorization": token},
                               timeout=600)
        body = answer.json()
        if not body.get("success"):
            raise RuntimeError(f"{action} failed ({answer.status_code}): {json.dumps(body)[:2000]}")
        return body["result"]

    def stop(self) -> None:
        _stop(self.process)
