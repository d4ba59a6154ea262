"""tron.domain.timeutil: every time is IST-aware; naive ones are refused."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.support.days import at
from tron.domain.timeutil import IST, require_ist


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        require_ist(datetime(2026, 11, 23, 9, 15))  # noqa: DTZ001
    assert require_ist(datetime(2026, 11, 23, 3, 45, tzinfo=IST)).utcoffset() == timedelta(
        hours=5, minutes=30
    )


def test_time_helper() -> None:
    assert at(10, 1) - at(10, 0) == timedelta(minutes=1)
