"""KiteBroker on a fake client: a protected market order followed to its end (partial fills), adopting an
order that reached Kite before a failure, token expiry, the preflight."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, time
from decimal import Decimal
from typing import Any

import pytest
import requests
from kiteconnect import exceptions as kex

from tests.support.fakes.kite import Clock, FakeClient, FakeTime, naive, session
from tests.support.logs import tron_records
from tron.adapters.kite import KiteBroker
from tron.config.settings import OPS_PER_DELIVERY, load_settings
from tron.domain.models import Asset, OrderIntent, Purpose, Side
from tron.domain.timeutil import ist
from tron.ports import BrokerUnavailable, OrderRejected

DAY = date(2026, 11, 23)


def intent(purpose: Purpose = Purpose.ENTRY, qty: int = 10) -> OrderIntent:
    return OrderIntent(
        intent_id=f"20261123-stocks-orb-INFY-{purpose}-1000",
        day=DAY,
        asset=Asset.STOCKS,
        symbol="INFY",
        exchange="NSE",
        side=Side.BUY,
        qty=qty,
        purpose=purpose,
        strategy="orb",
        reason="test",
        decided_at=ist(DAY, time(10, 0)),
    )


def hist(status: str, filled: int, qty: int = 10, price: float = 1500.55, oid: str = "O1") -> dict[str, Any]:
    return {
        "order_id": oid,
        "status": status,
        "quantity": qty,
        "filled_quantity": filled,
        "average_price": price if filled else 0,
        "order_timestamp": naive(10, 1),
        "exchange_timestamp": naive(10, 1, 2),
        "status_message": "",
        "tag": intent().tag,
    }


def broker(c: FakeClient, ft: FakeTime, **kw: Any) -> KiteBroker:
    return KiteBroker(session(c, ft), Clock(ist(DAY, time(10, 1))), sleep=ft.sleep, **kw)


def test_place_sends_a_protected_market_order_with_the_tag_and_follows_it() -> None:
    ft = FakeTime()
    c = FakeClient()
    c.histories["O1"] = [[hist("OPEN", 0)], [hist("COMPLETE", 10)]]
    o = broker(c, ft).place(intent())
    kw = c.calls[0][1]
    assert kw["market_protection"] == -1 and kw["order_type"] == "MARKET" and kw["product"] == "MIS"
    assert kw["tag"] == intent().tag and len(kw["tag"]) <= 20 and kw["variety"] == "regular"
    assert (o.status, o.filled_qty, o.avg_price) == ("COMPLETE", 10, Decimal("1500.55"))
    assert o.ts == ist(DAY, time(10, 1, 2))


def test_a_partial_fill_is_followed_then_the_rest_cancelled() -> None:
    ft = FakeTime()
    c = FakeClient()
    c.histories["O1"] = [[hist("OPEN", 4)]] * 3 + [[hist("CANCELLED", 4)]]
    o = broker(c, ft, follow_polls=3, poll_interval=0.5).place(intent())
    assert ("cancel_order", "O1") in c.calls
    assert (o.status, o.filled_qty) == ("CANCELLED", 4)
    assert ft.slept == [0.5, 0.5]


def test_an_order_cancelled_with_nothing_filled_is_a_rejection() -> None:
    ft = FakeTime()
    c = FakeClient()
    c.histories["O1"] = [[hist("OPEN", 0)], [hist("CANCELLED", 0)]]
    o = broker(c, ft, follow_polls=1).place(intent())
    assert o.status == "REJECTED" and o.filled_qty == 0 and "nothing filled" in o.message


def test_a_place_that_reached_kite_before_a_network_error_is_adopted_not_sent_again() -> None:
    ft = FakeTime()
    c = FakeClient({"place_order": [kex.NetworkException("gateway timeout", code=504)]})
    c.orders_book = [{**hist("COMPLETE", 10, oid="O9"), "tag": intent().tag}]
    c.histories["O9"] = [[hist("COMPLETE", 10, oid="O9")]]
    o = broker(c, ft).place(intent())
    assert o.order_id == "O9"
    assert [x[0] for x in c.calls].count("place_order") == 1


def test_a_429_on_place_is_sent_again_without_a_lookup() -> None:
    ft = FakeTime()
    c = FakeClient({"place_order": [kex.NetworkException("Too many requests", code=429), "O1"]})
    c.histories["O1"] = [[hist("COMPLETE", 10)]]
    assert broker(c, ft).place(intent()).status == "COMPLETE"
    names = [x[0] for x in c.calls]
    assert names.count("place_order") == 2 and "orders" not in names


def test_an_expired_token_refuses_entries_halts_the_day_and_keeps_exits_retrying() -> None:
    ft = FakeTime()
    expired = kex.TokenException("Token is invalid or has expired.", code=403)
    halts: list[str] = []
    c = FakeClient({"place_order": [expired, expired]})
    b = broker(c, ft, on_token_expired=halts.append)
    with pytest.raises(OrderRejected, match="session expired"):
        b.place(intent(Purpose.ENTRY))
    with pytest.raises(BrokerUnavailable):  # TokenExpired: the exit is delivered again
        b.place(intent(Purpose.EXIT))
    assert len(halts) == 2 and "TokenException" in halts[0]


def test_find_by_tag_adopts_only_todays_order_with_that_tag() -> None:
    ft = FakeTime()
    c = FakeClient()
    c.orders_book = [{**hist("COMPLETE", 10, oid="O2"), "tag": "other"}, hist("COMPLETE", 10, oid="O3")]
    c.histories["O3"] = [[hist("COMPLETE", 10, oid="O3")]]
    b = broker(c, ft)
    assert b.find_by_tag(DAY, intent().tag).order_id == "O3"
    assert b.find_by_tag(DAY, "Tnope") is None
    assert b.find_by_tag(date(2026, 11, 20), intent().tag) is None


def test_preflight_says_why_the_session_is_unusable() -> None:
    ft = FakeTime()
    assert broker(FakeClient(), ft).preflight() is None
    c = FakeClient({"profile": [kex.TokenException("Token is invalid or has expired.", code=403)]})
    assert "TokenException" in broker(c, ft).preflight()
    nob = KiteBroker(session(FakeClient(), ft, token=None), Clock(ist(DAY, time(9))))
    assert "TokenException: no Kite access token" in nob.preflight()


class HungClient(FakeClient):
    """Kite hanging: every call takes the whole 7 s timeout, then fails as a read timeout."""

    def __init__(self, ft: FakeTime, hang_from: str = "") -> None:
        super().__init__()
        self.ft = ft
        self.hang_from = hang_from  # hang from this call on ("" = from the first)

    def __getattribute__(self, name: str) -> Any:
        kite_calls = ("place_order", "modify_order", "order_history", "orders", "ltp", "cancel_order")
        if name not in kite_calls:
            return super().__getattribute__(name)

        def call(*a: Any, **kw: Any) -> Any:
            if self.hang_from and name != self.hang_from:
                return super(HungClient, self).__getattribute__(name)(*a, **kw)
            self.hang_from = ""
            self.ft.t += 7.0
            raise requests.Timeout("read timed out")

        return call


@pytest.mark.parametrize(
    ("operation", "hang_from"),
    [("place", ""), ("place", "order_history"), ("convert", ""), ("modify", ""), ("find_by_tag", "")],
)
def test_an_order_operation_against_a_hung_kite_is_over_by_its_budget_and_one_timeout(
    operation: str, hang_from: str
) -> None:
    """However Kite hangs (the request itself, or the reads that follow an accepted order), an operation
    starts no call past its budget: it raises BrokerUnavailable by budget + one timeout + one poll, the bound
    the executor's placing lease is sized from (three such operations per delivery, at most)."""
    ft = FakeTime()
    c = HungClient(ft, hang_from)
    c.histories["O1"] = [[hist("TRIGGER PENDING", 0)]]
    s = session(c, ft, retries=10, monotonic=ft.monotonic)
    b = KiteBroker(s, Clock(ist(DAY, time(10, 1))), sleep=ft.sleep, order_budget=5.0, poll_interval=0.2)
    trail = replace(intent(Purpose.TRAIL), order_type="SL-M", trigger=1490.0)
    calls = {
        "place": lambda: b.place(intent()),
        "convert": lambda: b.convert("O1", intent(Purpose.EXIT)),
        "modify": lambda: b.modify("O1", trail),
        "find_by_tag": lambda: b.find_by_tag(DAY, "T1"),
    }
    with pytest.raises(BrokerUnavailable):
        calls[operation]()
    assert ft.t - 100.0 <= 5.0 + 7.0 + 0.2
    settings = load_settings(kite={"order_budget_s": 5.0, "timeout_s": 7.0, "poll_interval_s": 0.2})
    assert settings.kite.placing_lease_s > OPS_PER_DELIVERY * (5.0 + 7.0 + 0.2)


def test_the_account_reads_skip_orders_kite_sends_malformed_and_say_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An order row without its side, symbol or id, or with a side Kite does not have, is left out of the
    fills and working orders TRON reads from the account (a WARNING), never a failed tick."""
    ft, c = FakeTime(), FakeClient()
    manual = {
        **hist("COMPLETE", 10, oid="M1"),
        "tag": None,
        "tradingsymbol": "INFY",
        "transaction_type": "SELL",
    }
    waiting = {**hist("OPEN", 0, oid="M2"), "tag": None, "tradingsymbol": "INFY", "transaction_type": "BUY"}
    bad = [
        {k: v for k, v in manual.items() if k != "transaction_type"},
        {**manual, "transaction_type": "SHORT"},
        {k: v for k, v in waiting.items() if k != "tradingsymbol"},
        {**waiting, "order_id": None},
        "not an order",
    ]
    c.orders_book = [manual, waiting, *bad]
    c.gtts = [{"id": 9, "status": "active", "condition": {"tradingsymbol": "ITC"}}, {"status": "active"}]
    b = broker(c, ft)
    with tron_records() as logs:
        assert [(f.order_id, f.side, f.qty) for f in b.external_fills(DAY)] == [("M1", Side.SELL, 10)]
    assert [(w.order_id, w.symbol, w.kind) for w in b.working_orders()] == [
        ("M2", "INFY", "order"),
        ("9", "ITC", "gtt"),
    ]
    assert len(logs.at("WARNING", "a malformed row from Kite left out")) == 3


def test_a_fill_of_nothing_or_at_no_price_is_never_adopted() -> None:
    """A COMPLETE order without a tag that reports no quantity or no price is malformed: left out."""
    ft, c = FakeTime(), FakeClient()
    manual = {
        **hist("COMPLETE", 10, oid="M1"),
        "tag": None,
        "tradingsymbol": "INFY",
        "transaction_type": "SELL",
    }
    c.orders_book = [{**manual, "filled_quantity": 0}, {**manual, "average_price": -5}, manual]
    with tron_records() as logs:
        assert [f.order_id for f in broker(c, ft).external_fills(DAY)] == ["M1"]
    assert len(logs.at("WARNING", "a malformed row from Kite left out")) == 2
