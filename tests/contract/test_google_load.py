"""`python main.py load <rid> <file>` with DUMP_BACKEND=google: a BigQuery load job on bqemulator, run as an
operator runs it (a subprocess of main.py), compared with the same command on the local backend: the same
rows and column types, the same refusals with the same messages.

Emulator gap: bqemulator cannot change a table's columns on WRITE_TRUNCATE (BigQuery replaces them), so a
reload here keeps the columns; the schema a new table gets is the file's, which both warehouses share.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT, DATASET = "load-project", "datastore"
PEOPLE = [(1, "ann", 1.5, "2024-01-02"), (2, "bob", None, "2024-03-04"), (3, "NA", 2.0, None)]


def files(folder: Path) -> dict[str, Path]:
    """The same table as CSV, TSV, NDJSON and Parquet."""
    folder.mkdir(exist_ok=True)
    csv = folder / "people.csv"
    csv.write_text("id,name,score,day\n1,ann,1.5,2024-01-02\n2,bob,,2024-03-04\n3,NA,2.0,\n")
    tsv = folder / "people.tsv"
    tsv.write_text(csv.read_text().replace(",", "\t"))
    ndjson = folder / "people.ndjson"
    ndjson.write_text('{"id":1,"name":"ann","score":1.5,"day":"2024-01-02"}\n'
                      '{"id":2,"name":"bob","score":null,"day":"2024-03-04"}\n'
                      '{"id":3,"name":"NA","score":2.0,"day":null}\n')
    parquet = folder / "people.parquet"
    pq.write_table(pa.table({"id": [1, 2, 3], "name": ["ann", "bob", "NA"], "score": [1.5, None, 2.0],
                             "day": pa.array([datetime(2024, 1, 2).date(), datetime(2024, 3, 4).date(), None])}),
                   parquet)
    return {"csv": csv, "tsv": tsv, "ndjson": ndjson, "parquet": parquet}


@pytest.fixture(scope="module")
def dataset(bigquery_emulator):
    client = bigquery_emulator.client(PROJECT)
    client.create_dataset(DATASET, exists_ok=True)
    return client


def google_env(bigquery_emulator, tmp_path) -> dict:
    return {**os.environ, "DUMP_BACKEND": "google", "BIGQUERY_PROJECT": PROJECT, "BIGQUERY_DATASET": DATASET,
            "BIGQUERY_CREDENTIALS": "anonymous", "BIGQUERY_API_ENDPOINT": bigquery_emulator.endpoint,
            "HOME": str(tmp_path)}


def local_env(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DUMP_", "BIGQUERY_"))}
    return {**env, "DUMP_LOCAL_DIR": str(tmp_path / "local"), "HOME": str(tmp_path)}


def load(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "main.py", "load", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=180)


def rows(client, resource_id: str) -> list[tuple]:
    result = client.query(f"SELECT * FROM `{PROJECT}.{DATASET}.{resource_id}` ORDER BY id").result()
    return [tuple(row.values()) for row in result]


def local_rows(tmp_path, resource_id: str) -> tuple[list[tuple], list[str]]:
    from functions.adapters.local.warehouse import LocalWarehouse
    from functions.adapters.system_clock import SYSTEM_CLOCK

    warehouse = LocalWarehouse(tmp_path / "local", tmp_path / "local" / "bucket", SYSTEM_CLOCK, 1)  # as the CLI
    try:
        path = str(warehouse.table_file(resource_id))
    finally:
        warehouse.close()
    with duckdb.connect() as con:
        found = con.execute("SELECT * FROM read_parquet(?) ORDER BY id", [path]).fetchall()
        types = [kind for _name, kind, *_ in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [path]).fetchall()]
    return found, types


@pytest.mark.parametrize("kind", ["csv", "tsv", "ndjson", "parquet"])
def test_a_file_loads_into_bigquery_as_it_loads_locally(kind, dataset, bigquery_emulator, tmp_path):
    source = files(tmp_path / "files")[kind]
    resource_id = f"people-{kind}-{secrets.token_hex(3)}"
    loaded = load(google_env(bigquery_emulator, tmp_path), resource_id, str(source))
    assert loaded.returncode == 0, loaded.stderr
    assert f"{resource_id}: created from {source.name}: 3 rows, 4 columns." in loaded.stdout
    assert "100%" in loaded.stderr

    table = dataset.get_table(f"{PROJECT}.{DATASET}.{resource_id}")
    assert [f.name for f in table.schema] == ["id", "name", "score", "day"]
    assert [f.field_type for f in table.schema] == ["INTEGER", "STRING", "FLOAT", "DATE"]
    got = rows(dataset, resource_id)
    assert [(i, n, s, d and d.isoformat()) for i, n, s, d in got] == PEOPLE

    assert load(local_env(tmp_path), resource_id, str(source)).returncode == 0
    local, types = local_rows(tmp_path, resource_id)
    assert local == got  # the same values, as the local warehouse holds them
    assert types == ["BIGINT", "VARCHAR", "DOUBLE", "DATE"]


def test_a_reload_replaces_the_rows_and_moves_modified(dataset, bigquery_emulator, tmp_path):
    source = files(tmp_path / "files")["csv"]
    resource_id = f"people-reload-{secrets.token_hex(3)}"
    env = google_env(bigquery_emulator, tmp_path)
    assert load(env, resource_id, str(source)).returncode == 0
    first = dataset.get_table(f"{PROJECT}.{DATASET}.{resource_id}").modified
    source.write_text("id,name,score,day\n7,zed,0.5,2025-05-05\n")
    again = load(env, resource_id, str(source))
    assert again.returncode == 0, again.stderr
    assert rows(dataset, resource_id) == [(7, "zed", 0.5, datetime(2025, 5, 5).date())]
    assert dataset.get_table(f"{PROJECT}.{DATASET}.{resource_id}").modified > first  # the next dump is new
    assert "people.csv" in dataset.get_table(f"{PROJECT}.{DATASET}.{resource_id}").description
    modified = dataset.get_table(f"{PROJECT}.{DATASET}.{resource_id}").modified.isoformat()
    assert f"{resource_id}: modified {modified}: downloads now serve this data." in again.stdout
    assert f"{resource_id}: replaced from people.csv: 1 row, 4 columns now (3 rows before)." in again.stdout


def test_null_marks_null_as_it_does_locally(dataset, bigquery_emulator, tmp_path):
    source = files(tmp_path / "files")["csv"]
    resource_id = f"people-null-{secrets.token_hex(3)}"
    assert load(google_env(bigquery_emulator, tmp_path), resource_id, str(source), "--null", "NA").returncode == 0
    assert [row[1] for row in rows(dataset, resource_id)] == ["ann", "bob", None]


def bad_files(folder: Path) -> dict[str, tuple[str, ...]]:
    folder.mkdir(exist_ok=True)
    (folder / "notes.docx").write_bytes(b"PK\x03\x04")
    (folder / "ragged.csv").write_text("id,name,score\n1,ann,1.5\n2,bob\n")
    (folder / "empty.csv").write_text("")
    (folder / "broken.ndjson").write_text('{"id": 1}\n{"id": 2,\n')
    (folder / "fake.parquet").write_text("id,name\n1,ann\n")
    return {
        "no such file": ("people", str(folder / "missing.csv")),
        "unknown format": ("people", str(folder / "notes.docx")),
        "bad resource id": ("../etc", str(files(folder)["csv"])),
        "ragged rows": ("people", str(folder / "ragged.csv")),  # functions/source_files.py's checks, both backends
        "empty file": ("people", str(folder / "empty.csv")),
        "malformed line": ("people", str(folder / "broken.ndjson")),
        "not what its name says": ("people", str(folder / "fake.parquet")),
    }


@pytest.mark.parametrize("case", ["no such file", "unknown format", "bad resource id", "ragged rows", "empty file",
                                  "malformed line", "not what its name says"])
def test_a_bad_file_is_refused_with_the_local_loaders_message(case, dataset, bigquery_emulator, tmp_path):
    args = bad_files(tmp_path / "files")[case]
    on_google = load(google_env(bigquery_emulator, tmp_path), *args)
    on_local = load(local_env(tmp_path), *args)
    assert on_google.returncode == on_local.returncode == 2, (on_google.stderr, on_local.stderr)
    said = ("bqdump: ", "  ", "python main.py load: error:")  # a refusal, its hint, or argparse's word on an argument
    refusal = [line for line in on_google.stderr.splitlines() if line.startswith(said)]
    assert refusal and refusal == [line for line in on_local.stderr.splitlines() if line.startswith(said)]
    assert "Traceback" not in on_google.stderr


def test_without_a_dataset_it_says_which_settings_to_give(tmp_path):
    env = {**local_env(tmp_path), "DUMP_BACKEND": "google"}
    refused = load(env, "people", str(files(tmp_path / "files")["csv"]))
    assert refused.returncode == 2
    assert "BIGQUERY_PROJECT and BIGQUERY_DATASET" in refused.stderr and "Traceback" not in refused.stderr


def test_a_refused_file_leaves_the_bigquery_table_as_it_was(dataset, bigquery_emulator, tmp_path):
    resource_id = f"people-kept-{secrets.token_hex(3)}"
    env = google_env(bigquery_emulator, tmp_path)
    assert load(env, resource_id, str(files(tmp_path / "files")["csv"])).returncode == 0
    before = dataset.get_table(f"{PROJECT}.{DATASET}.{resource_id}")
    ragged = tmp_path / "files" / "ragged.csv"
    ragged.write_text("id,name,score,day\n1,ann,1.5,2024-01-02\n2,bob\n")
    refused = load(env, resource_id, str(ragged))
    assert refused.returncode == 2 and "ragged.csv" in refused.stderr
    after = dataset.get_table(f"{PROJECT}.{DATASET}.{resource_id}")
    assert after.modified == before.modified and after.schema == before.schema
    assert len(rows(dataset, resource_id)) == len(PEOPLE)
