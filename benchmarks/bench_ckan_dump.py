"""CKAN dumps end to end: a filtered dump request -> published 302, beside a raw DuckDB COPY of the same query;
and json and xml beside csv for the whole table, request -> published 302.

Set-up: the demo flights table (336,776 rows, 19 columns, no `_id`, so no default order), served in this
process (functions.wiring.build_app + make_local_server, as `python main.py serve`). Each repetition loads the
table again (a new revision) so every request is cold: parse, check against the schema, queue, export, publish,
redirect. The filtered dump is CKAN's `filters={"carrier": "UA", "month": 7}` (one carrier, one month).

Peers, reading the table's own Parquet file (page cache warm):
  raw COPY, threads=1         COPY (SELECT * FROM read_parquet(..) WHERE carrier = 'UA' AND month = 7) TO .. csv
  raw COPY, default threads   the same with DuckDB's default thread count
  whole-table csv request     the same pipeline with format=csv, beside format=json and format=xml

    .venv/bin/python benchmarks/bench_ckan_dump.py [--reps 3]
"""

from __future__ import annotations

import argparse
import http.client
import json
import time
from pathlib import Path
from urllib.parse import urlencode

import duckdb

from _common import (InProcessServer, emit_result, env_for, flights_csv, load_flights, median, table, temp_dir,
                     time_copy)

from functions.adapters.local.sql import quote_literal  # noqa: E402

FILTERS = {"carrier": "UA", "month": 7}


def cold_request(port: int, params: dict) -> tuple[float, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    start = time.perf_counter()
    conn.request("GET", "/datastore/dump/flights?" + urlencode(params))
    answer = conn.getresponse()
    answer.read()
    elapsed = time.perf_counter() - start
    conn.close()
    if answer.status != 302:
        raise RuntimeError(f"dump {params} answered {answer.status}")
    return elapsed, answer.status


def raw_copy(parquet: Path, threads: int | None, reps: int) -> float:
    """The same filter as one DuckDB COPY of the table file, with the values as prepared parameters."""
    source = quote_literal(str(parquet))

    def sql(con, out):
        return (f"COPY (SELECT * FROM read_parquet({source}) WHERE carrier = $1 AND month = $2) "
                f"TO {quote_literal(str(out / 'x.csv'))} (FORMAT csv, HEADER)")

    return time_copy(sql, threads, reps, [FILTERS["carrier"], FILTERS["month"]])


def filtered_rows(parquet: Path) -> int:
    with duckdb.connect() as con:
        return con.execute(f"SELECT count(*) FROM read_parquet({quote_literal(str(parquet))}) WHERE carrier = $1 "
                           "AND month = $2", [FILTERS["carrier"], FILTERS["month"]]).fetchone()[0]


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    cases = {
        "filtered csv": {"format": "csv", "filters": json.dumps(FILTERS)},
        "whole csv": {"format": "csv"},
        "whole json": {"format": "json"},
        "whole xml": {"format": "xml"},
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    with temp_dir("ckan") as local_dir:
        load_flights(local_dir)
        with InProcessServer(env_for(local_dir)) as server:
            for rep in range(args.reps):
                if rep:
                    server.app.backend.read_write.warehouse.load("flights", flights_csv(), null_string="NA")  # cold again
                for name, params in cases.items():
                    times[name].append(cold_request(server.port, params)[0])
            parquet = server.app.backend.read_write.warehouse.table_file("flights")
            raw_t1 = raw_copy(parquet, 1, max(args.reps, 5))
            raw_default = raw_copy(parquet, None, max(args.reps, 5))
            rows = filtered_rows(parquet)
    got = {name: median(values) for name, values in times.items()}
    ms = lambda s: f"{s * 1000:.0f} ms"
    print(f"cold request -> 302 (median of {args.reps}, each on a new revision); raw COPYs median of "
          f"{max(args.reps, 5)}. Filter {json.dumps(FILTERS)}: {rows} of 336,776 rows.")
    print(table([
        ["filtered dump (csv)", ms(got["filtered csv"]), f"raw COPY threads=1 {ms(raw_t1)}",
         f"{got['filtered csv'] / raw_t1:.1f}x"],
        ["", "", f"raw COPY default threads {ms(raw_default)}", f"{got['filtered csv'] / raw_default:.1f}x"],
        ["whole table json", ms(got["whole json"]), f"whole table csv {ms(got['whole csv'])}",
         f"{got['whole json'] / got['whole csv']:.1f}x"],
        ["whole table xml", ms(got["whole xml"]), f"whole table csv {ms(got['whole csv'])}",
         f"{got['whole xml'] / got['whole csv']:.1f}x"],
    ], ["measure", "bqdump", "peer", "ratio"]))
    summary = {"filtered_rows": rows, "filtered_ms": round(got["filtered csv"] * 1000, 1),
               "raw_t1_ms": round(raw_t1 * 1000, 1), "raw_default_ms": round(raw_default * 1000, 1),
               "csv_ms": round(got["whole csv"] * 1000, 1), "json_ms": round(got["whole json"] * 1000, 1),
               "xml_ms": round(got["whole xml"] * 1000, 1)}
    emit_result("ckan_dump", **summary)
    return summary


if __name__ == "__main__":
    main()
