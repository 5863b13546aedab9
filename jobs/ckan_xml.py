"""CKAN's XML dump file, `<data>` with one `<row _id="...">` per record, as its XMLWriter (ElementTree) writes it."""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Iterable, Iterator

import pyarrow as pa

from jobs.ckan_render import Part, PythonPart, literal_part, rendered, sql_part
from jobs.ckan_values import (BOM, ckan_values, column_sql, is_text, may_be_empty, plain_text_sql, quote_literal,
                              sql_char)


XSI_NAMESPACE = "http://www.w3.org/2001/XMLSchema-instance"
XML_TAIL = b"</data>\n"


# ckanext/datastore/writer.py xml_element_name_rules, in order.
_XML_NAME_RULES = [
    (re.compile(r"^(\d*xml\d*|\d+)", re.I), ""),
    (re.compile(r"\s+"), "_"),
    (re.compile(r"[^\w_.-]", re.U), ""),
    (re.compile(r"^[\d.-]+"), ""),
]


def xml_chunks(batches: Iterable[pa.RecordBatch], fields: list[dict], bom: bool = False) -> Iterator[bytes]:
    """`<data>` with one `<row _id="...">` per record, as CKAN's XMLWriter (ElementTree) serialises it."""
    yield xml_head(bom)
    yield from xml_rows(batches, fields)
    yield XML_TAIL


def xml_head(bom: bool = False) -> bytes:
    return (BOM if bom else b"") + f'<data xmlns:xsi="{XSI_NAMESPACE}">\n'.encode()


def xml_rows(batches: Iterable[pa.RecordBatch], fields: list[dict]) -> Iterator[bytes]:
    return rendered(batches, fields, _xml_row)


def xml_element_names(columns: list[str]) -> list[str]:
    """CKAN's element names: NFC, its four rewriting rules, then `_0`, `_1`... suffixes for clashes."""
    chosen: list[str] = []
    for column in columns:
        name = unicodedata.normalize("NFC", column)
        for rule, replacement in _XML_NAME_RULES:
            name = rule.sub(replacement, name)
        unique, suffix = name, 0
        while unique in chosen:
            unique = f"{name}_{suffix}"
            suffix += 1
        chosen.append(unique)
    return chosen


def _xml_row(schema: pa.Schema, fields: list[dict]) -> list[Part]:
    names = [f["id"] for f in fields]
    id_first = bool(names) and names[0] == "_id"
    rest = fields[1:] if id_first else fields
    tags = xml_element_names([f["id"] for f in rest])
    parts: list[Part] = []
    if id_first:
        id_sql = _xml_id_sql(column_sql(schema, "_id"), schema.field("_id").type)
        id_part = sql_part(id_sql) if id_sql else ("py", "_id", _python_xml_id)
        parts += [literal_part('<row _id="'), id_part, literal_part('"')]
    else:
        parts.append(literal_part("<row"))
    if not tags:  # ElementTree writes a childless element short
        return parts + [literal_part(" />\n")]
    parts.append(literal_part(">"))
    for tag, spec in zip(tags, rest):
        column = column_sql(schema, spec["id"])
        text = _xml_text_sql(column, schema.field(spec["id"]).type, spec["type"])
        if text is None:
            parts.append(("py", spec["id"], _python_xml(tag, spec["type"])))
            continue
        element = f"concat({quote_literal(f'<{tag}>')}, {text}, {quote_literal(f'</{tag}>')})"
        if may_be_empty(schema.field(spec["id"]).type):
            element = f"CASE WHEN {column} = '' THEN {quote_literal(f'<{tag} />')} ELSE {element} END"
        nil = quote_literal(f'<{tag} xsi:nil="true" />')
        parts.append(sql_part(f"CASE WHEN {column} IS NULL THEN {nil} ELSE {element} END"))
    parts.append(literal_part("</row>\n"))
    return parts


def _xml_text_sql(column: str, arrow_type: pa.DataType, ckan: str) -> str | None:
    """str(value) as CKAN's XMLWriter sets element.text, escaped as ElementTree writes it."""
    if ckan == "text" and is_text(arrow_type):
        return _xml_escape_sql(column)
    if pa.types.is_boolean(arrow_type) and ckan == "bool":
        return f"CASE {column} WHEN true THEN 'True' WHEN false THEN 'False' END"
    return plain_text_sql(column, arrow_type, ckan)


def _xml_id_sql(column: str, arrow_type: pa.DataType) -> str | None:
    """The `_id` attribute: str() of the value as read (None for null), attribute-escaped."""
    if pa.types.is_integer(arrow_type):
        return f"coalesce(CAST({column} AS VARCHAR), 'None')"
    if is_text(arrow_type):
        return f"coalesce({_xml_attribute_escape_sql(column)}, 'None')"
    return None


def _xml_escape_sql(text: str) -> str:
    return f"replace(replace(replace({text}, '&', '&amp;'), '<', '&lt;'), '>', '&gt;')"


def _xml_attribute_escape_sql(text: str) -> str:
    escaped = _xml_escape_sql(text)
    for char, entity in (('"', "&quot;"), ("\r", "&#13;"), ("\n", "&#10;"), ("\t", "&#09;")):
        escaped = f"replace({escaped}, {sql_char(char)}, {quote_literal(entity)})"
    return escaped


def _python_xml(tag: str, ckan: str) -> PythonPart:
    def render(array: pa.Array) -> list:
        return _xml_elements(tag, ckan_values(array, ckan))
    return render


def _python_xml_id(array: pa.Array) -> list:
    return [_escape_attribute(str(v)) for v in array.to_pylist()]


def _xml_elements(tag: str, values: list) -> list[str]:
    """One column's elements for a batch; scalars without markup characters skip escaping."""
    nil, empty, start, end = f'<{tag} xsi:nil="true" />', f"<{tag} />", f"<{tag}>", f"</{tag}>"
    elements = []
    for value in values:
        if value is None:
            elements.append(nil)
        elif isinstance(value, (list, dict)):
            parts: list[str] = []
            _xml_node(parts, tag, value, None)
            elements.append("".join(parts))
        else:
            text = value if isinstance(value, str) else str(value)  # CKAN: element.text = str(v)
            if "&" in text or "<" in text or ">" in text:
                text = _escape_text(text)
            elements.append(f"{start}{text}{end}" if text else empty)
    return elements


def _xml_node(parts: list[str], tag: str, value: Any, key: Any) -> None:
    key_attribute = "" if key is None else f' key="{_escape_attribute(str(key))}"'
    if value is None:
        parts.append(f'<{tag} xsi:nil="true"{key_attribute} />')
    elif isinstance(value, (list, dict)):
        items = enumerate(value) if isinstance(value, list) else value.items()
        start = len(parts)
        parts.append(f"<{tag}{key_attribute}>")
        for child_key, child in items:
            _xml_node(parts, "value", child, child_key)
        if len(parts) == start + 1:
            parts[start] = f"<{tag}{key_attribute} />"
        else:
            parts.append(f"</{tag}>")
    else:
        text = _escape_text(str(value))
        parts.append(f"<{tag}{key_attribute}>{text}</{tag}>" if text else f"<{tag}{key_attribute} />")


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_attribute(text: str) -> str:
    return (_escape_text(text).replace('"', "&quot;").replace("\r", "&#13;").replace("\n", "&#10;")
            .replace("\t", "&#09;"))
