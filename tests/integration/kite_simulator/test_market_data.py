"""Market data: the instruments dump, quotes, ltp and ohlc, historical candles."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
import requests
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kex

from tests.support.kite_client import wall
from tests.support.kite_sim import KiteSimHandle
from tron.domain.timeutil import IST


def test_instruments_csv_has_equities_the_index_and_nifty_derivatives(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    rows = kite.instruments()
    by = {(r["exchange"], r["tradingsymbol"]): r for r in rows}
    infy = by[("NSE", "INFY")]
    assert infy["instrument_type"] == "EQ" and infy["lot_size"] == 1 and infy["tick_size"] == 0.05
    assert infy["instrument_token"] & 0xFF == 1 and infy["instrument_token"] >> 8 == int(
        infy["exchange_token"]
    )
    index = by[("NSE", "NIFTY 50")]
    assert index["segment"] == "INDICES" and index["instrument_token"] == 256265
    futs = [r for r in rows if r["segment"] == "NFO-FUT"]
    opts = [r for r in rows if r["segment"] == "NFO-OPT"]
    assert futs and opts
    for r in futs + opts:
        assert r["instrument_token"] & 0xFF == 2  # Kite's segment code for NFO in the token's low byte
        assert r["name"] == "NIFTY" and r["lot_size"] == 65 and r["tick_size"] == 0.05
        assert isinstance(r["expiry"], date) and r["expiry"] >= date(2026, 11, 23)
        assert r["expiry"].weekday() in (0, 1)  # Tuesday, or Monday when Tuesday is a holiday
    assert {r["instrument_type"] for r in opts} == {"CE", "PE"}
    assert all(r["strike"] > 0 and r["strike"] % 50 == 0 for r in opts)
    nfo = kite.instruments("NFO")
    assert {r["exchange"] for r in nfo} == {"NFO"} and len(nfo) == len(futs) + len(opts)
    with pytest.raises(kex.InputException):
        kite.instruments("XYZ")


def test_instruments_are_served_as_csv(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    r = requests.get(
        kite_sim.url + "/instruments/NSE",
        headers={"X-Kite-Version": "3", "Authorization": f"token sim:{kite.access_token}"},
        timeout=5,
    )
    assert "csv" in r.headers["content-type"]
    assert r.text.splitlines()[0] == (
        "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,"
        "instrument_type,segment,exchange"
    )


def test_quote_has_depth_ohlc_vwap_circuits_and_timestamps(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    q = kite.quote(["NSE:INFY", "NSE:NIFTY 50", "NSE:NOPE"])
    assert set(q) == {"NSE:INFY", "NSE:NIFTY 50"}  # unknown instruments are left out, as on Kite
    infy = q["NSE:INFY"]
    assert infy["timestamp"] == wall(2026, 11, 23, 10, 0)
    assert isinstance(infy["last_trade_time"], datetime)
    buy, sell = infy["depth"]["buy"], infy["depth"]["sell"]
    assert len(buy) == len(sell) == 5
    assert buy[0]["price"] < sell[0]["price"]
    assert [x["price"] for x in buy] == sorted((x["price"] for x in buy), reverse=True)
    assert all(x["quantity"] > 0 and x["orders"] > 0 for x in buy + sell)
    assert infy["ohlc"]["low"] <= infy["average_price"] <= infy["ohlc"]["high"]
    assert infy["lower_circuit_limit"] < infy["last_price"] < infy["upper_circuit_limit"]
    assert infy["volume"] > 0
    assert infy["net_change"] == pytest.approx(infy["last_price"] - infy["ohlc"]["close"], abs=0.01)
    assert "depth" not in q["NSE:NIFTY 50"] and q["NSE:NIFTY 50"]["last_price"] > 10000


def test_quote_by_instrument_token_and_derivatives(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    fut = next(r for r in kite.instruments("NFO") if r["instrument_type"] == "FUT")
    token = str(fut["instrument_token"])
    q = kite.quote([token, f"NFO:{fut['tradingsymbol']}"])
    assert q[token]["last_price"] == q[f"NFO:{fut['tradingsymbol']}"]["last_price"]
    assert q[token]["depth"]["buy"][0]["quantity"] % 65 == 0


def test_ltp_and_ohlc_agree_with_quote(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    q = kite.quote("NSE:TCS")["NSE:TCS"]
    assert kite.ltp("NSE:TCS")["NSE:TCS"]["last_price"] == q["last_price"]
    assert kite.ohlc("NSE:TCS")["NSE:TCS"]["ohlc"] == q["ohlc"]


def test_quote_instrument_count_limits(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    many = ["NSE:INFY"] * 501
    with pytest.raises(kex.InputException, match="500"):
        kite.quote(many)
    assert kite.ltp(["NSE:INFY"] * 1000)
    with pytest.raises(kex.InputException, match="1000"):
        kite.ltp(["NSE:INFY"] * 1001)
    with pytest.raises(kex.InputException, match="1000"):
        kite.ohlc(["NSE:INFY"] * 1001)


def test_quotes_move_with_the_clock(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    a = kite.quote("NSE:RELIANCE")["NSE:RELIANCE"]
    kite_sim.advance(minutes=30)
    b = kite.quote("NSE:RELIANCE")["NSE:RELIANCE"]
    assert b["volume"] > a["volume"] and b["timestamp"] == wall(2026, 11, 23, 10, 30)


def _token(kite: KiteConnect, key: str) -> int:
    return kite.quote(key)[key]["instrument_token"]


@pytest.mark.parametrize(
    ("interval", "minutes"),
    [
        ("minute", 1),
        ("3minute", 3),
        ("5minute", 5),
        ("10minute", 10),
        ("15minute", 15),
        ("30minute", 30),
        ("60minute", 60),
    ],
)
def test_intraday_candles_for_every_interval(kite_sim: KiteSimHandle, interval: str, minutes: int) -> None:
    kite = kite_sim.client()
    token = _token(kite, "NSE:INFY")
    candles = kite.historical_data(token, "2026-11-20 09:15:00", "2026-11-23 15:30:00", interval)
    ones = kite.historical_data(token, "2026-11-20 09:15:00", "2026-11-23 15:30:00", "minute")
    days = sorted({c["date"].date() for c in candles})
    assert days == [date(2026, 11, 20), date(2026, 11, 23)]
    friday = [c for c in candles if c["date"].date() == date(2026, 11, 20)]
    assert len(friday) == -(-375 // minutes)  # full session of a past day
    assert friday[0]["date"] == datetime(2026, 11, 20, 9, 15, tzinfo=IST)
    assert all(c["date"].utcoffset().total_seconds() == 19800 for c in candles)  # +0530
    # nothing after the clock (10:00 on the 23rd): no future leaks
    today = [c for c in candles if c["date"].date() == date(2026, 11, 23)]
    assert len(today) == -(-45 // minutes) and today[-1]["date"] < datetime(2026, 11, 23, 10, 0, tzinfo=IST)
    # each candle aggregates the minute candles it covers
    first = friday[1] if len(friday) > 1 else friday[0]
    covered = [
        c
        for c in ones
        if first["date"] <= c["date"] < first["date"] + (ones[1]["date"] - ones[0]["date"]) * minutes
    ]
    assert first["open"] == covered[0]["open"] and first["close"] == covered[-1]["close"]
    assert first["high"] == max(c["high"] for c in covered) and first["low"] == min(c["low"] for c in covered)
    assert first["volume"] == sum(c["volume"] for c in covered)


def test_day_candles_and_open_interest(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    token = _token(kite, "NSE:INFY")
    days = kite.historical_data(token, date(2026, 10, 1), date(2026, 12, 31), "day", oi=True)
    assert days[0]["date"] == datetime(2026, 10, 1, 0, 0, tzinfo=IST)
    assert days[-1]["date"] == datetime(2026, 11, 23, 0, 0, tzinfo=IST)  # today so far, nothing later
    assert all("oi" in c for c in days)
    q = kite.quote("NSE:INFY")["NSE:INFY"]
    assert days[-1]["open"] == q["ohlc"]["open"] and days[-1]["close"] == q["last_price"]
    assert days[-2]["close"] == pytest.approx(q["ohlc"]["close"], abs=0.01)
    assert date(2026, 10, 2) not in {c["date"].date() for c in days}  # Gandhi Jayanti
    whole = kite.historical_data(token, "2026-11-20 09:15:00", "2026-11-20 15:30:00", "minute")
    friday = next(c for c in days if c["date"].date() == date(2026, 11, 20))
    assert friday["open"] == whole[0]["open"] and friday["close"] == whole[-1]["close"]
    assert friday["high"] == max(c["high"] for c in whole) and friday["low"] == min(c["low"] for c in whole)
    assert friday["volume"] == sum(c["volume"] for c in whole)
    index = kite.historical_data(256265, "2026-11-23", "2026-11-23", "minute")
    assert len(index) == 45 and index[0]["volume"] == 0


def test_historical_limits_and_bad_input(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    token = _token(kite, "NSE:INFY")
    for interval, days in (
        ("minute", 60),
        ("3minute", 100),
        ("5minute", 100),
        ("10minute", 100),
        ("15minute", 200),
        ("30minute", 200),
        ("60minute", 400),
        ("day", 2000),
    ):
        end = datetime(
            2024, 1, 3, tzinfo=IST
        )  # the generator starts 2024-01-01: the limit, not the data, is tested
        kite.historical_data(token, end - timedelta(days=days), end, interval)
        with pytest.raises(kex.InputException, match=f"{days} days"):
            kite.historical_data(token, end - timedelta(days=days + 1), end, interval)
    with pytest.raises(kex.InputException, match="interval"):
        kite.historical_data(token, "2026-11-20", "2026-11-23", "2minute")
    with pytest.raises(kex.InputException, match="token"):
        kite.historical_data(1, "2026-11-20", "2026-11-23", "minute")
    with pytest.raises(kex.InputException):
        kite.historical_data(token, "2026-11-23", "2026-11-20", "minute")
    with pytest.raises(kex.InputException, match="from"):
        kite.historical_data(token, "20/11/2026", "2026-11-23", "minute")
