"""Property-based tests of every parser of request input: any input gives a value or the documented error.

Ids, formats and variants, revisions, attempts, ranges, stream tokens, signed-URL signatures and expiries,
JSON task bodies. Round-trips where a value is written by this code and read back by it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

from hypothesis import given, strategies as st

from functions.adapters.local.signer import LocalUrlSigner
from functions.core import hosts, identifiers, layout, ranges, request_json, tokens, worker_tasks
from functions.core.dump_query import DumpQuery
from functions.core.errors import Forbidden, InvalidRequest, RangeNotSatisfiable, TooLarge
from functions.core.model import Format, Variant

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
any_input = st.one_of(st.text(), json_values, st.integers(min_value=-10**400, max_value=10**400))
digits_of_any_script = st.text(st.characters(categories=["Nd", "No"]), min_size=1)
ascii_digits = st.text("0123456789", max_size=30) | st.integers(4301, 5000).map(lambda n: "9" * n)  # past int()'s limit
numbers_of_any_kind = ascii_digits | digits_of_any_script
valid_ids = st.from_regex(r"[A-Za-z0-9_-]{1,1024}", fullmatch=True)
query_keys = st.just("") | st.from_regex(r"[0-9a-f]{16}", fullmatch=True)  # whole table, or a CKAN query's key
variants = st.builds(Variant, st.sampled_from(list(Format)), st.booleans(), st.booleans(), query_keys).filter(
    lambda v: not (v.gzip and v.format is Format.PARQUET) and not (v.bom and not v.format.takes_bom))


def outcome(parse, *args):
    """The parsed value, or the exception's class when it is one the caller documents."""
    try:
        return parse(*args)
    except (InvalidRequest, Forbidden, RangeNotSatisfiable, TooLarge) as error:
        return type(error)


@given(any_input)
def test_resource_id_accepts_exactly_the_documented_pattern(raw):
    result = outcome(identifiers.resource_id, raw)
    if result is InvalidRequest:
        assert not (isinstance(raw, str) and identifiers.RESOURCE_ID_PATTERN.fullmatch(raw))
    else:
        assert result == raw


@given(valid_ids)
def test_every_valid_id_has_a_short_path_segment_and_a_download_name(rid):
    assert identifiers.resource_id(rid) == rid
    segment = layout.resource_segment(rid)
    assert len(segment.encode()) <= 255 and "/" not in segment
    assert layout.download_filename(rid, Variant(Format.CSV)) == rid + ".csv"


@given(any_input, st.one_of(st.none(), any_input), st.one_of(st.none(), any_input))
def test_dump_variant_of_anything_is_a_variant_or_invalid_request(fmt, compression, bom):
    result = outcome(identifiers.dump_variant, fmt, compression, bom)
    assert result is InvalidRequest or isinstance(result, Variant)


@given(st.text(), st.sampled_from([Format.CSV, Format.TSV, Format.JSON, Format.XML]))
def test_bom_of_any_text_is_read_as_ckan_reads_it(bom, fmt):
    """CKAN's asbool-like reading: true, yes, t, y, 1 (any case, trimmed) ask for it; any other text is false."""
    assert identifiers.dump_variant(fmt.value, None, bom).bom == (bom.strip().lower() in ("true", "yes", "t", "y", "1"))


@given(variants)
def test_variants_round_trip_through_their_key_and_their_query(variant):
    assert identifiers.variant_key(variant.key) == variant
    parsed = identifiers.dump_variant(variant.query["format"], variant.query.get("compression"),
                                      variant.query.get("bom"))
    assert replace(parsed, query_key=identifiers.query_key(variant.query.get("query_key"))) == variant


@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 1, 1), timezones=st.just(timezone.utc)))
def test_revisions_round_trip_and_parse(modified):
    rev = layout.revision_of(modified)
    assert identifiers.revision(rev) == rev and layout.revision_time(rev) == modified


@given(any_input)
def test_revision_of_anything_is_lowercase_hex_or_invalid_request(raw):
    result = outcome(identifiers.revision, raw)
    assert result is InvalidRequest or (result == raw and identifiers.REVISION_PATTERN.fullmatch(raw))


@given(st.one_of(any_input, numbers_of_any_kind, st.floats(allow_nan=True, allow_infinity=True)))
def test_attempt_of_anything_is_a_bounded_int_or_invalid_request(raw):
    result = outcome(identifiers.attempt, raw)
    assert result is InvalidRequest or (type(result) is int and 1 <= result <= identifiers.MAX_ATTEMPT)


@given(st.integers(1, identifiers.MAX_ATTEMPT))
def test_attempts_round_trip_as_numbers_and_as_text(number):
    assert identifiers.attempt(number) == number == identifiers.attempt(str(number))


@given(st.one_of(st.text(), st.builds(lambda a, b: f"bytes={a}-{b}", numbers_of_any_kind, numbers_of_any_kind)),
       st.integers(0, 10**12))
def test_a_range_header_of_anything_is_a_range_inside_the_file_or_none_or_416(header, total):
    result = outcome(ranges.requested_range, header, total)
    if isinstance(result, tuple):
        start, end = result
        assert 0 <= start <= end < total
    else:
        assert result is None or result is RangeNotSatisfiable


@given(st.integers(1, 10**12), st.data())
def test_satisfiable_ranges_round_trip(total, data):
    start = data.draw(st.integers(0, total - 1))
    end = data.draw(st.integers(start, total - 1))
    assert ranges.requested_range(f"bytes={start}-{end}", total) == (start, end)
    assert ranges.content_range(start, end, total) == f"bytes {start}-{end}/{total}"


SECRET = b"property-secret"


@given(st.text() | st.builds(lambda n, sig: f"{n}.{sig}", numbers_of_any_kind, st.text()), st.text())
def test_a_stream_token_of_anything_is_refused_with_forbidden(token, rev):
    assert outcome(tokens.check_stream_token, SECRET, token, "rid", "csv", rev, 0) is Forbidden


@given(valid_ids, variants, st.from_regex(r"[0-9a-f]{1,16}", fullmatch=True), st.integers(1, 10**11), st.text())
def test_stream_tokens_round_trip_and_any_change_is_refused(rid, variant, rev, expires, suffix):
    token = tokens.stream_token(SECRET, rid, variant.key, rev, expires)
    tokens.check_stream_token(SECRET, token, rid, variant.key, rev, expires - 1)
    if suffix:
        assert outcome(tokens.check_stream_token, SECRET, token + suffix, rid, variant.key, rev, 0) is Forbidden
    assert outcome(tokens.check_stream_token, SECRET, token, rid, variant.key, rev, expires + 1) is Forbidden


signer = LocalUrlSigner(SECRET)


def check_object(name, filename, content_type, expires, signature, now=0.0):
    return signer.check(name, filename=filename, content_type=content_type, expires=expires, signature=signature,
                        now=now)


@given(st.text(), st.text(), st.text() | numbers_of_any_kind, st.text())
def test_a_signed_url_with_any_signature_or_expiry_is_refused_with_forbidden(name, filename, expires, signature):
    assert outcome(check_object, name, filename, "text/csv", expires, signature) is Forbidden


@given(st.text(min_size=1), valid_ids, variants, st.integers(60, 10**6))
def test_signed_urls_round_trip_through_their_query(name, rid, variant, lifetime):
    now = datetime(2030, 1, 1, tzinfo=timezone.utc)
    url = signer.sign(name, filename=layout.download_filename(rid, variant), content_type=variant.content_type,
                      expires_at=now + timedelta(seconds=lifetime), base_url="http://127.0.0.1:1")
    query = {key: values[0] for key, values in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}
    check_object(name, query["filename"], query["type"], query["expires"], query["signature"], now.timestamp())
    assert outcome(check_object, name, query["filename"], variant.content_type, query["expires"],
                   query["signature"], now.timestamp() + lifetime + 1) is Forbidden


TASK_FIELDS = ("resource_id", "format", "compression", "bom", "query_key", "query", "revision", "attempt", "piece",
               "pieces", "touch")


@given(st.fixed_dictionaries({}, optional={field: json_values for field in TASK_FIELDS}))
def test_a_task_body_of_any_json_values_parses_or_is_invalid_request(body):
    result = outcome(worker_tasks.parse_task, body)
    assert result is InvalidRequest or isinstance(result, (worker_tasks.ExportTask, worker_tasks.PieceTask,
                                                           worker_tasks.TouchTask))


@given(valid_ids, variants, st.from_regex(r"[0-9a-f]{1,16}", fullmatch=True), st.integers(1, identifiers.MAX_ATTEMPT))
def test_task_bodies_as_queued_round_trip(rid, variant, rev, attempt):
    query = DumpQuery(fields=("a",)) if variant.query_key else DumpQuery()  # the key is checked against the table later
    body = json.loads(json.dumps({"resource_id": rid, **variant.query, "revision": rev, "attempt": attempt,
                                  "query": query.canonical()}))
    task = worker_tasks.parse_task(request_json.json_object(json.dumps(body).encode(), "hint"))
    assert task == worker_tasks.ExportTask(rid, variant, rev, attempt, query)


@given(st.binary(max_size=2000) | st.text(max_size=2000).map(str.encode))
def test_a_request_body_of_any_bytes_is_an_object_or_a_clear_error(data):
    result = outcome(request_json.json_object, data, "hint")
    assert result in (InvalidRequest, TooLarge) or isinstance(result, dict)


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=5))
def test_json_objects_round_trip_and_their_depth_is_measured_exactly(body):
    text = json.dumps(body)

    def depth(value) -> int:
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        return 1 + max(map(depth, children), default=0) if isinstance(value, (dict, list)) else 0

    assert request_json.nesting_depth(text) == depth(body)
    result = outcome(request_json.json_object, text.encode(), "hint")
    if depth(body) > request_json.MAX_DEPTH:
        assert result is InvalidRequest
    else:
        assert json.dumps(result) == text  # NaN != NaN: compare as JSON text


host_names = st.lists(st.from_regex(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", fullmatch=True), min_size=1, max_size=4)


@given(st.text() | st.binary().map(lambda b: b.decode("latin-1")))
def test_valid_host_of_any_text_is_a_bool(value):
    assert hosts.valid_host(value) in (True, False)


@given(host_names, st.one_of(st.none(), st.integers(0, 65535)))
def test_dns_names_with_any_port_are_valid_hosts_and_an_empty_label_is_not(labels, port):
    name = ".".join(labels)
    suffix = "" if port is None else f":{port}"
    if not any(label.startswith("xn--") for label in labels):  # xn-- labels must also decode as punycode
        assert hosts.valid_host(name + suffix)
    assert not hosts.valid_host(name + ".." + suffix) and not hosts.valid_host("." + name + suffix)
