"""Worked examples computed by hand from the rates in kite-and-nse.md (STT to the rupee, rest to paise)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tron.domain.charges import trade_charges


def _check(c, expected: dict[str, str]) -> None:
    got = {k: getattr(c, k) for k in expected if k != "total"}
    got["total"] = c.total
    assert got == {k: Decimal(v) for k, v in expected.items()}


def test_equity_intraday_capped_brokerage():
    # buy 1000 × 100 = 100 000; sell 1010 × 100 = 101 000; turnover 201 000
    c = trade_charges("equity_intraday", Decimal("1000"), Decimal("1010"), 100, date(2026, 5, 1))
    _check(
        c,
        {
            "turnover": "201000.00",
            "brokerage": "40.00",  # min(100 000 × 0.03 % = 30, 20) + min(30.30, 20) = 20 + 20
            "stt": "25",  # 101 000 × 0.025 % = 25.25 → 25
            "transaction": "6.17",  # 201 000 × 0.00307 % = 6.1707
            "sebi": "0.20",  # 201 000 × 10 / 1e7 = 0.201
            "stamp_duty": "3.00",  # 100 000 × 0.003 % = 3.00
            "gst": "8.35",  # (40 + 6.17 + 0.20) × 18 % = 46.37 × 0.18 = 8.3466
            "total": "82.72",  # 40 + 25 + 6.17 + 0.20 + 3.00 + 8.35
        },
    )


def test_equity_intraday_small_order_percentage_brokerage():
    # buy 100 × 10 = 1 000; sell 101 × 10 = 1 010; turnover 2 010
    c = trade_charges("equity_intraday", Decimal("100"), Decimal("101"), 10, date(2026, 5, 1))
    _check(
        c,
        {
            "turnover": "2010.00",
            "brokerage": "0.60",  # 1 000 × 0.03 % + 1 010 × 0.03 % = 0.30 + 0.303 = 0.603
            "stt": "0",  # 1 010 × 0.025 % = 0.2525 → 0
            "transaction": "0.06",  # 2 010 × 0.00307 % = 0.061707
            "sebi": "0.00",  # 2 010 × 10 / 1e7 = 0.00201
            "stamp_duty": "0.03",  # 1 000 × 0.003 % = 0.03
            "gst": "0.12",  # (0.60 + 0.06 + 0.00) × 18 % = 0.1188
            "total": "0.81",  # 0.60 + 0 + 0.06 + 0 + 0.03 + 0.12
        },
    )


def test_stt_rounds_half_up_to_the_rupee():
    # sell 100 × 100 = 10 000 × 0.025 % = 2.50 → 3
    c = trade_charges("equity_intraday", Decimal("100"), Decimal("100"), 100, date(2026, 5, 1))
    assert c.stt == Decimal("3")


def test_equity_delivery():
    c = trade_charges("equity_delivery", Decimal("1000"), Decimal("1010"), 100, date(2026, 5, 1))
    _check(
        c,
        {
            "turnover": "201000.00",
            "brokerage": "0.00",  # free
            "stt": "201",  # (100 000 + 101 000) × 0.1 % = 201
            "transaction": "6.17",  # 201 000 × 0.00307 % = 6.1707
            "sebi": "0.20",  # 0.201
            "stamp_duty": "15.00",  # 100 000 × 0.015 %
            "gst": "1.15",  # (0 + 6.17 + 0.20) × 18 % = 1.1466
            "total": "223.52",  # 0 + 201 + 6.17 + 0.20 + 15.00 + 1.15
        },
    )


# NIFTY futures: buy 24 000 × 65 = 1 560 000; sell 24 100 × 65 = 1 566 500; turnover 3 126 500
FUT_COMMON = {
    "turnover": "3126500.00",
    "brokerage": "40.00",  # min(468, 20) + min(469.95, 20)
    "transaction": "57.21",  # 3 126 500 × 0.00183 % = 57.21495
    "sebi": "3.13",  # 3 126 500 × 10 / 1e7 = 3.1265
    "stamp_duty": "31.20",  # 1 560 000 × 0.002 %
    "gst": "18.06",  # (40 + 57.21 + 3.13) × 18 % = 100.34 × 0.18 = 18.0612
}


@pytest.mark.parametrize(
    ("on", "stt", "total"),
    [
        (date(2026, 3, 31), "313", "462.60"),  # 1 566 500 × 0.02 % = 313.30 → 313
        (date(2026, 4, 1), "783", "932.60"),  # 1 566 500 × 0.05 % = 783.25 → 783
    ],
)
def test_futures_stt_change(on, stt, total):
    c = trade_charges("futures", Decimal("24000"), Decimal("24100"), 65, on)
    # totals: 40 + STT + 57.21 + 3.13 + 31.20 + 18.06
    _check(c, {**FUT_COMMON, "stt": stt, "total": total})


# NIFTY options: buy 100 × 650 = 65 000; sell 120 × 650 = 78 000; turnover 143 000
OPT_COMMON = {
    "turnover": "143000.00",
    "brokerage": "40.00",  # ₹20 flat per order × 2
    "transaction": "50.81",  # 143 000 × 0.03553 % = 50.8079
    "sebi": "0.14",  # 143 000 × 10 / 1e7 = 0.143
    "stamp_duty": "1.95",  # 65 000 × 0.003 %
    "gst": "16.37",  # (40 + 50.81 + 0.14) × 18 % = 90.95 × 0.18 = 16.371
}


@pytest.mark.parametrize(
    ("on", "stt", "total"),
    [
        (date(2026, 3, 31), "78", "187.27"),  # 78 000 × 0.1 % = 78
        (date(2026, 4, 1), "117", "226.27"),  # 78 000 × 0.15 % = 117
    ],
)
def test_options_stt_change(on, stt, total):
    c = trade_charges("options", Decimal("100"), Decimal("120"), 650, on)
    # totals: 40 + STT + 50.81 + 0.14 + 1.95 + 16.37
    _check(c, {**OPT_COMMON, "stt": stt, "total": total})
