"""Start bqemulator offline: run with .venv-bqemu/bin/python, not the main venv.

Usage: run_bqemulator.py HOST PORT. It then runs bqemulator's own console
script (bqemulator.cli:main, `start`). Other settings come from BQEMU_*
environment variables (bqemulator.config.Settings): BQEMU_GCS_LOCAL_ROOT,
BQEMU_EXPORT_SHARD_THRESHOLD_BYTES, BQEMU_UPLOAD_STAGING_DIR.

Two patches, both for tests that fail fast instead of hanging:

1. bqemulator 1.4 refuses to start unless DuckDB can INSTALL the spatial
   extension (bqemulator.storage.engine.DuckDBEngine._load_spatial), which
   needs the network. That hook now loads nothing (GEOGRAPHY / ST_* fail at
   query time) and turns DuckDB's extension auto-install and auto-load off, so
   nothing ever tries a download (json, parquet and icu are built in).
2. Any unexpected exception inside bqemulator (an AVRO export without the avro
   extension, a DuckDB conversion error, ...) is answered as HTTP 500 with
   reason "internalError", which google-cloud-bigquery retries for 10 minutes
   (and query jobs again on top). Such errors are deterministic emulator
   failures: they are answered as 500 with reason "emulatorCrash", which the
   client does not retry, and the message carries the real exception.
"""

import os
import sys
import traceback

import bqemulator.api.app as bqemu_app
from bqemulator.cli import main
from bqemulator.storage.engine import DuckDBEngine
from fastapi.responses import JSONResponse


def _offline_extensions(self: DuckDBEngine) -> None:
    self._connection.execute("SET autoinstall_known_extensions = false")
    self._connection.execute("SET autoload_known_extensions = false")


async def _crash_not_retried(_request, exc: Exception) -> JSONResponse:
    traceback.print_exception(exc)
    message = f"bqemulator crashed: {type(exc).__name__}: {exc}"[:2000]
    error = {"domain": "global", "reason": "emulatorCrash", "message": message}
    body = {"error": {"code": 500, "message": message, "errors": [error], "status": "INTERNAL"}}
    return JSONResponse(status_code=500, content=body)


_install_exception_handlers = bqemu_app.install_exception_handlers


def _install_handlers(app) -> None:
    _install_exception_handlers(app)
    app.add_exception_handler(Exception, _crash_not_retried)


DuckDBEngine._load_spatial = _offline_extensions
bqemu_app.install_exception_handlers = _install_handlers

if __name__ == "__main__":
    host, port = sys.argv[1], sys.argv[2]
    # Loading the avro extension at start would be a download attempt too.
    os.environ.setdefault("BQEMU_ENABLE_FORMAT_EXTENSIONS", "false")
    # gRPC (Storage Read/Write API) is not used by the tests: port 0 = any free port.
    sys.exit(main([
        "start", "--ephemeral",
        "--rest-host", host, "--rest-port", port,
        "--grpc-host", "127.0.0.1", "--grpc-port", "0",
        "--log-level", "warning",
    ]))
