"""tron.domain.exposure: the worst case reserves a slippage band beyond every stop."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from tests.support.domain import LIM
from tron.domain.models import Asset, Instrument, Side
from tron.domain.sizing import size_by_risk

DAY = date(2026, 11, 23)


def test_the_worst_case_reserves_a_slippage_band_beyond_every_stop() -> None:
    from tron.domain.exposure import position_worst_loss, worst_loss_of_entry
    from tron.domain.models import Position

    # 12 bps of a 26,000 stop on NIFTY futures: ₹31.20 a unit, ₹2,028 a lot of 65
    assert LIM.slippage("futures", 26000) == Decimal("31.2000")
    assert LIM.slippage("equity_intraday", 1000) == Decimal("2.5000")
    assert LIM.slippage("index", 1000) == 0
    fut = Instrument("NIFTY26DECFUT", "NFO", Asset.FUTURES, lot_size=65, segment="futures")
    bare = worst_loss_of_entry(fut, Side.BUY, 65, 26040.0, 26000.0, DAY)
    banded = worst_loss_of_entry(fut, Side.BUY, 65, 26040.0, 26000.0, DAY, LIM.slippage("futures", 26000))
    assert banded - bare == Decimal("2028.00")
    pos = Position("NIFTY26DECFUT", 65, Decimal("26040"), "orb", "", stop=26000.0, segment="futures")
    assert position_worst_loss(pos, DAY, LIM) - position_worst_loss(pos, DAY) == Decimal("2028.00")
    # sizing: the risk per trade is the loss at the stop; the headroom also has to hold the band
    kw: dict[str, Any] = dict(
        capital=Decimal("1000000"), risk_per_trade_pct=Decimal("1"), max_position_pct=100
    )
    assert size_by_risk(**kw, price=100, stop_distance=1, headroom=Decimal("1000")) == 1000
    assert size_by_risk(**kw, price=100, stop_distance=1, headroom=Decimal("1000"), slippage=1.0) == 500
