"""Contract suites: each port's behaviour, run against the local adapter and the Google one on its emulator.

The emulators are session fixtures from tests/support/emulators.py; one that cannot start fails the run.
"""

from __future__ import annotations

import secrets

import pytest


PROJECT = "test-project"


@pytest.fixture
def gcs_bucket(gcs_emulator):
    """A fresh bucket on fake-gcs-server for one test; its name."""
    client = gcs_emulator.client(PROJECT)
    name = f"bqdump-test-{secrets.token_hex(6)}"
    client.create_bucket(name)
    return name
