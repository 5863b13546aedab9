"""The local server in its own process, for benchmarks that measure it from outside.

Environment as for `python main.py serve` (DUMP_LOCAL_DIR, DUMP_SHARD_BYTES, ...), but on a free port:
prints "PORT <n>" once listening, serves until its stdin is closed.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from functions.local_server import make_local_server  # noqa: E402
from functions.wiring import build_app  # noqa: E402


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    if not os.environ.get("BENCH_ACCESS_LOG"):
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no per-request access log line
    app = build_app(os.environ)
    server = make_local_server(app.doors, "127.0.0.1", 0)
    print(f"PORT {server.port}", flush=True)
    threading.Thread(target=lambda: (sys.stdin.read(), server.shutdown()), daemon=True).start()
    try:
        server.serve_forever()
    finally:
        server.server_close()
        app.close()


if __name__ == "__main__":
    main()
