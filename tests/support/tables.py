"""Tables the service tests load into the real local warehouse, what their downloads must contain, and a GET."""

from __future__ import annotations

import duckdb
import requests

SMALL_CSV = (
    "id,name,amount,seen_at,note\n"
    "1,alpha,9007199254740993,2024-01-02 03:04:05,\n"
    "2,\"beta, with comma\",-5,2024-01-02 03:04:05.25,\"quoted \"\"text\"\"\"\n"
    "3,gamma,,,\n"
)
EXPECTED_CSV = (  # CKAN's layout: a CRLF header line, LF rows, timestamps with milliseconds
    "id,name,amount,seen_at,note\r\n"
    "1,alpha,9007199254740993,2024-01-02T03:04:05.000,\n"
    "2,\"beta, with comma\",-5,2024-01-02T03:04:05.250,\"quoted \"\"text\"\"\"\n"
    "3,gamma,,,\n"
)
EXPECTED_NDJSON = (
    '{"id":1,"name":"alpha","amount":9007199254740993,"seen_at":"2024-01-02T03:04:05.000","note":null}\n'
    '{"id":2,"name":"beta, with comma","amount":-5,"seen_at":"2024-01-02T03:04:05.250","note":"quoted \\"text\\""}\n'
    '{"id":3,"name":"gamma","amount":null,"seen_at":null,"note":null}\n'
)


def load_csv(app, rid, text, tmp_path):
    source = tmp_path / f"{rid}.csv"
    source.write_text(text)
    app.backend.read_write.warehouse.load(rid, source)


def load_numbers(app, rid, rows, tmp_path):
    """A bigger table (ids with padding text) so small DUMP_SHARD_BYTES splits its exports."""
    source = tmp_path / f"{rid}.parquet"
    duckdb.sql(f"COPY (SELECT range AS id, 'row-' || lpad(range::VARCHAR, 8, '0') AS label, "
               f"TIMESTAMP '2020-01-01' + to_seconds(range) AS at FROM range({rows})) TO '{source}' (FORMAT parquet)")
    app.backend.read_write.warehouse.load(rid, source)


def get_dump(live, rid, headers=None, **params):
    return requests.get(f"{live.url}/datastore/dump/{rid}", params=params, headers=headers, allow_redirects=False,
                        timeout=30)
