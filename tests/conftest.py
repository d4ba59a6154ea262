from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tests.integration.emulators import (  # noqa: F401  (the emulator fixtures, started on first use)
    _firestore_session_client,
    _gcs_session_client,
    fake_gcs_server,
    firestore_client,
    firestore_emulator,
    gcs_bucket,
    gcs_client,
    pubsub_emulator,
)
from tests.integration.kite_sim import kite_sim  # noqa: F401  (the Kite simulator on loopback)
from tron.config.settings import load_settings

TRADING_DAY = date(2026, 11, 23)
HOLIDAY = date(2026, 11, 24)


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see the defaults, not a developer's environment."""
    import os

    for k in list(os.environ):
        if k.startswith("TRON_"):
            monkeypatch.delenv(k)


def settings(tmp: Path, **kw: object):
    return load_settings(data_dir=tmp, **kw)
