"""A newcomer's first `make run`: time to the first healthy /healthz on a fresh clone, and what it printed before.

    .venv/bin/python benchmarks/bench_first_run.py [--before ec91ea9] [--after HEAD] [--repo .]

Clones the repository twice into a temporary folder (the commit before issue 22's set-up changes, and this
one), runs `make run` in each on a free port with an empty pip cache (as on a fresh machine: packages come
from the package index again), and prints for each: seconds until /healthz answers 200, lines printed before
then, and how many of them were pip's `WARNING: Location ... is ignored` noise. Not part of run_all.py: it
installs the packages twice (minutes, and the package index).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

NOISE = "is ignored: it is neither a file nor a directory"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def first_run(repo: str, commit: str, work: Path, timeout: float) -> dict:
    clone = work / f"clone-{commit[:12]}"
    subprocess.run(["git", "clone", "--quiet", repo, str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", commit], check=True)
    port = free_port()
    env = dict(os.environ, PORT=str(port), PIP_CACHE_DIR=str(work / f"pip-cache-{commit[:12]}"))
    env.pop("DUMP_LOCAL_DIR", None)
    lines: list[str] = []
    started = time.monotonic()
    process = subprocess.Popen(["make", "run"], cwd=clone, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    healthy = None
    try:
        while time.monotonic() - started < timeout and process.poll() is None:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    healthy = time.monotonic() - started
                    break
            except requests.RequestException:
                time.sleep(0.5)
        before = list(lines)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)  # what a user's Ctrl-C sends
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
    return {"commit": commit, "seconds": healthy, "lines": len(before),
            "noise": sum(NOISE in line for line in before), "output": before}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--before", default="ec91ea9")
    parser.add_argument("--after", default="HEAD")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--show", action="store_true", help="print what each run printed before /healthz")
    args = parser.parse_args()
    resolve = lambda ref: subprocess.run(["git", "-C", args.repo, "rev-parse", ref], check=True,  # noqa: E731
                                         capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="bqdump-first-run-") as work:
        runs = [first_run(args.repo, resolve(ref), Path(work), args.timeout) for ref in (args.after, args.before)]
    print(f"{'make run on a fresh clone':32} {'to /healthz':>12} {'lines before':>13} {'pip noise':>10}")
    for label, run in zip(("bqdump (this commit)", "peer (before issue 22)"), runs):
        seconds = f"{run['seconds']:.0f} s" if run["seconds"] is not None else "never"
        print(f"{label + ' ' + run['commit'][:7]:32} {seconds:>12} {run['lines']:>13} {run['noise']:>10}")
    if args.show:
        for run in runs:
            print(f"\n--- {run['commit'][:7]} ---\n" + "".join(run["output"]), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
