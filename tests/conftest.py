"""Fixtures for every test directory: the emulator fixtures and the Kite simulator (defined in tests/support),
no TRON_ settings from the environment, and one terminal width. Shared builders and fakes are imported from tests/support."""

from __future__ import annotations

import pytest

from tests.support.emulators import (  # noqa: F401  (the emulator fixtures, started on first use)
    _firestore_session_client,
    _gcs_session_client,
    fake_gcs_server,
    firestore_client,
    firestore_emulator,
    gcs_bucket,
    gcs_client,
    pubsub_emulator,
    servers,
)
from tests.support.kite_sim import kite_sim  # noqa: F401  (the Kite simulator on loopback)


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see the defaults, not a developer's environment."""
    import os

    for k in list(os.environ):
        if k.startswith("TRON_"):
            monkeypatch.delenv(k)
    # rich sizes its tables to the terminal: one width whatever runs the tests (a terminal, CI, a worker)
    monkeypatch.setenv("COLUMNS", "200")
