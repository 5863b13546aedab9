"""Cache-hit latency on the Google backend when every Google call costs a round trip: before and after.

fake-gcs-server and bqemulator sit behind fault proxies (tests/support/fault_proxy.py) that add DELAY to
every call; IAM signBlob is the stand-in from tests/support/fake_iam.py with the same delay (the read-write
identity holds no private key, as on Cloud Functions). The dump function is the app assembled by
functions.wiring, served in this process (tests/support/google_app.py); the worker publishes the export once.

Two variants from one run: `before` is the lookup as it was (the table's `modified`, then the listing, one
after the other; a signature per redirect: DUMP_SIGNED_URL_WINDOW_SECONDS=0), built explicitly by giving
the catalogue no lookup pool; `after` is the app as deployed (defaults: listing beside the metadata call,
signed URLs reused within the window).

Measured, one request at a time on a fresh connection: GET /datastore/dump/<rid>?format=csv answering 302
(p50, p95), the Google calls each hit makes by kind, and the same with If-None-Match (304). The peer
figure is one bare call through the same proxy (tables.get): the target is a hit p50 of at most 1.3 times
it, and no signBlob call on a hit inside the signed-URL window.

    .venv/bin/python benchmarks/bench_cache_hit_google.py [--requests 100] [--delay-ms 50]
"""

from __future__ import annotations

import argparse
import logging
import threading
import time

import requests
from _common import emit_result, median, percentile, table

from functions.lookup_pool import NoPool
from tests.support.emulators import start_bigquery_emulator, start_gcs_emulator
from tests.support.google_app import PROJECT, ProxiedGoogleApp

RID = "numbers"
AT_ONCE = 16  # Terraform's default request concurrency of one instance (THREADS as deployed)
VARIANTS = {  # name: (label, settings over the defaults, sequential lookup)
    "before": ("sequential lookup, a signature per hit", {"DUMP_SIGNED_URL_WINDOW_SECONDS": "0"}, True),
    "after": ("as deployed: parallel lookup, URLs reused", {}, False),
}


def deploy(gcs, bq, delay: float, name: str) -> ProxiedGoogleApp:
    _label, settings, sequential = VARIANTS[name]
    deployment = ProxiedGoogleApp(gcs, bq, rid=RID, delay=delay, env=settings)
    if sequential:
        deployment.app.catalogue.lookups = NoPool()  # the old path: the listing waits for the metadata call
    return deployment


def timed_get(url: str, expect: int, headers: dict | None = None) -> tuple[float, requests.Response]:
    start = time.perf_counter()
    response = requests.get(url, headers=headers or {}, allow_redirects=False, timeout=60)  # fresh connection
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != expect:
        raise RuntimeError(f"{url} answered {response.status_code}, expected {expect}: {response.text[:300]}")
    return elapsed, response


def measure(deployment: ProxiedGoogleApp, requests_n: int) -> dict:
    dump = f"{deployment.url}/datastore/dump/{RID}?format=csv"
    for _ in range(10):  # warm: clients built, manifest cached, connections to the proxies open
        _, first = timed_get(dump, 302)
    etag = first.headers["ETag"]
    one_call_url = (f"{deployment.bigquery_proxy.url}/bigquery/v2/projects/{PROJECT}/datasets/{deployment.dataset}"
                    f"/tables/{RID}")
    with requests.Session() as session:  # the peer: one bare Google call on a kept-alive connection, as the app's
        session.get(one_call_url, timeout=60)
        one_call = []
        for _ in range(requests_n):
            start = time.perf_counter()
            session.get(one_call_url, timeout=60).raise_for_status()
            one_call.append((time.perf_counter() - start) * 1000)
    deployment.reset_counts()
    hits = [timed_get(dump, 302)[0] for _ in range(requests_n)]
    hit_calls = deployment.calls()
    deployment.reset_counts()
    not_modified = [timed_get(dump, 304, {"If-None-Match": etag})[0] for _ in range(requests_n)]
    not_modified_calls = deployment.calls()
    return {"hits": hits, "hit_calls": hit_calls, "not_modified": not_modified,
            "not_modified_calls": not_modified_calls, "one_call": one_call,
            "hits_at_once": at_once(dump, max(requests_n, 4 * AT_ONCE))}


def at_once(url: str, requests_n: int) -> list[float]:
    """`requests_n` hits from AT_ONCE clients at the same time: more requests than the lookup pool has threads."""
    times: list[float] = []
    each = requests_n // AT_ONCE

    def client():
        for _ in range(each):
            elapsed = timed_get(url, 302)[0]
            times.append(elapsed)

    clients = [threading.Thread(target=client) for _ in range(AT_ONCE)]
    for started in clients:
        started.start()
    for started in clients:
        started.join()
    if len(times) != each * AT_ONCE:
        raise RuntimeError(f"{each * AT_ONCE - len(times)} concurrent requests failed")
    return times


def per_request(calls: dict[str, int], n: int) -> str:
    return ", ".join(f"{kind} {count / n:g}" for kind, count in calls.items() if count)


def short(kind: str) -> str:
    return kind.replace(" ", "_").replace(".", "_")


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--delay-ms", type=float, default=50)
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset of " + ",".join(VARIANTS))
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    n, delay = args.requests, args.delay_ms / 1000
    results = {}
    with start_gcs_emulator() as gcs, start_bigquery_emulator() as bq:
        for name in args.variants.split(","):
            deployment = deploy(gcs, bq, delay, name)
            try:
                deployment.publish()
                results[name] = measure(deployment, n)
            finally:
                deployment.close()

    print(f"{n} sequential requests each; every Google call (storage, BigQuery, IAM signBlob) delayed "
          f"{args.delay_ms:g} ms; dump function in-process on a real socket, fresh connection per request.")
    one_call_times = [t for figures in results.values() for t in figures["one_call"]]
    one_call = median(one_call_times)
    target = 1.3 * one_call
    rows, summary = [], {"delay_ms": args.delay_ms, "one_call_p50_ms": round(one_call, 2)}
    for name, figures in results.items():
        label = VARIANTS[name][0]
        hit_p50, hit_p95 = median(figures["hits"]), percentile(figures["hits"], 95)
        nm_p50, nm_p95 = median(figures["not_modified"]), percentile(figures["not_modified"], 95)
        hit_calls, nm_calls = figures["hit_calls"], figures["not_modified_calls"]
        rows.append([f"cache hit, 302 ({label})", f"{hit_p50:.1f} ms", f"{hit_p95:.1f} ms",
                     f"{hit_p50 / one_call:.2f}x", per_request(hit_calls, n),
                     f"<= {target:.0f} ms, 0 signBlob: " + verdict(hit_p50 <= target and not hit_calls["signBlob"])])
        load_p50, load_p95 = median(figures["hits_at_once"]), percentile(figures["hits_at_once"], 95)
        rows.append([f"cache hit, {AT_ONCE} at once ({label})", f"{load_p50:.1f} ms", f"{load_p95:.1f} ms",
                     f"{load_p50 / one_call:.2f}x", "", ""])
        rows.append([f"If-None-Match, 304 ({label})", f"{nm_p50:.1f} ms", f"{nm_p95:.1f} ms",
                     f"{nm_p50 / one_call:.2f}x", per_request(nm_calls, n),
                     "<= 1 call: " + verdict(sum(nm_calls.values()) <= n)])
        summary.update({f"{name}_hit_p50_ms": round(hit_p50, 2), f"{name}_hit_p95_ms": round(hit_p95, 2),
                        f"{name}_hit_at_once_p50_ms": round(load_p50, 2),
                        f"{name}_hit_at_once_p95_ms": round(load_p95, 2),
                        f"{name}_not_modified_p50_ms": round(nm_p50, 2),
                        f"{name}_not_modified_p95_ms": round(nm_p95, 2),
                        **{f"{name}_hit_calls_{short(k)}": v / n for k, v in hit_calls.items()},
                        **{f"{name}_not_modified_calls_{short(k)}": v / n for k, v in nm_calls.items()}})
    rows.append(["peer: one bare Google call (tables.get)", f"{one_call:.1f} ms",
                 f"{percentile(one_call_times, 95):.1f} ms", "1.00x", "tables.get 1", ""])
    print(table(rows, ["request", "p50", "p95", "x one call", "Google calls per request", "target"]))
    print(f"(target p50 <= 1.3 x one call: {target:.0f} ms here; 1.3 x the {args.delay_ms:g} ms delay alone: "
          f"{1.3 * args.delay_ms:.0f} ms)")
    emit_result("cache_hit_google", **summary)
    return summary


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


if __name__ == "__main__":
    main()
