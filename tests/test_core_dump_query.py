"""CKAN's dump parameters: parsing, canonical form and key, bounds, and the check against the table's columns."""

from datetime import date, datetime, timezone

import pytest

from functions.adapters.google import kinds as bigquery_kinds
from functions.adapters.local import kinds as duckdb_kinds
from functions.core import dump_query as dq
from functions.core.ckan_params import parse_dump_query as parse_with
from functions.core.dump_query import DumpQuery, SortKey, TableColumn, check_against_columns
from functions.core.errors import InvalidRequest
from functions.http import status_of
from tests.support.queries import BOUNDS

COLUMNS = [TableColumn("_id", "INT64", "integer"), TableColumn("carrier", "STRING", "text"),
           TableColumn("month", "INT64", "integer"), TableColumn("delay", "FLOAT64", "float"),
           TableColumn("at", "TIMESTAMP", "timestamp"), TableColumn("day", "DATE", "date"),
           TableColumn("ok", "BOOL", "bool"), TableColumn("tags", "ARRAY<STRING>", "other"),
           TableColumn("doc", "JSON", "other")]


def parse_dump_query(params):
    return parse_with(params, BOUNDS)


def parse(**params):
    return parse_dump_query({name: [value] for name, value in params.items()})


def checked(**params):
    return check_against_columns(parse(**params), COLUMNS)


def refused(fn, **params) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        fn(**params)
    assert status_of(caught.value) == 400 and caught.value.hint
    return caught.value


def test_no_parameters_is_the_whole_table_with_no_key():
    query = checked(format="csv", utm_source="newsletter", bom="True")
    assert query == DumpQuery() and query.whole_table and query.key == "" and query.canonical() == ""


@pytest.mark.parametrize("params", [
    {"sort": "_id"}, {"sort": " _id  asc "}, {"sort": '"_id"'}, {"offset": "0"}, {"distinct": "false"},
    {"fields": ",".join(c.name for c in COLUMNS)}, {"filters": "{}"}, {"q": "  "}, {"language": "english"},
    {"plain": "true"},
])
def test_ckan_defaults_spelled_out_are_still_the_whole_table(params):
    assert checked(**params).key == ""


def test_parameter_order_and_whitespace_do_not_change_the_key():
    one = checked(filters='{"carrier": ["UA", "AA"], "month": 1}', sort="delay desc, carrier", q="Late  Night",
                  fields="carrier,delay")
    two = checked(fields=" carrier , delay", q="night late", sort="delay   DESC,carrier asc",
                  filters='{ "month" : "1",\n "carrier" : ["AA","UA","AA"] }')
    assert one == two and one.key == two.key and len(one.key) == dq.KEY_HEX_CHARS
    assert one.canonical() == two.canonical()


@pytest.mark.parametrize("other", [
    {"filters": '{"carrier": ["UA"]}'}, {"sort": "delay asc, carrier"}, {"fields": "delay,carrier"},
    {"q": "late"}, {"limit": "10"}, {"offset": "5"}, {"distinct": "true"},
])
def test_a_different_query_has_a_different_key(other):
    base = dict(filters='{"carrier": ["UA", "AA"]}', sort="delay desc, carrier", fields="carrier,delay")
    assert checked(**base).key != checked(**{**base, **other}).key


def test_fields_keep_their_order_and_lose_repeats():
    assert parse(fields='delay, "carrier", delay').fields == ("delay", "carrier")


def test_filters_scalars_and_lists():
    query = parse(filters='{"month": [2, 1, 2], "carrier": "UA"}')
    assert query.filters == (("carrier", ("UA",)), ("month", (1, 2)))


def test_filter_values_are_coerced_to_the_column_type():
    query = checked(filters='{"month": "7", "delay": "1.5", "carrier": 10, "ok": "t", "at": "2013-01-01T05:00:00",'
                            ' "day": "2013-01-02"}')
    assert dict(query.filters) == {"month": (7,), "delay": (1.5,), "carrier": ("10",), "ok": (True,),
                                   "at": (datetime(2013, 1, 1, 5, tzinfo=timezone.utc),),
                                   "day": (date(2013, 1, 2),)}
    assert checked(filters='{"month": 7}').key == checked(filters='{"month": "7"}').key


@pytest.mark.parametrize("filters,needle", [
    ('{"month": "July"}', "month"), ('{"month": 1.5}', "month"), ('{"ok": "maybe"}', "ok"),
    ('{"at": "yesterday"}', "at"), ('{"tags": "x"}', "tags"), ('{"doc": "x"}', "doc"), ('{"month": true}', "month"),
])
def test_a_filter_value_that_does_not_fit_its_column_is_a_400(filters, needle):
    assert needle in refused(checked, filters=filters).message


def test_sort_parsing():
    assert parse(sort='delay desc, "carrier" asc nulls first, month').sort == (
        SortKey("delay", True), SortKey("carrier", False, True), SortKey("month"))
    assert SortKey("delay", True).nulls_come_first and not SortKey("delay").nulls_come_first


def test_sort_stops_at_id_and_drops_a_trailing_default_tie_break():
    assert checked(sort="delay, _id, month").sort == (SortKey("delay"),)
    assert checked(sort="_id desc").sort == (SortKey("_id", True),)


@pytest.mark.parametrize("sort", ["delay up", "delay descending", "delay desc nulls", "delay, ,month", "delay;drop"])
def test_sort_directions_are_asc_or_desc_only(sort):
    error = refused(checked, sort=sort)
    assert "sort" in error.message


def test_q_as_words_and_as_a_json_object():
    assert parse(q="Late  NIGHT late").q_words == ("late", "night")
    query = parse(q='{"carrier": "United  air", "doc": "x"}')
    assert query.q_words == () and query.q_fields == (("carrier", ("air", "united")), ("doc", ("x",)))


@pytest.mark.parametrize("name,raw,where", [
    ("filters", '{"carrier": "UA",}', "line 1, column 18 (char 17)"),
    ("filters", '{\n  "carrier" "UA"\n}', "line 2, column 13 (char 14)"),
    ("q", '{"carrier": }', "line 1, column 13 (char 12)"),
])
def test_malformed_json_says_where(name, raw, where):
    error = refused(parse, **{name: raw})
    assert name in error.message and where in error.message
    assert {"line", "column", "char"} <= set(error.details)


@pytest.mark.parametrize("params", [
    {"filters": "[1, 2]"}, {"filters": '{"$or": [{"a": 1}]}'}, {"filters": '{"a": {"gt": 1}}'},
    {"filters": '{"a": null}'}, {"filters": '{"a": [[1]]}'}, {"q": '{"a": 1}'}, {"plain": "false", "q": "x"},
    {"limit": "-1"}, {"limit": "ten"}, {"offset": "-5"}, {"offset": "1.5"}, {"limit": str(2**63)},
    {"language": "english; drop"}, {"fields": "a,,b"},
])
def test_malformed_parameters_are_a_400(params):
    refused(parse, **params)


def test_bounds_are_each_a_clear_400():
    values = ", ".join(str(i) for i in range(BOUNDS.filter_values + 1))
    assert "values" in refused(parse, filters=f'{{"month": [{values}]}}').message
    assert "characters" in refused(parse, q="x" * (BOUNDS.q_chars + 1)).message
    assert "words" in refused(parse, q=" ".join(f"w{i}" for i in range(BOUNDS.q_words + 1))).message
    assert "fields" in refused(parse, fields=",".join(f"f{i}" for i in range(BOUNDS.fields + 1))).message
    assert "sort" in refused(parse, sort=",".join(f"f{i}" for i in range(BOUNDS.sort_keys + 1))).message
    assert "characters" in refused(parse, fields="x" * (dq.MAX_PARAMETER_CHARS + 1)).message


@pytest.mark.parametrize("params,parameter", [
    ({"fields": "carrier,nope"}, "fields"), ({"filters": '{"nope": 1}'}, "filters"),
    ({"sort": "nope desc"}, "sort"), ({"q": '{"nope": "x"}'}, "q"),
])
def test_an_unknown_field_names_it_and_lists_the_valid_ones(params, parameter):
    error = refused(checked, **params)
    assert "'nope'" in error.message and parameter in error.message
    assert "carrier" in error.hint and error.details["valid_fields"] == [c.name for c in COLUMNS]


def test_an_injection_attempt_in_a_field_name_is_just_an_unknown_field():
    error = refused(checked, fields='carrier,"x"; DROP TABLE t; --')
    assert "DROP TABLE" in error.message and error.details["valid_fields"]


def test_distinct_sorts_only_on_selected_fields_and_cannot_sort_nested_values():
    assert checked(distinct="true", fields="carrier", sort="carrier").distinct
    assert "distinct" in refused(checked, distinct="True", fields="carrier", sort="delay").message
    assert "tags" in refused(checked, sort="tags").message
    assert "doc" in refused(checked, distinct="true", fields="carrier,doc").message


def test_ckan_booleans_and_first_values_of_repeated_parameters():
    assert dq.ckan_bool("True") and dq.ckan_bool("y") and not dq.ckan_bool("on") and not dq.ckan_bool(None)
    assert parse_dump_query({"limit": ["5", "9"]}).limit == 5
    assert parse_dump_query({"limit": "5"}).limit == 5


@pytest.mark.parametrize("type_name,mode,kind", [
    ("STRING", "NULLABLE", "text"), ("INT64", "REQUIRED", "integer"), ("INTEGER", "NULLABLE", "integer"),
    ("FLOAT64", "NULLABLE", "float"), ("NUMERIC", "NULLABLE", "numeric"), ("BIGNUMERIC", "NULLABLE", "numeric"),
    ("BOOL", "NULLABLE", "bool"), ("TIMESTAMP", "NULLABLE", "timestamp"), ("DATETIME", "NULLABLE", "timestamp"),
    ("DATE", "NULLABLE", "date"), ("TIME", "NULLABLE", "time"), ("JSON", "NULLABLE", "other"),
    ("RECORD", "NULLABLE", "other"), ("BYTES", "NULLABLE", "other"), ("STRING", "REPEATED", "other"),
])
def test_bigquery_column_kinds(type_name, mode, kind):
    assert bigquery_kinds.column_kind(type_name, mode) == kind


@pytest.mark.parametrize("type_name,kind", [
    ("VARCHAR", "text"), ("BIGINT", "integer"), ("INTEGER", "integer"), ("UTINYINT", "integer"),
    ("HUGEINT", "integer"), ("DOUBLE", "float"), ("FLOAT", "float"), ("DECIMAL(18,3)", "numeric"),
    ("BOOLEAN", "bool"), ("TIMESTAMP", "timestamp"), ("TIMESTAMP WITH TIME ZONE", "timestamp"),
    ("TIMESTAMP_NS", "timestamp"), ("DATE", "date"), ("TIME", "time"), ("JSON", "other"),
    ("STRUCT(a INTEGER)", "other"), ("VARCHAR[]", "other"), ("BLOB", "other"),
])
def test_duckdb_column_kinds(type_name, kind):
    assert duckdb_kinds.column_kind(type_name) == kind


def test_a_task_reads_the_checked_query_back_from_its_canonical_form():
    checked_query = checked(filters='{"at": "2024-01-02T03:04:05Z", "day": ["2024-01-03", "2024-01-02"], "ok": 1}',
                            q='{"carrier": "Late  arrival"}', fields="carrier,_id,delay,month,at,day,ok",
                            sort="delay desc nulls last, month", limit="7", offset="1", distinct="yes")
    read_back = DumpQuery.from_canonical(checked_query.canonical())
    assert check_against_columns(read_back, COLUMNS) == checked_query  # the same values, of the same types
    assert DumpQuery.from_canonical("") == DumpQuery()
    for malformed in ("{", "[1]", '{"filters": 5}', '{"sort": [["a"]]}'):
        with pytest.raises(InvalidRequest):
            DumpQuery.from_canonical(malformed)


def test_column_names_with_commas_and_quotes_travel_to_the_worker():
    """The task carries the canonical form, not CKAN's syntax: a name that syntax cannot spell twice still
    reaches the worker as itself (was: refused with a 400)."""
    columns = [TableColumn("_id", "BIGINT", "integer"), TableColumn('"quoted"', "VARCHAR", "text"),
               TableColumn("a,b", "VARCHAR", "text")]
    asked = check_against_columns(parse_dump_query({"fields": ['""quoted""'], "filters": ['{"a,b": "x"}'],
                                                    "q": ['{"a,b": "y"}']}), columns)
    assert asked.fields == ('"quoted"',) and asked.filters == (("a,b", ("x",)),)
    again = check_against_columns(DumpQuery.from_canonical(asked.canonical()), columns)
    assert again == asked and again.key == asked.key


def test_the_export_order_ends_with_id_or_with_every_distinct_column():
    """One exact row order on every warehouse: CKAN's `_id` tail, or with DISTINCT the remaining output columns."""
    by_carrier = parse_dump_query({"sort": "carrier desc"})
    assert dq.export_order(by_carrier, COLUMNS, has_id=True) == (
        SortKey("carrier", descending=True), SortKey("_id", nulls_first=False))
    assert dq.export_order(by_carrier, COLUMNS, has_id=False) == (SortKey("carrier", descending=True),)
    distinct = parse_dump_query({"distinct": "true", "fields": "carrier,month", "sort": "month"})
    selected = [c for c in COLUMNS if c.name in ("carrier", "month")]
    assert dq.export_order(distinct, selected, has_id=True) == (SortKey("month"), SortKey("carrier", nulls_first=False))
