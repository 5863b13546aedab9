"""Export end to end: first (cold) dump request -> published 302, vs a raw DuckDB COPY of the same rows.

The server runs in THIS process (make_local_server on a free port) so its app object can be
instrumented from outside the app code: the benchmark wraps, on its own objects and module attributes,
the queue's enqueue/deliver, the warehouse's `_export` (connect + DESCRIBE + COPY) and the catalogue's `look`
(the HTTP function's polls); the worker's phases come from the recorder the app is built with (jobs.phases:
`assemble`, shown as publish, holding `header` and `compose`; `gc` after the leftovers are deleted).
DUMP_COMPOSE is left at its default (true): a csv export gets a header object composed with its one file, as
the worker does for every csv. Nothing in the app is edited. Each repetition loads the table again (a new
revision), so every dump request is cold.

Raw peers, all reading the table's own Parquet file (page cache warm for every variant):
  raw COPY, threads=1        COPY (SELECT * FROM read_parquet(..)) TO .. (FORMAT ..)   with SET threads = 1
  raw COPY, default threads  the same with DuckDB's default thread count
  app statement, threads=1   functions.adapters.local.sql.export_statement (per-column formatting,
                             FILE_SIZE_BYTES; csv without header, as with DUMP_COMPOSE=true), timed alone
Formats: csv (FORMAT csv, HEADER), ndjson (FORMAT json), parquet (FORMAT parquet, COMPRESSION zstd).

    .venv/bin/python benchmarks/bench_export.py [--reps 3] [--formats csv,ndjson,parquet]
"""

from __future__ import annotations

import argparse
import http.client
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from _common import (InProcessServer, emit_result, env_for, flights_csv, load_flights, median, table, temp_dir,
                     time_copy)

import functions.adapters.local.warehouse as warehouse_module  # noqa: E402
from functions.adapters.local.sql import export_statement, quote_literal  # noqa: E402
from functions.core.model import ExportJob, Format, Variant  # noqa: E402
from jobs.phases import PhaseTimes  # noqa: E402

RAW_OPTIONS = {"csv": "FORMAT csv, HEADER", "ndjson": "FORMAT json", "parquet": "FORMAT parquet, COMPRESSION zstd"}
EXT = {"csv": "csv", "ndjson": "json", "parquet": "parquet"}


# ---------------------------------------------------------------- raw DuckDB peers

def raw_peers(parquet: Path, fmt: str, reps: int) -> dict[str, float]:
    source = quote_literal(str(parquet))

    def raw(con, out):
        return f"COPY (SELECT * FROM read_parquet({source})) TO {quote_literal(str(out / ('x.' + EXT[fmt])))} " \
               f"({RAW_OPTIONS[fmt]})"

    # the job as the worker builds it with DUMP_COMPOSE=true: csv files without a header (a header object is written)
    job = ExportJob("bench", "flights", Format(fmt), "unused/", 1 << 30, header=False)

    def app(con, out):
        columns = con.execute(f"DESCRIBE SELECT * FROM read_parquet({source})").fetchall()
        return export_statement(str(parquet), [(c[0], c[1]) for c in columns], job, str(out / "d"))

    def app_plain(con, out):  # the app's statement without per-column formatting: what the formatting costs
        return export_statement(str(parquet), [], job, str(out / "d"))

    return {
        "raw_t1": time_copy(raw, 1, reps),
        "raw_default": time_copy(raw, None, reps),
        "app_t1": time_copy(app, 1, reps),
        "app_plain_t1": time_copy(app_plain, 1, reps),
    }


# ---------------------------------------------------------------- instrumentation

class Timeline:
    """Timestamps of named events per format (several formats may be in flight at once)."""

    def __init__(self):
        self.events: list[tuple[str, str, float]] = []
        self.polls: list[tuple[str, float, bool]] = []
        self.lock = threading.Lock()

    def mark(self, name: str, fmt: str) -> None:
        with self.lock:
            self.events.append((name, fmt, time.perf_counter()))

    def first(self, name: str, fmt: str) -> float:
        return next(t for n, f, t in self.events if n == name and f == fmt)

    def wait_for(self, name: str, fmt: str, timeout: float = 30) -> None:
        """The 302 can arrive before the worker has deleted leftovers and run GC: wait for its end."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if any(n == name and f == fmt for n, f, _ in self.events):
                    return
            time.sleep(0.005)
        raise RuntimeError(f"no {name} event for {fmt}")

    def span(self, name: str, fmt: str) -> float:
        """end - start of an optional step (0 when it did not run)."""
        try:
            return self.first(name + ":end", fmt) - self.first(name + ":start", fmt)
        except StopIteration:
            return 0.0


def _format_of(args) -> str:
    for arg in args:
        if isinstance(arg, dict) and "format" in arg:  # a task payload
            return arg["format"]
        if isinstance(arg, str) and arg.startswith("dumps/"):  # an object name: dumps/<rid>/<variant>/...
            return arg.split("/")[2]
        variant = getattr(arg, "variant", None)  # a Target
        if isinstance(variant, Variant):
            return variant.key
        fmt = getattr(arg, "format", None)  # an ExportJob or a Variant
        if isinstance(fmt, Format):
            return fmt.value
    return "?"


def instrument(app, timeline_ref: list) -> None:
    """Wraps functions the app calls through module attributes or this app's objects; no app file changes."""
    def wrap(label, fn):
        def wrapper(*args, **kwargs):
            fmt = _format_of(args)
            timeline_ref[0].mark(label + ":start", fmt)
            try:
                return fn(*args, **kwargs)
            finally:
                timeline_ref[0].mark(label + ":end", fmt)
        return wrapper

    app.backend.read_write.queue.enqueue = wrap("enqueue", app.backend.read_write.queue.enqueue)
    app.backend.read_write.queue.deliver = wrap("deliver", app.backend.read_write.queue.deliver)
    warehouse_module._export = wrap("copy", warehouse_module._export)
    original_look = app.catalogue.look

    def look(*args, **kwargs):  # whatever the signature, record the calls made on the HTTP function's thread
        found = original_look(*args, **kwargs)
        if not threading.current_thread().name.startswith("local-task"):
            with timeline_ref[0].lock:
                timeline_ref[0].polls.append((_format_of(args), time.perf_counter(), bool(found.state.published)))
        return found

    app.catalogue.look = look


PHASE_EVENTS = {"assemble": "publish", "header": "header", "compose": "compose", "gc": "gc"}


class TimelinePhases(PhaseTimes):
    """The recorder the app is built with, one per delivery: the log line's times, and each phase's start and end
    on the current timeline under the format it exports."""

    def __init__(self, target, timeline_ref: list):
        super().__init__(time.perf_counter)
        self.fmt, self.timeline_ref = target.variant.key, timeline_ref

    @contextmanager
    def phase(self, name):
        label = PHASE_EVENTS.get(name)
        if label:
            self.timeline_ref[0].mark(label + ":start", self.fmt)
        try:
            with super().phase(name):
                yield
        finally:
            if label:
                self.timeline_ref[0].mark(label + ":end", self.fmt)


def cold_request(port: int, fmt: str, timeline: Timeline) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    timeline.mark("request:start", fmt)
    # request -> published: a plain cold GET is handed to the follow route once a first piece is final (issue 17);
    # `Prefer: respond-async, wait=60` waits for the published file and answers its 302, as this bench times
    conn.request("GET", f"/datastore/dump/flights?format={fmt}", headers={"Prefer": "respond-async, wait=60"})
    resp = conn.getresponse()
    resp.read()
    timeline.mark("request:end", fmt)
    conn.close()
    if resp.status != 302:
        raise RuntimeError(f"cold dump of {fmt} answered {resp.status}")


def breakdown(t: Timeline, fmt: str) -> dict[str, float]:
    t.wait_for("deliver:end", fmt)
    f = lambda name: t.first(name, fmt)
    polls = [(ts, published) for pf, ts, published in t.polls if pf == fmt]
    published_poll = next(ts for ts, published in polls if published)
    return {
        "total": f("request:end") - f("request:start"),
        "request -> task enqueued": f("enqueue:end") - f("request:start"),
        # the worker thread may start before enqueue() has returned: clamp that to 0
        "queueing (enqueued -> worker starts)": max(0.0, f("deliver:start") - f("enqueue:end")),
        "worker checks -> COPY starts": f("copy:start") - f("deliver:start"),
        "COPY in the worker (connect+DESCRIBE+COPY)": f("copy:end") - f("copy:start"),
        "COPY end -> publish starts (job wait)": f("publish:start") - f("copy:end"),
        "publish (list, header, compose, manifest)": f("publish:end") - f("publish:start"),
        "  of which: write the header object": t.span("header", fmt),
        "  of which: compose header + file into one": t.span("compose", fmt),
        "publish end -> GC starts (delete leftovers)": f("gc:start") - f("publish:end"),
        "GC after publish": f("gc:end") - f("gc:start"),
        "published -> poll sees it (poll interval)": published_poll - f("publish:end"),
        "poll sees it -> 302 received": f("request:end") - published_poll,
        "polls": float(len(polls)),
    }


def poll_schedule(limit: float, poll_first: float, poll_max: float) -> list[float]:
    """When dump.py's polls fall after the first lookup: sleeps of poll_first doubling to poll_max
    (the catalogue's poll_seconds; the local backend sets 10 ms and 50 ms)."""
    times, now, pause = [], 0.0, poll_first
    while now < limit:
        now += pause
        times.append(now)
        pause = min(pause * 2, poll_max)
    return times


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--formats", default="csv,ndjson,parquet")
    args = parser.parse_args()
    formats = args.formats.split(",")

    timeline_ref = [Timeline()]
    results: dict[str, dict] = {}
    with temp_dir("export") as local_dir:
        load_flights(local_dir)
        with InProcessServer(env_for(local_dir),
                             phases=lambda target: TimelinePhases(target, timeline_ref)) as server:
            instrument(server.app, timeline_ref)
            source_csv = flights_csv()
            runs: dict[str, list[dict]] = {fmt: [] for fmt in formats}
            for rep in range(args.reps):
                if rep:
                    server.app.backend.read_write.warehouse.load("flights", source_csv, null_string="NA")  # new revision: cold
                for fmt in formats:
                    timeline_ref[0] = Timeline()
                    cold_request(server.port, fmt, timeline_ref[0])
                    runs[fmt].append(breakdown(timeline_ref[0], fmt))
            # all formats asked for at the same moment: the queue and the warehouse each run 2 jobs at a time
            server.app.backend.read_write.warehouse.load("flights", source_csv, null_string="NA")
            timeline_ref[0] = Timeline()
            threads = [threading.Thread(target=cold_request, args=(server.port, fmt, timeline_ref[0]))
                       for fmt in formats]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            concurrent = {fmt: breakdown(timeline_ref[0], fmt) for fmt in formats}
            parquet = server.app.backend.read_write.warehouse.table_file("flights")
            poll_first, poll_max = server.app.catalogue.poll_seconds
            for fmt in formats:
                peers = raw_peers(parquet, fmt, max(args.reps, 5))
                keys = runs[fmt][0].keys()
                results[fmt] = {"e2e": {k: median([r[k] for r in runs[fmt]]) for k in keys},
                                "all_totals": [r["total"] for r in runs[fmt]], **peers}

    ms = lambda s: f"{s * 1000:.0f} ms"
    print(f"cold dump request -> 302, median of {args.reps} (each on a new table revision), server in-process; "
          "raw COPYs median of 5:")
    rows = []
    for fmt in formats:
        r = results[fmt]
        rows.append([fmt, ms(r["e2e"]["total"]), ms(r["raw_t1"]), ms(r["raw_default"]),
                     f"{r['e2e']['total'] / r['raw_t1']:.1f}x", f"{r['e2e']['total'] / r['raw_default']:.1f}x"])
    print(table(rows, ["format", "bqdump cold->302", "raw COPY threads=1", "raw COPY default threads",
                       "vs threads=1", "vs default"]))
    print()
    print("where the time goes (medians, ms):")
    keys = [k for k in results[formats[0]]["e2e"] if k not in ("total", "polls")]
    rows = [[k] + [ms(results[f]["e2e"][k]) for f in formats] for k in keys]
    rows.append(["= total"] + [ms(results[f]["e2e"]["total"]) for f in formats])
    rows.append(["lookups by the HTTP function (incl. first)"] + [f"{results[f]['e2e']['polls']:.0f}" for f in formats])
    rows.append(["- app statement alone, threads=1"] + [ms(results[f]["app_t1"]) for f in formats])
    rows.append(["- app statement w/o column formatting"] + [ms(results[f]["app_plain_t1"]) for f in formats])
    rows.append(["- raw COPY threads=1"] + [ms(results[f]["raw_t1"]) for f in formats])
    print(table(rows, ["step"] + formats))
    print(f"poll schedule of functions/dump.py (s after the first lookup, the catalogue's poll_seconds = "
          f"{poll_first}, {poll_max}): " + ", ".join(f"{t:.2f}" for t in poll_schedule(0.3, poll_first, poll_max))
          + f", ... (every {poll_max * 1000:.0f} ms)")
    print()
    print(f"all {len(formats)} formats requested at the same moment (one run, ms):")
    keys = ["total", "queueing (enqueued -> worker starts)", "COPY in the worker (connect+DESCRIBE+COPY)",
            "published -> poll sees it (poll interval)"]
    rows = [[k] + [ms(concurrent[f][k]) for f in formats] for k in keys]
    print(table(rows, ["step"] + formats))
    summary = {}
    for fmt in formats:
        e2e = results[fmt]["e2e"]
        summary.update({
            f"{fmt}_cold_ms": round(e2e["total"] * 1000, 1),
            f"{fmt}_raw_t1_ms": round(results[fmt]["raw_t1"] * 1000, 1),
            f"{fmt}_raw_default_ms": round(results[fmt]["raw_default"] * 1000, 1),
            f"{fmt}_worker_copy_ms": round(e2e["COPY in the worker (connect+DESCRIBE+COPY)"] * 1000, 1),
            f"{fmt}_poll_wait_ms": round(e2e["published -> poll sees it (poll interval)"] * 1000, 1),
            f"{fmt}_publish_ms": round(e2e["publish (list, header, compose, manifest)"] * 1000, 1),
            f"{fmt}_compose_ms": round(e2e["  of which: compose header + file into one"] * 1000, 1),
            f"{fmt}_concurrent_cold_ms": round(concurrent[fmt]["total"] * 1000, 1),
            f"{fmt}_concurrent_queueing_ms": round(concurrent[fmt]["queueing (enqueued -> worker starts)"] * 1000, 1),
        })
    emit_result("export", **summary)
    return summary


if __name__ == "__main__":
    main()
