"""DUMP_LOCAL_EXPORTS: how many exports (and task deliveries) the local backend runs at once."""

import os

import pytest

from functions.core.errors import ConfigurationError
from functions.settings import load_settings
from functions.wiring import build_backend
from tests.support.clock import FakeClock


def test_by_default_one_export_per_core_and_at_least_two():
    assert load_settings({}).core.local_exports == max(2, os.cpu_count() or 1)


def test_an_operator_sets_it_and_a_bad_value_stops_start_up_naming_it():
    assert load_settings({"DUMP_LOCAL_EXPORTS": "5"}).core.local_exports == 5
    with pytest.raises(ConfigurationError, match="DUMP_LOCAL_EXPORTS"):
        load_settings({"DUMP_LOCAL_EXPORTS": "0"})


def test_the_warehouse_pool_and_the_queue_deliveries_take_the_setting(tmp_path):
    settings = load_settings({"DUMP_LOCAL_DIR": str(tmp_path), "DUMP_LOCAL_EXPORTS": "3"})
    backend = build_backend(settings, FakeClock())
    try:  # no port exposes a pool's size: read it from the adapter
        assert backend.read_only.tables._executor._max_workers == 3  # type: ignore[attr-defined]
        assert backend.read_write.queue._executor._max_workers == 3  # type: ignore[attr-defined]
    finally:
        for close in backend.closers:
            close()
