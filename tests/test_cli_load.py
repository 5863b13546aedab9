"""`python main.py load` as a user runs it, on real files into real DuckDB: what it cannot load faithfully it
refuses (exit code 2, the file, the line and what to do, no traceback, the table left as it was); what it loads
it describes, and it says when it replaces a table."""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path

import duckdb
import pytest

from functions.core.errors import InvalidRequest
from functions.source_files import check
from tests.support.cli import local_env, run_main

@pytest.fixture
def cli(tmp_path):
    env = local_env(tmp_path)
    return lambda *args: run_main(env, *args)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def table(tmp_path: Path, resource_id: str) -> list[tuple]:
    """The table's rows, read from the Parquet file its pointer names (as the exports do)."""
    folder = tmp_path / "state" / "tables" / resource_id
    pointer = json.loads((folder / "current.json").read_text())
    return duckdb.sql(f"SELECT * FROM read_parquet('{folder / pointer['file']}')").fetchall()


def refused(result: subprocess.CompletedProcess, *words: str) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr
    return result.stderr


def test_a_row_with_more_values_than_the_header_is_refused_naming_its_line(cli, tmp_path):
    source = write(tmp_path / "ragged.csv", "id,name\n1,ann\n2,bob,extra\n")
    refused(cli("load", "t", str(source)), "ragged.csv, line 3: 3 values, but the header (line 1) names 2 columns",
            "double quotes")
    assert not (tmp_path / "state" / "tables" / "t").exists()  # nothing half-made


def test_a_row_short_of_values_is_refused_or_padded_with_nulls_by_choice(cli, tmp_path):
    source = write(tmp_path / "short.csv", 'id,name,note\n1,"two\nlines",x\n2\n3,c,z\n')
    refused(cli("load", "t", str(source)), "short.csv, line 4: 1 value, but the header (line 1) names 3 columns",
            "--ragged pad")
    padded = cli("load", "t", str(source), "--ragged", "pad")
    assert padded.returncode == 0, padded.stderr
    assert "t: created from short.csv: 3 rows, 3 columns." in padded.stdout
    assert "1 row had fewer values" in padded.stdout
    assert table(tmp_path, "t") == [(1, "two\nlines", "x"), (2, None, None), (3, "c", "z")]


def test_an_empty_file_is_refused(cli, tmp_path):
    refused(cli("load", "t", str(write(tmp_path / "empty.csv", ""))), "empty.csv is empty", "header line")


def test_malformed_ndjson_is_refused_naming_its_line(cli, tmp_path):
    source = write(tmp_path / "rows.ndjson", '{"a": 1}\n\n{"a": 2,}\n')
    refused(cli("load", "t", str(source)), "rows.ndjson, line 3: not valid JSON", "one complete JSON object")


def test_a_file_named_parquet_that_is_not_parquet_is_refused(cli, tmp_path):
    refused(cli("load", "t", str(write(tmp_path / "data.parquet", "id,name\n1,ann\n"))),
            "data.parquet is not a Parquet file")


def test_replacing_a_table_says_so_with_rows_before_and_after_and_no_replace_refuses(cli, tmp_path):
    first = write(tmp_path / "first.csv", "id,name\n1,ann\n2,bob\n3,cy\n")
    created = cli("load", "people", str(first))
    assert created.returncode == 0, created.stderr
    assert "people: created from first.csv: 3 rows, 2 columns." in created.stdout
    second = write(tmp_path / "second.tsv", "id\tname\n9\tzed\n")
    kept = cli("load", "people", str(second), "--no-replace")
    refused(kept, "There is already a table 'people' (3 rows)", "leave out --no-replace")
    assert len(table(tmp_path, "people")) == 3
    replaced = cli("load", "people", str(second))
    assert replaced.returncode == 0, replaced.stderr
    assert "people: replaced from second.tsv: 1 row, 2 columns now (3 rows before)." in replaced.stdout
    assert table(tmp_path, "people") == [(9, "zed")]


def test_help_lists_every_format_the_loader_reads(cli):
    shown = cli("load", "--help").stdout + cli("--help").stdout
    for name in (".csv", ".tsv", ".ndjson", ".jsonl", ".parquet", ".gz", "--ragged", "--no-replace"):
        assert name in shown


# The checks themselves, in-process (the same module the CLI runs): each refusal names the file and the line.

def refusal(path: Path, ragged: str = "refuse") -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        check(path, ragged)
    return caught.value


def test_checks_name_the_line_of_text_that_is_not_utf8(tmp_path):
    source = tmp_path / "latin.csv"
    source.write_bytes(b"id,name\n1,ann\n2,caf\xe9\n")
    assert refusal(source).message == "latin.csv, line 3: not UTF-8 text (byte 0xe9)."


def test_checks_count_lines_of_quoted_line_breaks_and_skip_blank_lines(tmp_path):
    source = write(tmp_path / "q.csv", 'id,note\n1,"a\nb"\n\n2,"c""d"\n3,x,y\n')
    assert refusal(source).message.startswith("q.csv, line 6: 3 values")
    assert check(write(tmp_path / "ok.csv", 'id,note\n1,"a\nb"\n\n2,"c""d"\n')).rows == 2


def test_checks_refuse_a_header_with_a_repeated_or_missing_name(tmp_path):
    assert "column 1 and column 3 both 'ID'" in refusal(write(tmp_path / "d.csv", "id,name,ID\n1,a,2\n")).message
    assert "column 2 of the header has no name" in refusal(write(tmp_path / "e.csv", "id,,x\n1,a,2\n")).message


def test_checks_read_gzip_and_refuse_a_damaged_or_pretend_one(tmp_path):
    good = tmp_path / "rows.ndjson.gz"
    good.write_bytes(gzip.compress(b'{"a": 1}\n{"a": 2}\n'))
    assert check(good).rows == 2
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(gzip.compress(b"id\n" + b"1\n" * 10000)[:-20])
    assert "cut short or damaged" in refusal(cut).message
    assert "is named .gz but is not gzip-compressed" in refusal(write(tmp_path / "p.csv.gz", "id\n1\n")).message


def test_checks_explain_a_json_array_and_a_line_that_is_not_an_object(tmp_path):
    assert "jq -c" in refusal(write(tmp_path / "a.json", '[{"a": 1},\n{"a": 2}]\n')).hint
    assert refusal(write(tmp_path / "n.ndjson", '{"a": 1}\n[1, 2]\n')).message == \
        "n.ndjson, line 2: a JSON array, not an object."


def test_checks_refuse_a_cut_parquet_file_and_an_unknown_name(tmp_path):
    whole = tmp_path / "whole.parquet"
    duckdb.sql(f"COPY (SELECT 1 AS id) TO '{whole}' (FORMAT parquet)")
    assert check(whole).rows == 1 and check(whole).columns == ("id",)
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(whole.read_bytes()[:-10])
    assert "is cut short" in refusal(cut).message
    assert "Cannot tell the format of 'rows.xlsx'" in refusal(write(tmp_path / "rows.xlsx", "x")).message
