"""CKAN's JSON and XML dump bytes from Parquet record batches, against literal CKAN output."""

import io
from datetime import date, datetime, time, timezone
from decimal import Decimal
from xml.etree.ElementTree import Element, ElementTree, SubElement

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs.ckan_writers import (BOM, ckan_fields, json_chunks, parquet_batches, with_bom, xml_chunks,
                               xml_element_names)

TABLE = pa.table({
    "_id": pa.array([1, 2, 3], pa.int64()),
    "name": pa.array(["Zoë & <Ann>", None, 'say "hi"\nthere'], pa.string()),
    "amount": pa.array([2.0, 1.5, None], pa.float64()),
    "price": pa.array([Decimal("1.50"), Decimal("7"), None], pa.decimal128(10, 2)),
    "count": pa.array([10, None, -3], pa.int64()),
    "at": pa.array([datetime(2013, 1, 1, 5, 17, 59, 999999, tzinfo=timezone.utc), None,
                    datetime(1999, 12, 31, 23, 0, tzinfo=timezone.utc)], pa.timestamp("us", tz="UTC")),
    "day": pa.array([date(2013, 1, 2), None, date(2020, 2, 29)], pa.date32()),
    "ok": pa.array([True, False, None], pa.bool_()),
    "tags": pa.array([["a", None], [], None], pa.list_(pa.string())),
    "doc": pa.array(['{"k": [1, null], "t": "x<y"}', None, "3"], pa.string()),
})

FIELDS_JSON = ('[{"id":"_id","type":"int"},{"id":"name","type":"text"},{"id":"amount","type":"float8"},'
               '{"id":"price","type":"numeric"},{"id":"count","type":"int8"},{"id":"at","type":"timestamp"},'
               '{"id":"day","type":"date"},{"id":"ok","type":"bool"},{"id":"tags","type":"_text"},'
               '{"id":"doc","type":"json"}]')

EXPECTED_JSON = (
    '{\n  "fields": ' + FIELDS_JSON + ',\n  "records": ['
    '\n    [1,"Zoë & <Ann>",2,1.5,10,"2013-01-01T05:17:59.999999","2013-01-02",true,["a",null],{"k":[1,null],"t":"x<y"}],'
    '\n    [2,null,1.5,7,null,null,null,false,[],null],'
    '\n    [3,"say \\"hi\\"\\nthere",null,null,-3,"1999-12-31T23:00:00.000","2020-02-29",null,null,3]'
    '\n]}\n').encode()

EXPECTED_XML = (
    '<data xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
    '<row _id="1"><name>Zoë &amp; &lt;Ann&gt;</name><amount>2</amount><price>1.5</price><count>10</count>'
    '<at>2013-01-01T05:17:59.999999</at><day>2013-01-02</day><ok>True</ok>'
    '<tags><value key="0">a</value><value xsi:nil="true" key="1" /></tags>'
    '<doc><value key="k"><value key="0">1</value><value xsi:nil="true" key="1" /></value>'
    '<value key="t">x&lt;y</value></doc></row>\n'
    '<row _id="2"><name xsi:nil="true" /><amount>1.5</amount><price>7</price><count xsi:nil="true" />'
    '<at xsi:nil="true" /><day xsi:nil="true" /><ok>False</ok><tags /><doc xsi:nil="true" /></row>\n'
    '<row _id="3"><name>say "hi"\nthere</name><amount xsi:nil="true" /><price xsi:nil="true" /><count>-3</count>'
    '<at>1999-12-31T23:00:00.000</at><day>2020-02-29</day><ok xsi:nil="true" /><tags xsi:nil="true" />'
    '<doc>3</doc></row>\n'
    '</data>\n').encode()


def fields():
    return ckan_fields(TABLE.schema, json_columns=["doc"])


def test_field_descriptors_are_ckans():
    import json
    assert json.dumps(fields(), separators=(",", ":")) == FIELDS_JSON


def test_json_is_ckans_byte_for_byte():
    assert b"".join(json_chunks(TABLE.to_batches(), fields())) == EXPECTED_JSON


def test_xml_is_ckans_byte_for_byte():
    assert b"".join(xml_chunks(TABLE.to_batches(), fields())) == EXPECTED_XML


def test_one_chunk_per_batch_and_the_same_bytes_whatever_the_batching():
    batches = TABLE.to_batches(max_chunksize=1)
    json_parts, xml_parts = list(json_chunks(batches, fields())), list(xml_chunks(batches, fields()))
    assert len(json_parts) == len(xml_parts) == 3 + 2
    assert b"".join(json_parts) == EXPECTED_JSON and b"".join(xml_parts) == EXPECTED_XML


def test_an_empty_result_is_ckans_empty_file():
    empty = TABLE.schema.empty_table().to_batches()
    assert b"".join(json_chunks(empty, fields())) == b'{\n  "fields": ' + FIELDS_JSON.encode() + b',\n  "records": [\n]}\n'
    assert b"".join(xml_chunks(empty, fields())) == (
        b'<data xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n</data>\n')


def test_bom_is_written_first_in_every_format():
    assert b"".join(json_chunks([], fields(), bom=True)).startswith(BOM + b'{\n  "fields"')
    assert b"".join(xml_chunks([], fields(), bom=True)).startswith(BOM + b"<data ")
    assert b"".join(with_bom([b"a,b\n", b"1,2\n"])) == b"\xef\xbb\xbfa,b\n1,2\n"


def test_without_id_first_rows_have_no_id_attribute_and_fields_keep_their_order():
    table = TABLE.select(["name", "_id"]).slice(0, 1)
    assert b"".join(xml_chunks(table.to_batches(), ckan_fields(table.schema))) == (
        b'<data xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        b'<row><name>Zo\xc3\xab &amp; &lt;Ann&gt;</name><_id>1</_id></row>\n</data>\n')
    assert b'\n    ["Zo\xc3\xab & <Ann>",1]' in b"".join(json_chunks(table.to_batches(), ckan_fields(table.schema)))


def test_a_row_of_only_id_is_a_short_element_as_elementtree_writes_it():
    table = TABLE.select(["_id"]).slice(0, 2)
    assert b"".join(xml_chunks(table.to_batches(), ckan_fields(table.schema))).split(b"\n")[1:3] == [
        b'<row _id="1" />', b'<row _id="2" />']
    assert ckan_xml_writer(["_id"], [{"_id": 1}, {"_id": 2}]) == b'<row _id="1" />\n<row _id="2" />\n'


def test_floats_print_as_postgresql_then_ckan_print_them():
    table = pa.table({"x": pa.array([1e20, 1e14, 1e-05, float("nan"), float("-inf"), -0.0, 0.1 + 0.2])})
    body = b"".join(json_chunks(table.to_batches(), ckan_fields(table.schema))).decode()
    assert '[1e+20],\n    [100000000000000],\n    [1e-05],\n    ["NaN"],\n    ["-Infinity"],\n    [0],\n' \
           '    [0.30000000000000004]' in body


# One value of each kind as CKAN 2.12 writes it in a json and an xml dump (PostgreSQL's to_json of the value,
# decoded by msgspec and re-encoded by simplejson / str()), checked against CKAN itself by tests/ckan/.
# (arrow value, arrow type, json text, xml element text)
VALUE_CASES = [
    (datetime(2008, 10, 3, 20, 5, 38, 910000), pa.timestamp("us"), '"2008-10-03T20:05:38.910"', "2008-10-03T20:05:38.910"),
    (datetime(2008, 10, 3, 20, 5, 38), pa.timestamp("us"), '"2008-10-03T20:05:38.000"', "2008-10-03T20:05:38.000"),
    (datetime(2008, 10, 3, 20, 5, 38, 123456), pa.timestamp("us"), '"2008-10-03T20:05:38.123456"',
     "2008-10-03T20:05:38.123456"),  # microseconds kept: CKAN truncates to .123 (a deliberate difference)
    (datetime(1960, 1, 1, 0, 0, 0, 1000), pa.timestamp("ns"), '"1960-01-01T00:00:00.001"', "1960-01-01T00:00:00.001"),
    (datetime(2008, 10, 3, 20, 5, 38, 910000), pa.timestamp("ms"), '"2008-10-03T20:05:38.910"', "2008-10-03T20:05:38.910"),
    (datetime(2008, 10, 3, 20, 5, 38, 910000, tzinfo=timezone.utc), pa.timestamp("us", tz="UTC"),
     '"2008-10-03T20:05:38.910"', "2008-10-03T20:05:38.910"),
    (time(3, 54, 27, 785990), pa.time64("us"), '"03:54:27.78599"', "03:54:27.78599"),
    (time(3, 54, 27), pa.time64("us"), '"03:54:27"', "03:54:27"),
    (time(0, 0, 0, 500000), pa.time64("us"), '"00:00:00.5"', "00:00:00.5"),
    (date(2020, 2, 29), pa.date32(), '"2020-02-29"', "2020-02-29"),
    (Decimal("49387819521.000000000"), pa.decimal128(38, 9), "49387819521", "49387819521"),
    (Decimal("1.500000000"), pa.decimal128(38, 9), "1.5", "1.5"),
    (Decimal("-0.000000001"), pa.decimal128(38, 9), "-1e-09", "-1e-09"),
    (Decimal("100000000000000000000.000000000"), pa.decimal128(38, 9), "100000000000000000000",
     "100000000000000000000"),
    (Decimal("0E-9"), pa.decimal128(38, 9), "0", "0"),
    (2.0, pa.float64(), "2", "2"),
    (1e15, pa.float64(), "1000000000000000.0", "1000000000000000.0"),
    (1.234567890123456e15, pa.float64(), "1234567890123456.0", "1234567890123456.0"),
    (float("nan"), pa.float64(), '"NaN"', "NaN"),
    (float("-inf"), pa.float64(), '"-Infinity"', "-Infinity"),
    (True, pa.bool_(), "true", "True"),
    (b"\x00\xff", pa.binary(), '"\\\\x00ff"', "\\x00ff"),
]


@pytest.mark.parametrize("value,arrow_type,json_text,xml_text", VALUE_CASES,
                         ids=[f"{c[1]}-{c[0]!r}"[:60] for c in VALUE_CASES])
def test_each_value_is_written_as_ckan_writes_it(value, arrow_type, json_text, xml_text):
    table = pa.table({"_id": pa.array([1], pa.int64()), "v": pa.array([value], arrow_type)})
    body = b"".join(json_chunks(table.to_batches(), ckan_fields(table.schema))).decode()
    assert body.split("\n")[3] == f"    [1,{json_text}]"
    xml = b"".join(xml_chunks(table.to_batches(), ckan_fields(table.schema))).decode()
    assert xml.split("\n")[1] == f'<row _id="1"><v>{xml_text}</v></row>'


def test_xml_element_names_follow_ckans_rules():
    assert xml_element_names(["xml_name", "2nd col", "a b", "a_b", "café", "x$y", "-.9z", "a_b"]) == [
        "_name", "nd_col", "a_b", "a_b_0", "café", "xy", "z", "a_b_1"]


def ckan_xml_writer(columns: list[str], records: list[dict]) -> bytes:
    """CKAN's XMLWriter.write_records (ckanext/datastore/writer.py), kept here as the oracle for escaping."""
    output = io.BytesIO()
    names = dict(zip(columns[1:], xml_element_names(columns[1:])))

    def insert(root, k, v, key_attr=None):
        element = SubElement(root, k)
        if v is None:
            element.attrib["xsi:nil"] = "true"
        elif not isinstance(v, (list, dict)):
            element.text = str(v)
        else:
            for key, value in (enumerate(v) if isinstance(v, list) else v.items()):
                insert(element, "value", value, key)
        if key_attr is not None:
            element.attrib["key"] = str(key_attr)

    for r in records:
        root = Element("row")
        root.attrib["_id"] = str(r["_id"])
        for c in columns[1:]:
            insert(root, names[c], r[c])
        ElementTree(root).write(output, encoding="utf-8")
        output.write(b"\n")
    return output.getvalue()


@pytest.mark.parametrize("text", ["", " ", "a&b<c>d", 'q"\'', "tab\there", "cr\rlf\n", "\u2028é漢字😀", "]]>", "&amp;"])
def test_xml_escaping_matches_elementtree(text):
    table = pa.table({"_id": pa.array([7], pa.int64()), "t": [text], "n": pa.array([[text, None]]),
                      "j": pa.array([None], pa.string())})
    records = [{"_id": 7, "t": text, "n": [text, None], "j": None}]
    ours = b"".join(xml_chunks(table.to_batches(), ckan_fields(table.schema)))
    assert ours.split(b"\n", 1)[1][: -len(b"</data>\n")] == ckan_xml_writer(["_id", "t", "n", "j"], records)


def test_dict_keys_that_need_escaping_in_a_key_attribute():
    table = pa.table({"_id": [1], "j": ['{"a\\"b\\n<": 1}']})
    ours = b"".join(xml_chunks(table.to_batches(), ckan_fields(table.schema, ["j"])))
    assert ours.split(b"\n", 1)[1][: -len(b"</data>\n")] == ckan_xml_writer(["_id", "j"],
                                                                          [{"_id": 1, "j": {'a"b\n<': 1}}])


def test_parquet_batches_stream_a_file(tmp_path):
    path = tmp_path / "rows.parquet"
    pq.write_table(TABLE, path, row_group_size=2)
    batches = list(parquet_batches(path, batch_rows=1))
    assert len(batches) == 3
    assert b"".join(json_chunks(batches, ckan_fields(pq.read_schema(path), ["doc"]))) == EXPECTED_JSON


def test_timestamps_before_1970_keep_their_fraction_as_postgresqls_to_char_does():
    """The first per-value writer rounded these up to the next second (Arrow's cast truncates toward the epoch)."""
    table = pa.table({"at": pa.array([datetime(1969, 12, 31, 23, 59, 59, 500000), datetime(65, 8, 25, 12, 51, 20, 86004)],
                                     pa.timestamp("us"))})
    body = b"".join(json_chunks(table.to_batches(), ckan_fields(table.schema)))
    assert b'["1969-12-31T23:59:59.500"],\n    ["0065-08-25T12:51:20.086004"]' in body
