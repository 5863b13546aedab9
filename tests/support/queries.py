"""A CKAN query as a dump request reads and checks it, with the bounds the settings' defaults give."""

from __future__ import annotations

from typing import Sequence

from functions.core.ckan_params import parse_dump_query
from functions.core.dump_query import DumpQuery, TableColumn, check_against_columns
from functions.core.settings_schema import read_settings
from functions.settings import Config

BOUNDS = read_settings(Config, {}).bounds  # DUMP_MAX_* unset


def parsed(params: dict) -> DumpQuery:
    return parse_dump_query(params, BOUNDS)


def checked_query(params: dict, columns: Sequence[TableColumn]) -> DumpQuery:
    return check_against_columns(parsed(params), columns)
