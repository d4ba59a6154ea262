"""Worked examples computed by hand from the rates in kite-and-nse.md (STT to the rupee, rest to paise)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from tron.domain.charges import SEGMENTS, TABLE, rates_on, trade_charges


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


# ---- history: the table back to 2020-07-01 (rates and sources in tron.domain.charges) ----
#
# Each segment's trade above, priced on one date in each era of the table. Brokerage, stamp duty and the
# turnover never changed since 2020-07-01 (stamp: the Indian Stamp Act as amended by the Finance Act 2019;
# brokerage: Zerodha's 0.03 % or ₹20 since April 2020), so per era only STT, the NSE transaction charge
# (incl. IPFT), the SEBI fee and GST move:
#
#   from        NSE cash   NSE fut    NSE opt    SEBI/cr  GST base          STT fut  STT opt
#   2020-07-01  0.00325 %  0.0019 %   0.05 %     ₹5       brok + txn        0.01 %   0.05 %
#   2021-01-01  0.00345 %  0.002 %    0.053 %    ₹5       brok + txn        0.01 %   0.05 %
#   2021-04-01  0.00345 %  0.002 %    0.053 %    ₹10      brok + txn        0.01 %   0.05 %
#   2022-07-18  0.00345 %  0.002 %    0.053 %    ₹10      brok + txn + SEBI 0.01 %   0.05 %
#   2023-04-01  0.00335 %  0.002 %    0.0505 %   ₹10      brok + txn + SEBI 0.0125 % 0.0625 %
#   2024-04-01  0.00332 %  0.00198 %  0.05 %     ₹10      brok + txn + SEBI 0.0125 % 0.0625 %
#   2024-10-01  0.00307 %  0.00183 %  0.03553 %  ₹10      brok + txn + SEBI 0.02 %   0.1 %
#   2026-04-01  0.00307 %  0.00183 %  0.03553 %  ₹10      brok + txn + SEBI 0.05 %   0.15 %
#
# (from 2023-04-01 the NSE figures include IPFT: ₹10/crore on cash and futures, ₹50/crore on options premium)

ERA_DATES = (
    date(2020, 9, 1),
    date(2021, 2, 1),
    date(2021, 6, 1),
    date(2022, 9, 1),
    date(2023, 6, 1),
    date(2024, 6, 1),
    date(2024, 12, 1),
    date(2026, 6, 1),
)

# intraday: buy 1000 × 100 = 100 000; sell 1010 × 100 = 101 000; turnover 201 000
INTRADAY_COMMON = {
    "turnover": "201000.00",
    "brokerage": "40.00",  # min(30, 20) + min(30.30, 20)
    "stt": "25",  # 101 000 × 0.025 % = 25.25 → 25 (every era)
    "stamp_duty": "3.00",  # 100 000 × 0.003 %
}


@pytest.mark.parametrize(
    ("on", "transaction", "sebi", "gst", "total"),
    [
        # 201 000 × 0.00325 % = 6.5325; × ₹5/cr = 0.1005; (40 + 6.53) × 18 % = 8.3754
        (date(2020, 9, 1), "6.53", "0.10", "8.38", "83.01"),
        # 201 000 × 0.00345 % = 6.9345; × ₹5/cr = 0.1005; (40 + 6.93) × 18 % = 8.4474
        (date(2021, 2, 1), "6.93", "0.10", "8.45", "83.48"),
        # 6.9345; × ₹10/cr = 0.201; (40 + 6.93) × 18 % = 8.4474
        (date(2021, 6, 1), "6.93", "0.20", "8.45", "83.58"),
        # 6.9345; 0.201; (40 + 6.93 + 0.20) × 18 % = 8.4834
        (date(2022, 9, 1), "6.93", "0.20", "8.48", "83.61"),
        # 201 000 × 0.00335 % = 6.7335; 0.201; (40 + 6.73 + 0.20) × 18 % = 8.4474
        (date(2023, 6, 1), "6.73", "0.20", "8.45", "83.38"),
        # 201 000 × 0.00332 % = 6.6732; 0.201; (40 + 6.67 + 0.20) × 18 % = 8.4366
        (date(2024, 6, 1), "6.67", "0.20", "8.44", "83.31"),
        # 201 000 × 0.00307 % = 6.1707; 0.201; (40 + 6.17 + 0.20) × 18 % = 8.3466
        (date(2024, 12, 1), "6.17", "0.20", "8.35", "82.72"),
        (date(2026, 6, 1), "6.17", "0.20", "8.35", "82.72"),
    ],
)
def test_equity_intraday_in_each_era(on, transaction, sebi, gst, total):
    c = trade_charges("equity_intraday", Decimal("1000"), Decimal("1010"), 100, on)
    # totals: 40 + 25 + transaction + SEBI + 3.00 + GST
    _check(c, {**INTRADAY_COMMON, "transaction": transaction, "sebi": sebi, "gst": gst, "total": total})


DELIVERY_COMMON = {
    "turnover": "201000.00",
    "brokerage": "0.00",  # free
    "stt": "201",  # 201 000 × 0.1 % (every era)
    "stamp_duty": "15.00",  # 100 000 × 0.015 %
}


@pytest.mark.parametrize(
    ("on", "transaction", "sebi", "gst", "total"),
    [
        # 6.5325; 0.1005; 6.53 × 18 % = 1.1754
        (date(2020, 9, 1), "6.53", "0.10", "1.18", "223.81"),
        # 6.9345; 0.1005; 6.93 × 18 % = 1.2474
        (date(2021, 2, 1), "6.93", "0.10", "1.25", "224.28"),
        # 6.9345; 0.201; 6.93 × 18 % = 1.2474
        (date(2021, 6, 1), "6.93", "0.20", "1.25", "224.38"),
        # 6.9345; 0.201; (6.93 + 0.20) × 18 % = 1.2834
        (date(2022, 9, 1), "6.93", "0.20", "1.28", "224.41"),
        # 6.7335; 0.201; (6.73 + 0.20) × 18 % = 1.2474
        (date(2023, 6, 1), "6.73", "0.20", "1.25", "224.18"),
        # 6.6732; 0.201; (6.67 + 0.20) × 18 % = 1.2366
        (date(2024, 6, 1), "6.67", "0.20", "1.24", "224.11"),
        # 6.1707; 0.201; (6.17 + 0.20) × 18 % = 1.1466
        (date(2024, 12, 1), "6.17", "0.20", "1.15", "223.52"),
        (date(2026, 6, 1), "6.17", "0.20", "1.15", "223.52"),
    ],
)
def test_equity_delivery_in_each_era(on, transaction, sebi, gst, total):
    c = trade_charges("equity_delivery", Decimal("1000"), Decimal("1010"), 100, on)
    # totals: 0 + 201 + transaction + SEBI + 15.00 + GST
    _check(c, {**DELIVERY_COMMON, "transaction": transaction, "sebi": sebi, "gst": gst, "total": total})


# futures: buy 24 000 × 65 = 1 560 000; sell 24 100 × 65 = 1 566 500; turnover 3 126 500
FUT_ERA_COMMON = {
    "turnover": "3126500.00",
    "brokerage": "40.00",  # min(468, 20) + min(469.95, 20)
    "stamp_duty": "31.20",  # 1 560 000 × 0.002 %
}


@pytest.mark.parametrize(
    ("on", "stt", "transaction", "sebi", "gst", "total"),
    [
        # 1 566 500 × 0.01 % = 156.65 → 157; 3 126 500 × 0.0019 % = 59.4035; × ₹5/cr = 1.56325;
        # (40 + 59.40) × 18 % = 17.892
        (date(2020, 9, 1), "157", "59.40", "1.56", "17.89", "307.05"),
        # 157; × 0.002 % = 62.53; 1.56325; (40 + 62.53) × 18 % = 18.4554
        (date(2021, 2, 1), "157", "62.53", "1.56", "18.46", "310.75"),
        # 157; 62.53; × ₹10/cr = 3.1265; (40 + 62.53) × 18 % = 18.4554
        (date(2021, 6, 1), "157", "62.53", "3.13", "18.46", "312.32"),
        # 157; 62.53; 3.1265; (40 + 62.53 + 3.13) × 18 % = 19.0188
        (date(2022, 9, 1), "157", "62.53", "3.13", "19.02", "312.88"),
        # × 0.0125 % = 195.8125 → 196; × (0.0019 + 0.0001 IPFT) % = 62.53; 3.1265; 19.0188
        (date(2023, 6, 1), "196", "62.53", "3.13", "19.02", "351.88"),
        # 196; × 0.00198 % = 61.9047; 3.1265; (40 + 61.90 + 3.13) × 18 % = 18.9054
        (date(2024, 6, 1), "196", "61.90", "3.13", "18.91", "351.14"),
        # × 0.02 % = 313.30 → 313; × 0.00183 % = 57.21495; 3.1265; (40 + 57.21 + 3.13) × 18 % = 18.0612
        (date(2024, 12, 1), "313", "57.21", "3.13", "18.06", "462.60"),
        # × 0.05 % = 783.25 → 783; the rest as above
        (date(2026, 6, 1), "783", "57.21", "3.13", "18.06", "932.60"),
    ],
)
def test_futures_in_each_era(on, stt, transaction, sebi, gst, total):
    c = trade_charges("futures", Decimal("24000"), Decimal("24100"), 65, on)
    # totals: 40 + STT + transaction + SEBI + 31.20 + GST
    want = {"stt": stt, "transaction": transaction, "sebi": sebi, "gst": gst, "total": total}
    _check(c, {**FUT_ERA_COMMON, **want})


# options: buy 100 × 650 = 65 000; sell 120 × 650 = 78 000; turnover (premium) 143 000
OPT_ERA_COMMON = {
    "turnover": "143000.00",
    "brokerage": "40.00",  # ₹20 flat per order × 2
    "stamp_duty": "1.95",  # 65 000 × 0.003 %
}


@pytest.mark.parametrize(
    ("on", "stt", "transaction", "sebi", "gst", "total"),
    [
        # 78 000 × 0.05 % = 39; 143 000 × 0.05 % = 71.50; × ₹5/cr = 0.0715; (40 + 71.50) × 18 % = 20.07
        (date(2020, 9, 1), "39", "71.50", "0.07", "20.07", "172.59"),
        # 39; × 0.053 % = 75.79; 0.0715; (40 + 75.79) × 18 % = 20.8422
        (date(2021, 2, 1), "39", "75.79", "0.07", "20.84", "177.65"),
        # 39; 75.79; × ₹10/cr = 0.143; (40 + 75.79) × 18 % = 20.8422
        (date(2021, 6, 1), "39", "75.79", "0.14", "20.84", "177.72"),
        # 39; 75.79; 0.143; (40 + 75.79 + 0.14) × 18 % = 20.8674
        (date(2022, 9, 1), "39", "75.79", "0.14", "20.87", "177.75"),
        # × 0.0625 % = 48.75 → 49; × (0.05 + 0.0005 IPFT) % = 72.215 → 72.22; 0.143;
        # (40 + 72.22 + 0.14) × 18 % = 20.2248
        (date(2023, 6, 1), "49", "72.22", "0.14", "20.22", "183.53"),
        # 49; × 0.05 % = 71.50; 0.143; (40 + 71.50 + 0.14) × 18 % = 20.0952
        (date(2024, 6, 1), "49", "71.50", "0.14", "20.10", "182.69"),
        # × 0.1 % = 78; × 0.03553 % = 50.8079; 0.143; (40 + 50.81 + 0.14) × 18 % = 16.371
        (date(2024, 12, 1), "78", "50.81", "0.14", "16.37", "187.27"),
        # × 0.15 % = 117; the rest as above
        (date(2026, 6, 1), "117", "50.81", "0.14", "16.37", "226.27"),
    ],
)
def test_options_in_each_era(on, stt, transaction, sebi, gst, total):
    c = trade_charges("options", Decimal("100"), Decimal("120"), 650, on)
    # totals: 40 + STT + transaction + SEBI + 1.95 + GST
    want = {"stt": stt, "transaction": transaction, "sebi": sebi, "gst": gst, "total": total}
    _check(c, {**OPT_ERA_COMMON, **want})


@pytest.mark.parametrize(
    ("segment", "last_old", "field", "old", "new"),
    [
        # each change on its effective date, the day before still the old rate
        ("equity_intraday", date(2020, 12, 31), "transaction", "0.0000325", "0.0000345"),  # NSE +6 %
        ("options", date(2020, 12, 31), "transaction", "0.0005", "0.00053"),
        ("futures", date(2021, 3, 31), "sebi_per_crore", "5", "10"),  # SEBI's COVID-19 halving ends
        ("equity_delivery", date(2022, 7, 17), "gst_on_sebi", False, True),  # GST on SEBI's fees
        ("futures", date(2023, 3, 31), "stt_sell", "0.0001", "0.000125"),  # Finance Act 2023
        ("options", date(2023, 3, 31), "stt_sell", "0.0005", "0.000625"),
        ("equity_intraday", date(2023, 3, 31), "transaction", "0.0000345", "0.0000335"),  # rollback + IPFT
        ("futures", date(2024, 3, 31), "transaction", "0.00002", "0.0000198"),  # NSE April 2024
        ("options", date(2024, 9, 30), "transaction", "0.0005", "0.0003553"),  # flat rates
    ],
)
def test_each_change_takes_effect_on_its_date(segment, last_old, field, old, new):
    def value(on):
        v = getattr(rates_on(segment, on), field)
        return v if isinstance(v, bool) else Decimal(v)

    want_old, want_new = (old, new) if isinstance(old, bool) else (Decimal(old), Decimal(new))
    assert value(last_old) == want_old
    assert value(last_old + timedelta(days=1)) == want_new


@pytest.mark.parametrize("segment", SEGMENTS)
def test_the_table_starts_with_uniform_stamp_duty(segment):
    starts = [start for start, _ in TABLE[segment]]
    assert starts[0] == date(2020, 7, 1)  # the Indian Stamp Act amendment (Finance Act 2019) in force
    assert starts == sorted(set(starts))  # oldest first, one row a date
    trade_charges(segment, Decimal("100"), Decimal("101"), 1, date(2020, 7, 1))  # its first day is known


@pytest.mark.parametrize("segment", SEGMENTS)
@pytest.mark.parametrize("on", [date(2020, 6, 30), date(2019, 5, 2)])
def test_a_date_before_the_table_is_a_clear_error(segment, on):
    with pytest.raises(ValueError) as e:
        trade_charges(segment, Decimal("100"), Decimal("101"), 1, on)
    assert str(e.value) == f"no {segment} charges known before 2020-07-01 (asked for {on.isoformat()})"
